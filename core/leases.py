"""The lease (STYLE.md): how a worker takes a job row, keeps it while it works, and how beat's
reaper sends again what nobody took or what a dead worker left.

Evaluation runs, row explanations, report exports and MLflow imports are such rows: a state
field that goes queued → running → finished, ``attempts``, ``lease_expires_at``, ``queued_at``
(when the task was last sent), ``started_at``, ``progress`` and ``step``. A worker goes on only
if its one conditional update took the row; while it works it renews the lease with each
progress report, and stops as soon as a renewal finds the row no longer this attempt's
(cancelled, or taken over after the lease ran out). Each app keeps what differs — its audit
events, its failure messages, how it sends a task — and calls these for the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone


@dataclass(frozen=True)
class Lease:
    """How one kind of job row is leased: its model, the name and values of its state field,
    and the names of the settings giving the lease's length, the attempts a row may use, and
    how long a queued row waits before its task is sent again."""

    model: type[models.Model]
    state_field: str
    queued: str
    running: str
    lease_s_setting: str
    max_attempts_setting: str
    requeue_after_s_setting: str

    def length(self) -> dt.timedelta:
        return dt.timedelta(seconds=getattr(settings, self.lease_s_setting))

    def max_attempts(self) -> int:
        return int(getattr(settings, self.max_attempts_setting))

    def take(self, pk: int, *, now: dt.datetime | None = None, **changes: Any) -> bool:
        """Take the row for this delivery: queued, or running with its lease run out (its worker
        died), and attempts left. True if this delivery took it (and should do the work)."""
        now = now or timezone.now()
        state = self.state_field
        return bool(self.model._default_manager.filter(pk=pk)
                    .filter(Q(**{state: self.queued})
                            | Q(**{state: self.running, "lease_expires_at__lt": now}))
                    .filter(attempts__lt=self.max_attempts())
                    .update(**{state: self.running}, attempts=F("attempts") + 1,
                            lease_expires_at=now + self.length(),
                            started_at=Coalesce(F("started_at"), now),
                            progress=1, step="Starting", **changes))

    def held(self, pk: int, attempt: int) -> models.QuerySet[Any]:
        """The row, if it is still running under this attempt."""
        return self.model._default_manager.filter(pk=pk, attempts=attempt,
                                                  **{self.state_field: self.running})

    def renew(self, pk: int, attempt: int, **changes: Any) -> bool:
        """Renew the lease (with ``changes``, e.g. progress); False when the row is no longer
        this attempt's, and the worker must stop."""
        return bool(self.held(pk, attempt).update(
            lease_expires_at=timezone.now() + self.length(), **changes))

    def is_expired(self, row: Any, now: dt.datetime) -> bool:
        """Whether ``row`` is running with its lease run out."""
        return (getattr(row, self.state_field) == self.running
                and row.lease_expires_at is not None and row.lease_expires_at < now)

    def resend_waiting(self, send: Callable[[int], None], now: dt.datetime) -> int:
        """Send again the task of each row still queued ``requeue_after_s`` after it was last
        sent (the broker was down, or lost the message); the count sent. Each row is marked
        before it is sent, so two reapers (a beat started twice) do not both send it, and a
        duplicate delivery finds the row taken and does nothing."""
        cutoff = now - dt.timedelta(seconds=getattr(settings, self.requeue_after_s_setting))
        waiting = self.model._default_manager.filter(**{self.state_field: self.queued},
                                                     queued_at__lt=cutoff)
        sent = 0
        for pk in waiting.values_list("pk", flat=True):
            if waiting.filter(pk=pk).update(queued_at=now):
                send(pk)
                sent += 1
        return sent

    def expired(self, now: dt.datetime) -> list[tuple[int, int]]:
        """(pk, attempts) of the rows running with their lease run out: their worker stopped
        renewing it. The reaper sends each again, or fails it once it used its attempts."""
        return list(self.model._default_manager.filter(
            **{self.state_field: self.running}, lease_expires_at__lt=now)
            .values_list("pk", "attempts"))
