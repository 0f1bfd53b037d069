"""REST API authentication with an application key (``Authorization: Bearer assay_app_...``),
for the few API calls an application makes itself (monitoring's outcomes and overrides).

The key is the one the application already uses with the serving gateway; it authenticates no
person, so a view accepts it only where it says so (``authentication_classes``) and checks the
key's endpoints itself. A request carrying an application
key is authenticated by it or refused (401) here, before the personal-token authentication would
take it for a malformed personal token.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from serving.appkeys import KEY_PREFIX, parse_key
from serving.models import AppKey

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema

from drf_spectacular.extensions import OpenApiAuthenticationExtension

INVALID = ("Invalid application key: send the whole key as 'Authorization: Bearer "
           "assay_app_...'. Keys are created by deployers on the application keys page.")


class Application:
    """``request.user`` of a request authenticated by an application key: authenticated, no
    person, no role (``request.auth`` is the key)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = is_superuser = False
    pk = id = None

    def __init__(self, key: AppKey) -> None:
        self.key = key
        self.username = f"app:{key.name}"

    def __str__(self) -> str:
        return self.username


class AppKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Application, AppKey] | None:
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].decode(errors="replace") not in ("Bearer", "Token") \
                or not header[1].startswith(KEY_PREFIX.encode()):
            return None
        parsed = parse_key(header[1].decode(errors="replace"))
        key = AppKey.objects.filter(prefix=parsed[0]).first() if parsed else None
        if parsed is None or key is None or not hmac.compare_digest(
                key.digest, AppKey.digest_of(parsed[1])):
            raise exceptions.AuthenticationFailed(INVALID)
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                f"The application key {key.name!r} is revoked; ask a deployer for a new one.")
        return Application(key), key

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


def application_key(request: Any) -> AppKey | None:
    """The application key a request was authenticated with, if any."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, AppKey) else None


# drf-spectacular registers the subclass in its __init_subclass__, which it leaves unannotated.
class AppKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "serving.api_auth.AppKeyAuthentication"
    name = "appKey"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer",
                "description": "An application's key of the serving gateway: "
                               "`Bearer assay_app_...` (outcomes and overrides only)"}
