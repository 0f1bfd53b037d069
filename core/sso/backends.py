"""Authentication backends: the identity provider's (OIDC) and local passwords.

``SsoBackend`` is mozilla-django-oidc's backend (code exchange with the PKCE verifier, ID token
signature and nonce checked against the provider's keys) with Assay's own checks of the ID token's
issuer and audience, and Assay's accounts (``identity``) instead of its email matching.
``LocalPasswordBackend`` is Django's, refusing everyone but the break-glass administrators once
single sign-on is on, whichever door the password comes through (login page, admin).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from core.models import User
from core.sso import identity
from core.sso.provider import endpoint


def password_sign_in_allowed(username: str) -> bool:
    return not settings.SSO_ENABLED or username in settings.BREAK_GLASS_USERS


class LocalPasswordBackend(ModelBackend):
    """Django's username and password backend, for break-glass administrators only under SSO."""

    def user_can_authenticate(self, user: Any) -> bool:
        return super().user_can_authenticate(user) and password_sign_in_allowed(user.username)


class SsoBackend(OIDCAuthenticationBackend):
    """Signs in through the identity provider. Its endpoints are resolved when first used (from
    discovery), so building the backend, as Django does for every password sign-in, costs no
    request to the provider."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.UserModel = User
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    # The library reads its endpoints as these attributes.
    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return endpoint("OIDC_OP_TOKEN_ENDPOINT")

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:
        return endpoint("OIDC_OP_USER_ENDPOINT")

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return endpoint("OIDC_OP_JWKS_ENDPOINT")

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The library checks the signature, expiry and nonce; the token must also come from our
        issuer and be meant for us (OpenID Connect Core 3.1.3.7, steps 2 and 3)."""
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        if str(payload.get("iss", "")).rstrip("/") != settings.OIDC_ISSUER:
            raise SuspiciousOperation(f"The ID token was issued by {payload.get('iss')!r}, not "
                                      f"by {settings.OIDC_ISSUER!r}.")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token is meant for another application "
                                      f"({audience!r}).")
        return payload

    def get_or_create_user(self, access_token: str, id_token: str,
                           payload: dict[str, Any]) -> User | None:
        claims = {**payload, **self.get_userinfo(access_token, id_token, payload)}
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The provider's userinfo names another subject than the "
                                      "ID token.")
        try:
            return identity.user_sign_in_from_claims(claims=claims)
        except identity.SignInRefused as refusal:
            # The callback view shows this to the person (a page saying why, not a bare failure).
            self.request.sso_refusal = refusal.message
            return None

    def get_user(self, user_id: int) -> User | None:
        user = User.objects.filter(pk=user_id, is_active=True).first()
        return user if user is not None and user.oidc_subject else None

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        if request is None or "code" not in request.GET:
            return None  # a password sign-in: not ours
        user: User | None = super().authenticate(request, **kwargs)
        return user
