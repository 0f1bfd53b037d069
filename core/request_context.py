"""The id of the request or task being served, for the audit trail and the logs.

Set per request by ``core.middleware.RequestIdMiddleware`` and per task by
``core.audit.task_context`` (config/celery.py). A module of its own, importing nothing of
Django's models, so the logging configuration can read it before the apps are loaded.
"""

from __future__ import annotations

import contextvars

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "assay_request_id", default=""
)
