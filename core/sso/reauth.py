"""Re-authentication at the identity provider: the electronic signature under single sign-on.

A page that needs the signer to prove again who they are (a sign-off) calls ``reauth_begin`` with
what the person has entered; the browser goes to the provider with ``prompt=login`` and
``max_age=0`` (sign in again, whatever session the provider has), PKCE, state and nonce. Back at
``reauth_complete`` the code is exchanged and the ID token's signature, issuer, audience and nonce
are verified; what it says (``sub``, ``auth_time``) is kept in the session with the entry, and the
browser goes back to the page, which takes both (``reauth_take``) and hands the proof to its
service. The service decides with ``reauthentication_problem``: the subject must be the signer's,
``auth_time`` must be after the signing started and within ``OIDC_REAUTH_WINDOW_S``.
Nothing is signed when any of that is missing.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from core.errors import Unavailable
from core.models import User
from core.sso.provider import endpoint, provider_name

SESSION_KEY = "assay_sso_reauth"
MAX_PENDING = 10


@dataclass(frozen=True)
class Reauthentication:
    """What a verified ID token from a re-authentication says, and when the signing started."""

    subject: str
    auth_time: int | None
    started_at: int


def signs_at_provider(user: User) -> bool:
    """Whether this person's electronic signature is a re-authentication at the provider (an
    account of single sign-on) rather than their password (local accounts, break-glass)."""
    return bool(settings.SSO_ENABLED and user.oidc_subject)


def _s256(verifier: str) -> str:
    """PKCE's S256 code challenge (RFC 7636, 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _callback_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("sso-reauth-callback"))


def reauth_begin(request: HttpRequest, *, return_to: str, kept: dict[str, Any]) -> str:
    """Start a re-authentication; returns the provider's URL to send the browser to. ``kept`` is
    what the person entered (given back by ``reauth_take``), ``return_to`` the page to come back
    to (``?reauth=<key>`` is added)."""
    verifier = secrets.token_urlsafe(64)[:96]
    state, nonce, key = (secrets.token_urlsafe(32) for _ in range(3))
    pending: dict[str, Any] = dict(request.session.get(SESSION_KEY, {}))
    for old in sorted(pending, key=lambda k: pending[k]["started_at"])[:-MAX_PENDING + 1]:
        del pending[old]
    pending[key] = {"state": state, "nonce": nonce, "verifier": verifier,
                    "started_at": int(time.time()), "return_to": return_to, "kept": kept}
    request.session[SESSION_KEY] = pending
    params = {
        "response_type": "code", "client_id": settings.OIDC_RP_CLIENT_ID,
        "scope": "openid", "redirect_uri": _callback_url(request), "state": state,
        "nonce": nonce, "prompt": "login", "max_age": "0",
        "code_challenge": _s256(verifier),
        "code_challenge_method": "S256",
    }
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        params["login_hint"] = user.username
    return f"{endpoint('OIDC_OP_AUTHORIZATION_ENDPOINT')}?{urlencode(params)}"


def reauth_complete(request: HttpRequest) -> str | None:
    """Handle the provider's answer: verify the ID token and keep what it says (or why it was not
    accepted) with the entry. Returns the page to go back to, None for an unknown state."""
    from core.sso.backends import SsoBackend

    pending: dict[str, Any] = dict(request.session.get(SESSION_KEY, {}))
    state = request.GET.get("state", "")
    key = next((k for k, entry in pending.items() if entry["state"] == state), None)
    if not state or key is None:
        return None
    entry = pending[key]
    entry.pop("state")
    if request.GET.get("error"):
        entry["error"] = (f"{provider_name()} did not confirm it is you "
                          f"({request.GET.get('error_description') or request.GET['error']}). "
                          "Nothing was signed: sign again.")
    else:
        backend = SsoBackend()
        backend.request = request
        try:
            tokens = backend.get_token({
                "client_id": settings.OIDC_RP_CLIENT_ID,
                "client_secret": settings.OIDC_RP_CLIENT_SECRET,
                "grant_type": "authorization_code", "code": request.GET.get("code", ""),
                "redirect_uri": _callback_url(request), "code_verifier": entry["verifier"]})
            claims = backend.verify_token(tokens.get("id_token", ""), nonce=entry["nonce"])
            auth_time = claims.get("auth_time")
            entry["proof"] = {"subject": str(claims.get("sub", "")),
                              "auth_time": int(auth_time) if auth_time is not None else None}
        except (requests.RequestException, Unavailable, SuspiciousOperation, ValueError) as exc:
            entry["error"] = (f"{provider_name()}'s answer could not be verified ({exc}). "
                              "Nothing was signed: sign again.")
    request.session[SESSION_KEY] = pending
    separator = "&" if "?" in entry["return_to"] else "?"
    return f"{entry['return_to']}{separator}{urlencode({'reauth': key})}"


def reauth_take(request: HttpRequest, key: str
                ) -> tuple[dict[str, Any] | None, Reauthentication | None, str]:
    """Take (once) a finished re-authentication: what the person had entered, the proof, and the
    reason there is none. ``(None, None, "")`` for an unknown or unfinished key."""
    pending: dict[str, Any] = dict(request.session.get(SESSION_KEY, {}))
    entry = pending.get(key)
    if entry is None or ("proof" not in entry and "error" not in entry):
        return None, None, ""
    del pending[key]
    request.session[SESSION_KEY] = pending
    proof = entry.get("proof")
    if proof is None:
        return entry["kept"], None, str(entry["error"])
    return entry["kept"], Reauthentication(subject=proof["subject"],
                                           auth_time=proof["auth_time"],
                                           started_at=entry["started_at"]), ""


def reauthentication_problem(user: User, proof: Reauthentication) -> str:
    """Why this proof does not sign for ``user`` ("" when it does)."""
    if not user.oidc_subject or proof.subject != user.oidc_subject:
        return (f"{provider_name()} confirmed another person than you (signed in there as "
                "someone else?). Sign in at the provider as yourself; nothing was signed.")
    if proof.auth_time is None:
        return (f"{provider_name()} did not say when you signed in (no auth_time in its ID "
                "token), so the re-authentication cannot be trusted; nothing was signed. An "
                "administrator must let the provider send auth_time.")
    now = int(timezone.now().timestamp())
    if proof.auth_time < proof.started_at:
        return (f"{provider_name()} did not ask for your credentials again: the sign-in it "
                "reported is older than this signature. Sign again and enter your credentials "
                "at the provider; nothing was signed.")
    if now - proof.auth_time > settings.OIDC_REAUTH_WINDOW_S:
        return (f"Your sign-in at {provider_name()} is {now - proof.auth_time} seconds old; a "
                f"signature needs one within {settings.OIDC_REAUTH_WINDOW_S} seconds. Sign "
                "again; nothing was signed.")
    return ""
