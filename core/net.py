"""The client's address, as far as Assay can trust it."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or with ``TRUSTED_PROXY_COUNT = n`` the n-th address from the right of
    X-Forwarded-For: the one our own outermost proxy saw. Entries left of it are whatever the
    client wrote, so they are never used."""
    remote: str = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded: list[str] = [
        p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [p for p in forwarded if p]
    if len(forwarded) < hops:
        return remote
    return forwarded[-hops]
