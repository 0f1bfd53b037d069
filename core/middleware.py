"""Request ids: every request gets one, echoed as X-Request-ID and written into its audit events."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.audit import current_request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RejectNulMiddleware:
    """400 for a NUL character in the path, query string or a header.

    PostgreSQL cannot store or compare text with NUL, so such a value would fail deep in a query
    as a 500. Form and serializer fields refuse NUL in bodies already (Django's and DRF's
    ProhibitNullCharactersValidator); this covers what they never see.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = _nul_in(request)
        if where:
            message = (f"The request's {where} contains a NUL character (%00), which Assay "
                       "does not accept anywhere; remove it and send the request again.")
            if request.path.startswith("/api/"):
                from django.http import JsonResponse

                from core.api.errors import error_body

                return JsonResponse(error_body(message, "invalid"), status=400)
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def _nul_in(request: HttpRequest) -> str:
    if "\x00" in request.path:
        return "path"
    if "\x00" in request.META.get("QUERY_STRING", "") or any(
            "\x00" in key or "\x00" in value for key, value in request.GET.items()):
        return "query string"
    if any("\x00" in value for key, value in request.META.items()
           if key.startswith("HTTP_") and isinstance(value, str)):
        return "headers"
    return ""


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A caller's id is kept only if it is well-formed; anything else is replaced, never echoed.
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class DomainErrorMiddleware:
    """Pages: a DomainError that escapes a view becomes its status with the message shown.

    Permission refusals are also recorded as security events (in their own transaction, after the
    view's transaction has rolled back).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.shortcuts import render

        from core.errors import DomainError, PermissionRefused

        if not isinstance(exception, DomainError):
            return None
        if isinstance(exception, PermissionRefused) and not exception.recorded:
            record_denial(request, exception.message)
        return render(request, "error.html", {"status": exception.status,
                                              "message": exception.message},
                      status=exception.status)


def record_denial(request: HttpRequest, message: str) -> None:
    from core.audit import record_security

    user = getattr(request, "user", None)
    principal = user.username if user is not None and user.is_authenticated else "anonymous"
    record_security(action="security.permission_denied", principal=principal,
                    reason="permission_denied",
                    actor=user if user is not None and user.is_authenticated else None,
                    payload={"path": request.path[:200], "method": request.method,
                             "message": message})
