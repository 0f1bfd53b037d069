"""How Assay answers while a service it depends on is down (docs/outages.md).

The database unreachable (stopped, restarting, a connection the restart killed) surfaces as
``OperationalError`` or ``InterfaceError`` wherever a query runs. Nothing is written half-way:
every write is a service's ``transaction.atomic()``, which the error rolls back. The request is
answered 503 with ``Retry-After``: in the API's error shape under ``/api/``, elsewhere a plain page
rendered without touching the database (no user, no navigation).
"""

from __future__ import annotations

import logging
from typing import TypeGuard

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from core.errors import Unavailable, error_body

logger = logging.getLogger(__name__)

DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
DATABASE_MESSAGE = ("Assay's database cannot be reached right now (restarting or under "
                    "maintenance); nothing was changed. Send the request again in a few seconds.")


def is_outage(exc: BaseException | None) -> TypeGuard[BaseException]:
    """Whether ``exc`` means a service is briefly down rather than a bug."""
    return isinstance(exc, (*DATABASE_ERRORS, Unavailable))


def as_unavailable(exc: BaseException) -> Unavailable:
    """The outage ``exc`` as the DomainError it is answered with (status, message, Retry-After)."""
    if isinstance(exc, Unavailable):
        return exc
    logger.warning("database unavailable: %s", exc)
    return Unavailable(DATABASE_MESSAGE)


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 (or 507) answer to a request that met an outage, for pages and the API alike."""
    error = as_unavailable(exc)
    status, code, message, retry = error.status, error.code, error.message, error.retry_after
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(message, code), status=status)
    else:
        response = HttpResponse(render_to_string("unavailable.html", {"message": message}),
                                status=status)
    response["Retry-After"] = str(retry)
    return response
