"""The identity provider's endpoints: from settings when given, else from its discovery document."""

from __future__ import annotations

import threading
from typing import Any

import requests
from django.conf import settings

from core.errors import Unavailable

_DISCOVERED: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()

# Setting name (mozilla-django-oidc's) -> key in the discovery document.
ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def sso_enabled() -> bool:
    return bool(settings.SSO_ENABLED)


def provider_name() -> str:
    return str(settings.SSO_PROVIDER_NAME)


def discovery() -> dict[str, Any]:
    """The provider's ``/.well-known/openid-configuration``, fetched once per process."""
    issuer = settings.OIDC_ISSUER
    with _LOCK:
        if issuer in _DISCOVERED:
            return _DISCOVERED[issuer]
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise Unavailable(f"The identity provider {provider_name()} does not answer at {url} "
                          f"({exc.__class__.__name__}); try again in a minute. Administrators "
                          "with a break-glass account can still sign in with their password."
                          ) from exc
    if document.get("issuer", "").rstrip("/") != issuer:
        raise Unavailable(f"The identity provider at {url} calls itself "
                          f"{document.get('issuer')!r}, not {issuer!r}: ASSAY_OIDC_ISSUER must be "
                          "exactly the provider's issuer.")
    with _LOCK:
        _DISCOVERED[issuer] = document
    return document


def endpoint(setting: str) -> str:
    """One endpoint: the explicit setting, or what discovery says."""
    explicit = getattr(settings, setting, "")
    return explicit or str(discovery()[ENDPOINTS[setting]])


def end_session_endpoint() -> str:
    """Where the provider ends its own session (RP-Initiated Logout): the explicit setting, or
    the ``end_session_endpoint`` discovery advertises; "" when the provider has none."""
    explicit = settings.OIDC_OP_END_SESSION_ENDPOINT
    return str(explicit or discovery().get("end_session_endpoint") or "")
