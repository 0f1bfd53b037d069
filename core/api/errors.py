"""One error shape for the whole API.

Every error answers ``{"detail": "<what is wrong and how to fix it>", "code": "<code>",
"fields": {"<field>": ["<message>", ...]}}``; ``fields`` is empty when no single field is to blame.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.audit import record_denial
from core.errors import (
    DomainError,
    PermissionRefused,
    StoredFileDamaged,
    Unavailable,
    error_body,
)
from core.middleware import record_damaged_file
from core.outage import as_unavailable, is_outage


def _flatten(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [f"{k}: {m}" for k, v in data.items() for m in _flatten(v)]
    if isinstance(data, list):
        return [m for item in data for m in _flatten(item)]
    return [str(data)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if is_outage(exc):
        # The database (or another service) is down: 503 with Retry-After, in the error shape.
        exc = as_unavailable(exc)
    if isinstance(exc, Unavailable):
        return Response(error_body(exc.message, exc.code), status=exc.status,
                        headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, DomainError):
        if isinstance(exc, PermissionRefused) and not exc.recorded:
            record_denial(request, exc.message)
        if isinstance(exc, StoredFileDamaged) and request is not None:
            record_damaged_file(request, exc)
        return Response(error_body(exc.message, exc.code, exc.fields), status=exc.status)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        # ObjectDoesNotExist: a row read earlier in the request was deleted by a concurrent one
        # before a service locked it.
        exc = exceptions.NotFound("Not found: it does not exist or you may not see it.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.PermissionDenied) and request is not None:
        record_denial(request, str(exc.detail))  # refused by a DRF permission class
    if isinstance(exc, exceptions.ValidationError):
        data = exc.detail
        if isinstance(data, dict):
            fields = {k: _flatten(v) for k, v in data.items()}
            general = fields.pop("non_field_errors", [])
            summary = "; ".join(general) or "Some fields are invalid: " + ", ".join(fields) + "."
        else:
            fields, summary = {}, "; ".join(_flatten(data))
        response.data = error_body(summary, "invalid", fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(exc, "default_code", "error")
        if isinstance(detail, dict | list):
            detail = "; ".join(_flatten(detail))
        response.data = error_body(str(detail), code)
    if response.status_code == status.HTTP_400_BAD_REQUEST and isinstance(exc, exceptions.ParseError):
        response.data["detail"] = f"{exc.detail} Send a valid JSON body with Content-Type: application/json."
    return response
