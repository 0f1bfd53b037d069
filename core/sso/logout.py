"""Signing out at the identity provider too (OpenID Connect RP-Initiated Logout 1.0).

At sign-in mozilla-django-oidc keeps the ID token in the session (``OIDC_STORE_ID_TOKEN``). When
such a session signs out of Assay, the browser then goes to the provider's
``end_session_endpoint`` with that token as ``id_token_hint``, Assay's ``client_id`` and
``post_logout_redirect_uri`` (Assay's sign-in page), so the provider ends its own session and
sends the browser back. A session without the token (a break-glass administrator's password
sign-in) signs out of Assay only, as does every session when ``ASSAY_OIDC_PROVIDER_LOGOUT`` is
off or the provider advertises no end-session endpoint.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY
from django.http import HttpRequest
from django.shortcuts import resolve_url

from core.errors import Unavailable
from core.sso.provider import end_session_endpoint, provider_name

log = logging.getLogger(__name__)

# Where mozilla-django-oidc keeps the ID token in the session (its store_tokens).
ID_TOKEN_SESSION_KEY = "oidc_id_token"  # noqa: S105  (a session key, not a secret)
SSO_BACKEND = "core.sso.backends.SsoBackend"


def provider_logout_url(request: HttpRequest) -> str | None:
    """The provider's end-session URL to send a signing-out browser to, or None to sign out of
    Assay only. Call it before the session ends: the session holds the ID token."""
    id_token = request.session.get(ID_TOKEN_SESSION_KEY)
    # The token is kept before Assay decides whether to let the person in, so a session that
    # was then signed in with a password (a break-glass administrator) may hold one too.
    through_provider = request.session.get(BACKEND_SESSION_KEY) == SSO_BACKEND
    if not (settings.SSO_ENABLED and settings.OIDC_PROVIDER_LOGOUT and id_token
            and through_provider):
        return None
    try:
        end_session = end_session_endpoint()
    except Unavailable as error:
        log.warning("sign-out at the identity provider skipped: %s", error.message)
        messages.warning(request, f"{provider_name()} could not be reached to sign you out there "
                                  f"too: you may still be signed in at {provider_name()}.")
        return None
    if not end_session:
        return None
    params = {
        "id_token_hint": id_token,
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(
            resolve_url(settings.LOGOUT_REDIRECT_URL)),
    }
    separator = "&" if "?" in end_session else "?"
    return f"{end_session}{separator}{urlencode(params)}"
