"""The prediction log, written off the request path.

A request that is sampled (``GATEWAY_LOG_SAMPLE_RATE``) hands its inputs and outputs to this
worker's writer, a background thread that redacts them (fields dropped or replaced by an HMAC, as
configured) and inserts them in batches every ``GATEWAY_LOG_FLUSH_MS``. Rows older than the
retention period are deleted by the writer once an hour. If the writer falls behind, entries
beyond ``MAX_PENDING`` are dropped and counted (``assay_gateway_log_dropped_total``): monitoring
must never slow predictions down.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from serving.gateway.metrics import LOG_DROPPED
from serving.models import PredictionLog

logger = logging.getLogger("assay.gateway")

MAX_PENDING = 50_000
BATCH = 1000
PURGE_EVERY_S = 3600.0


class Redactor:
    """Drops some input fields and replaces others by an HMAC-SHA256 keyed with a secret (a
    plain hash of a small value space — an age, a postcode — is reversed by trying them all)."""

    def __init__(self, drop: Iterable[str], hmac_fields: Iterable[str], secret: str) -> None:
        self.drop = frozenset(drop)
        self.hmac_fields = frozenset(hmac_fields) - self.drop
        self.secret = secret.encode()

    def mask(self, value: Any) -> str:
        text = json.dumps(value, sort_keys=True, default=str)
        return "hmac-sha256:" + hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        if not self.drop and not self.hmac_fields:
            return record
        return {name: (self.mask(value) if name in self.hmac_fields else value)
                for name, value in record.items() if name not in self.drop}


def configured_redactor() -> Redactor:
    return Redactor(settings.GATEWAY_LOG_DROP_FIELDS, settings.GATEWAY_LOG_HMAC_FIELDS,
                    settings.GATEWAY_LOG_HMAC_SECRET)


def purge(*, now: dt.datetime | None = None) -> int:
    """Delete prediction log rows older than the retention period; return how many."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.GATEWAY_LOG_RETENTION_DAYS)
    deleted, _ = PredictionLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted


class Writer:
    """One worker's background writer of prediction log rows."""

    def __init__(self, *, background: bool = True) -> None:
        self.background = background  # False: the caller flushes (tests, in one transaction)
        self.pending: collections.deque[dict[str, Any]] = collections.deque()
        self.redactor = configured_redactor()
        self.pid = 0
        self._lock = threading.Lock()
        self._last_purge = 0.0

    def submit(self, entry: dict[str, Any]) -> None:
        """Queue one row's fields (inputs are a list of records). Never blocks."""
        if len(self.pending) >= MAX_PENDING:
            LOG_DROPPED.inc()
            return
        self.pending.append(entry)
        if self.background and self.pid != os.getpid():
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()
            threading.Thread(target=self._run, name="gateway-prediction-log", daemon=True).start()

    def flush(self) -> int:
        """Write what is pending; return how many rows were written."""
        written = 0
        while self.pending:
            batch: list[PredictionLog] = []
            while self.pending and len(batch) < BATCH:
                entry = self.pending.popleft()
                entry["inputs"] = [self.redactor.record(r) for r in entry["inputs"]]
                batch.append(PredictionLog(**entry))
            PredictionLog.objects.bulk_create(batch)
            written += len(batch)
        if time.monotonic() - self._last_purge > PURGE_EVERY_S:
            self._last_purge = time.monotonic()
            purge()
        return written

    def _run(self) -> None:
        while True:
            time.sleep(settings.GATEWAY_LOG_FLUSH_MS / 1000)
            try:
                self.flush()
            except Exception:
                logger.exception("gateway: writing the prediction log failed")
                close_old_connections()
