"""Periodic (Celery beat) tasks that run once per interval however often they are sent.

Beat sends each scheduled task at its interval; two beats (a second one started by mistake, or
the old one still alive during a redeploy) or a beat restarted without its schedule file send it
again. Every periodic task is declared with :func:`periodic_task`, which claims the run before
doing the work, the way evaluation runs are claimed (STYLE.md, the lease): one conditional update
of the task's :class:`~core.models.PeriodicRun` row, and the work runs only if it changed the row.
The update succeeds when the last run started at least ``SPACING`` of the interval ago and is
finished or its lease ran out (its worker died). So a duplicate delivery does nothing, a run is
never started while another one of the same task may still be alive, and a single beat is never
held back (its sends are a whole interval apart).

Calling the task as a function (tests, a shell) does the work without claiming anything.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from core.models import PeriodicRun

logger = logging.getLogger(__name__)

# A delivery this soon after the last run (a share of the interval) is a duplicate. Below 1 so
# that a beat sending a little early or a worker taking the message a little late never skips.
SPACING = 0.9
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def interval_of(task_name: str) -> float | None:
    """Seconds between the sends of ``task_name`` in ``CELERY_BEAT_SCHEDULE`` (None: not
    scheduled, or not on a fixed interval)."""
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        if entry["task"] != task_name:
            continue
        schedule = entry["schedule"]
        if isinstance(schedule, int | float):
            return float(schedule)
        if isinstance(schedule, dt.timedelta):
            return schedule.total_seconds()
        run_every = getattr(schedule, "run_every", None)  # celery.schedules.schedule
        return run_every.total_seconds() if isinstance(run_every, dt.timedelta) else None
    return None


def periodic_claim(*, task_name: str, interval_s: float, lease_s: float,
                   now: dt.datetime | None = None) -> dt.datetime | None:
    """Claim the next run of ``task_name``: its start time if this delivery may do the work,
    None if a run started less than ``SPACING * interval_s`` ago or one may still be running
    (unfinished, its lease of ``lease_s`` not over)."""
    now = now or timezone.now()
    PeriodicRun.objects.get_or_create(
        task=task_name,
        defaults={"started_at": _EPOCH, "finished_at": _EPOCH, "lease_expires_at": _EPOCH})
    claimed = PeriodicRun.objects.filter(
        Q(finished_at__isnull=False) | Q(lease_expires_at__lt=now), task=task_name,
        started_at__lte=now - dt.timedelta(seconds=interval_s * SPACING),
    ).update(started_at=now, finished_at=None, lease_expires_at=now + dt.timedelta(seconds=lease_s),
             runs=F("runs") + 1)
    if claimed:
        return now
    PeriodicRun.objects.filter(task=task_name).update(skipped=F("skipped") + 1)
    return None


def periodic_finish(*, task_name: str, started_at: dt.datetime) -> None:
    """Mark the run that started at ``started_at`` finished (unless another took it over)."""
    PeriodicRun.objects.filter(task=task_name, started_at=started_at).update(
        finished_at=timezone.now())


def periodic_task(name: str, **options: Any) -> Callable[[Callable[[], Any]], Task]:
    """``@shared_task(name=name, **options)`` for a task in ``CELERY_BEAT_SCHEDULE``: a delivery
    does the work only if it claims the run (:func:`periodic_claim`); the lease is the task's hard
    time limit, after which its worker has surely stopped."""

    def decorate(work: Callable[[], Any]) -> Task:
        def run(self: Task) -> Any:
            interval_s = interval_of(name)
            if self.request.called_directly or interval_s is None:
                return work()
            lease_s = float(self.time_limit or settings.CELERY_TASK_TIME_LIMIT)
            started_at = periodic_claim(task_name=name, interval_s=interval_s, lease_s=lease_s)
            if started_at is None:
                logger.info("%s: not run, a run started less than %.0f%% of its interval "
                            "(%.0f s) ago or is still running", name, SPACING * 100, interval_s)
                return None
            try:
                return work()
            finally:
                periodic_finish(task_name=name, started_at=started_at)

        run.__doc__ = work.__doc__
        run.__name__ = work.__name__
        run.__module__ = work.__module__
        run.__qualname__ = work.__qualname__
        return shared_task(name=name, bind=True, once_per_interval=True, **options)(run)

    return decorate
