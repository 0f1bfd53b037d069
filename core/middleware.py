"""Request ids: every request gets one, echoed as X-Request-ID and written into its audit events."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

from core.audit import current_request_id, record_denial, record_request_event
from core.errors import DomainError, PermissionRefused, StoredFileDamaged, error_body
from core.http import AssayHttpRequest
from core.outage import is_outage, unavailable_response

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestGuardMiddleware:
    """Refuse malformed requests at the edge, with a 4xx that says what is wrong.

    * A NUL character in the path, query string or a header: PostgreSQL cannot store or compare
      text with NUL, so it would fail deep in a query as a 500. (Form and serializer fields refuse
      NUL in bodies already: Django's and DRF's ProhibitNullCharactersValidator.)
    * A non-multipart body over DATA_UPLOAD_MAX_MEMORY_SIZE: Django enforces that limit only for
      form bodies it parses itself, not for JSON read by the REST API. Multipart uploads are
      capped per file by core.uploads.CappedUploadHandler instead.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = _nul_in(request)
        if where:
            return refusal_response(request, 400, (
                f"The request's {where} contains a NUL character (%00), which Assay does not "
                "accept anywhere; remove it and send the request again."))
        if _body_too_large(request):
            return refusal_response(request, 413, (
                f"The request body is larger than {filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}; "
                "send less data (files go in multipart uploads, which have their own limits)."))
        return self.get_response(request)


def refusal_response(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """An error answer in the API's error shape under /api/, as plain text elsewhere."""
    if request.path.startswith("/api/"):
        code = {404: "not_found", 413: "request_too_large",
                500: "server_error"}.get(status, "invalid")
        return JsonResponse(error_body(message, code), status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


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


def _body_too_large(request: HttpRequest) -> bool:
    if request.content_type == "multipart/form-data":
        return False
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: AssayHttpRequest) -> HttpResponse:
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
    """Pages: a DomainError that escapes a view becomes its status with the message shown; an
    outage (the database unreachable, core.outage) the plain "briefly unavailable" page.

    Permission refusals are also recorded as security events (in their own transaction, after the
    view's transaction has rolled back).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_outage(exception):  # the database or another service is down: 503, Retry-After
            return unavailable_response(request, exception)
        if not isinstance(exception, DomainError):
            return None
        if isinstance(exception, PermissionRefused) and not exception.recorded:
            record_denial(request, exception.message)
        if isinstance(exception, StoredFileDamaged):
            record_damaged_file(request, exception)
        response = render(request, "error.html", {"status": exception.status,
                                                  "message": exception.message},
                          status=exception.status)
        response.error_code = exception.code  # type: ignore[attr-defined]  # core.metrics
        return response


def record_damaged_file(request: HttpRequest, exc: StoredFileDamaged) -> None:
    """A download met a missing or altered file: a security event (who asked, which file)."""
    record_request_event(request, action="security.stored_file_damaged", reason=exc.reason,
                         payload={"sha256": exc.sha256})
