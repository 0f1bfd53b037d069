"""Start-up checks of the single sign-on settings (``manage.py check`` and every start)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from core.models import Role


@checks.register(checks.Tags.security)
def sso_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not settings.SSO_ENABLED:
        return []
    errors: list[checks.CheckMessage] = []
    if not settings.OIDC_RP_CLIENT_ID or not settings.OIDC_RP_CLIENT_SECRET:
        errors.append(checks.Error(
            "ASSAY_OIDC_ISSUER is set but ASSAY_OIDC_CLIENT_ID or ASSAY_OIDC_CLIENT_SECRET is "
            "not: set both to the client registered at the identity provider.", id="assay.E101"))
    named = {role for roles in settings.OIDC_GROUP_ROLES.values() for role in roles}
    unknown = sorted((named | set(settings.OIDC_DEFAULT_ROLES)) - set(Role.values))
    if unknown:
        errors.append(checks.Error(
            f"ASSAY_OIDC_GROUP_ROLES or ASSAY_OIDC_DEFAULT_ROLES names unknown roles "
            f"({', '.join(unknown)}); the roles are: {', '.join(Role.values)}.",
            id="assay.E102"))
    end_session = settings.OIDC_OP_END_SESSION_ENDPOINT
    if end_session and not _is_web_url(end_session):
        errors.append(checks.Error(
            f"ASSAY_OIDC_END_SESSION_ENDPOINT must be the provider's end-session URL "
            f"(https://...), got {end_session!r}; leave it unset to use the end_session_endpoint "
            "of the provider's discovery document.", id="assay.E103"))
    return errors


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("https", "http") and bool(parts.netloc)
