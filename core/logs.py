"""Structured logs: one JSON object per line, each with the request's or the task's id, and no
secret in any of them.

The id is the one the audit trail records (``core.request_context.current_request_id``: a request's
``X-Request-ID``, or ``task:<celery task id>`` in a worker), so a log line and the audit events
of the same request or task can be joined. ``ASSAY_LOG_FORMAT=text`` gives the same fields as
plain lines for people reading a terminal.

Secrets are removed from every line, whatever logged them: API and application tokens
(``assay_…``), ``Authorization`` and ``Cookie`` values, and ``password=`` / ``secret=`` /
``token=`` pairs, in the message, its arguments and the traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from core.request_context import current_request_id

REDACTED = "[redacted]"
# A personal or application token (assay_<prefix>_<secret>), an Authorization/Cookie header's
# value, and key=value or "key": "value" pairs whose key names a secret.
_SECRETS = (
    re.compile(r"\bassay_[A-Za-z0-9]+_[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\b((?:authorization|cookie|set-cookie)\s*[:=]\s*)[^\r\n,;}]+"),
    re.compile(r"(?i)(\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|sessionid|csrftoken)"
               r"[\w-]*[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"),
)


def redact(text: str) -> str:
    """``text`` with every secret the patterns above know replaced by ``[redacted]``."""
    text = _SECRETS[0].sub(REDACTED, text)
    for pattern in _SECRETS[1:]:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RequestContextFilter(logging.Filter):
    """Puts the current request or task id on the record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, request_id, message, and
    the traceback when there is one; all redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "") or current_request_id.get() or None,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The same fields as plain text, redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", "") or current_request_id.get() or "-"
        return redact(super().format(record))


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """Django's LOGGING for ``fmt`` 'json' or 'text'; Celery's workers use it too
    (``CELERY_WORKER_HIJACK_ROOT_LOGGER = False``)."""
    if fmt not in ("json", "text"):
        raise ImproperlyConfigured(f"ASSAY_LOG_FORMAT is {fmt!r}; use 'json' or 'text'.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestContextFilter}},
        "formatters": {"json": {"()": JsonFormatter}, "text": {"()": TextFormatter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": fmt,
                                 "filters": ["request"]}},
        "root": {"handlers": ["console"], "level": level},
        # Django's request logger repeats what the access log and the metrics say, with the
        # request's headers in its record: keep it, but through the same redacting handler.
        "loggers": {"django": {"handlers": ["console"], "level": level, "propagate": False}},
    }
