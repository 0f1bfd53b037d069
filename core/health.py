"""``/healthz`` and ``/readyz`` for load balancers and orchestrators: cheap, unauthenticated, and
revealing nothing but each part's name and whether it works (docs/outages.md).

``/healthz`` answers 200 while the process can answer at all; it touches nothing else, so a
database outage never makes an orchestrator restart healthy web processes. ``/readyz`` checks what
a request needs: the database, the broker, the file store and the signing keys, each named in the
answer, 200 when all work and 503 (with ``Retry-After``) when one does not.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.models import SigningKey

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_S = 2.0


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _broker() -> str:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_S)
    return "ok"


def _signing_keys() -> str:
    folder = Path(settings.KEY_DIR)
    unreadable = [key.keyid for key in SigningKey.objects.active()
                  if not os.access(folder / f"{key.keyid}.pem", os.R_OK)]
    if unreadable:
        return f"{len(unreadable)} active signing key file(s) missing or unreadable"
    return "ok"


# The file store's check ("storage") is added by the registry, which owns the store.
CHECKS: dict[str, Callable[[], str]] = {
    "database": _database, "broker": _broker, "signing_keys": _signing_keys,
}


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and answering."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Each part a request needs, by name: ``ok`` or what is wrong (never a host or a secret)."""
    parts: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            parts[name] = check()
        except Exception as exc:  # any failure of a part is that part's answer, never a 500
            logger.warning("readiness: %s is not ready: %r", name, exc)
            parts[name] = f"unavailable ({type(exc).__name__})"
    ready = all(state == "ok" for state in parts.values())
    response = JsonResponse({"status": "ok" if ready else "unavailable", "checks": parts},
                            status=200 if ready else 503)
    if not ready:
        response["Retry-After"] = "5"
    return response
