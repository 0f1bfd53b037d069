"""REST API authentication with personal API tokens: ``Authorization: Token assay_…``."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.models import ApiToken, User

if TYPE_CHECKING:
    # Not at run time: drf-spectacular's openapi imports DRF's views, whose settings import
    # this module (DEFAULT_AUTHENTICATION_CLASSES).
    from drf_spectacular.openapi import AutoSchema

# Writing last_used_at on every call would make each read a write; once a minute is plenty.
LAST_USED_RESOLUTION_S = 60
INVALID = ("Invalid API token: check that you sent the whole token as 'Authorization: Token "
           "assay_...', or create a new one on the API tokens page.")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace") not in (self.keyword, "Bearer"):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header; send 'Authorization: Token <your token>'."
            )
        token = header[1].decode(errors="replace")
        parts = token.split("_")
        if len(parts) < 3 or parts[0] != "assay":
            raise exceptions.AuthenticationFailed(INVALID)
        row = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
        if row is None or not hmac.compare_digest(row.digest, ApiToken.digest_of(token)):
            raise exceptions.AuthenticationFailed(INVALID)
        if not row.user.is_active:
            # Checked first: a deactivated account's tokens must not read as merely "active".
            raise exceptions.AuthenticationFailed(
                "The account this API token belongs to is deactivated; its tokens no longer work."
            )
        if not row.is_usable:
            raise exceptions.AuthenticationFailed(
                f"This API token is {row.status}; create a new one on the API tokens page."
            )
        now = timezone.now()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_RESOLUTION_S:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        return row.user, row

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


# drf-spectacular registers the subclass in its __init_subclass__, which it leaves unannotated.
class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "core.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Personal API token: `Token assay_...`"}
