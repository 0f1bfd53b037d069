"""The OpenAPI schema says what the API answers: every operation documents its error responses
in the one error shape, and a read-only field that can be null is declared nullable.

``AutoSchema`` (settings: ``DEFAULT_SCHEMA_CLASS``) adds to each operation the errors that apply
to it, unless the operation documents that status itself:

* 400, 401, 403 on every operation (a malformed request: a NUL in the path, query or a header
  is refused before any view runs; every operation needs a signed-in user; a refusal);
* 404 on operations that name an object in their path, and on lists (a page past the end);
* 409, 413, 415 on writes (a state that does not allow it; a body over the limit; a media type
  the operation does not take);
* 429 on the actions a view names in ``may_throttle`` (password re-entry, throttled per account).
"""

from __future__ import annotations

from typing import Any, Literal

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

ERRORS = {
    400: "Invalid request: `fields` names each bad field (a NUL character, a text over its "
         "limit, an unknown field, a malformed value or query parameter).",
    401: "Not signed in: send `Authorization: Token assay_...` or a session cookie.",
    403: "Refused: `detail` says why (the role or independence it needs; auditors only read).",
    404: "Not found: it does not exist or you may not see it (or a page past the last).",
    409: "Conflict: the object's state does not allow this now, or the name is taken.",
    413: "The request body is over the size limit.",
    415: "Unsupported media type: send the body as the operation documents it.",
    429: "Too many wrong passwords: wait, then try again.",
}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class ErrorSerializer(serializers.Serializer[Any]):
    """The one error shape of the API."""

    detail = serializers.CharField(help_text="What is wrong and how to fix it, for people.")
    code = serializers.CharField(help_text="A stable code: invalid, not_authenticated, "
                                           "permission_denied, not_found, conflict, …")
    # The error shape's key; DRF's metaclass takes declared fields off the class, so this does
    # not shadow Serializer.fields at run time.
    fields = serializers.DictField(  # type: ignore[assignment]
                                   child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Field → its messages; empty when no single field "
                                             "is to blame.")

    class Meta:
        ref_name = "Error"


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction: Literal["request", "response"] = "response"
                             ) -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            if str(status) not in responses:
                # drf-spectacular's private helpers carry no annotations.
                responses[str(status)] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    OpenApiResponse(ErrorSerializer, description=ERRORS[status]), str(status),
                    direction=direction)
        return responses

    def _error_statuses(self) -> list[int]:
        statuses = [400, 401, 403]
        if "{" in self.path or (self.method == "GET" and self._is_list_view()):
            statuses.append(404)
        if self.method in WRITES:
            statuses += [409, 413]
            if self.method != "DELETE":
                statuses.append(415)
        if getattr(self.view, "action", None) in getattr(self.view, "may_throttle", ()):
            statuses.append(429)
        return statuses

    def _map_serializer_field(self, field: Any, direction: str,
                              bypass_extensions: bool = False) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(  # type: ignore[no-untyped-call]
            field, direction, bypass_extensions)  # untyped in drf-spectacular
        if (field.read_only and not field.allow_null and "$ref" not in schema
                and _nullable_source(field)):
            schema["nullable"] = True
        return schema


def _nullable_source(field: Any) -> bool:
    """Whether a read-only field's source passes through a column or relation that may be
    null (``resolved_by``, ``version.validator.username``): its value may then be null."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or field.source == "*":
        return False
    for name in field.source.split("."):
        try:
            column = model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        if column.one_to_many or column.many_to_many:  # a list, never null
            return False
        if column.null:
            return True
        model = column.related_model
        if model is None:
            return False
    return False
