"""Request ids: every request gets one, echoed as X-Request-ID and written into its audit events."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.audit import current_request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


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
