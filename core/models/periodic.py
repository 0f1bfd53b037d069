"""The last run of each periodic (Celery beat) task, by which a run claims its slot."""

from __future__ import annotations

from django.db import models


class PeriodicRun(models.Model):
    """One row per periodic task: when its last run started and finished, and the lease it
    holds while running (``core.periodic``). A delivery of the task runs the work only if it
    moves ``started_at`` forward by a conditional update, so two beats, or a restarted beat
    sending again, run the work once per interval."""

    task = models.CharField(max_length=200, unique=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField()
    runs = models.PositiveBigIntegerField(default=0)
    skipped = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.task} (last started {self.started_at:%Y-%m-%d %H:%M:%S})"
