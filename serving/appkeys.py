"""Application keys of the serving gateway: created and revoked by deployers and administrators.

The key is shown once, at creation; only its SHA-256 is stored (as for personal API tokens). A key
calls only the endpoints it is scoped to. The gateway reads usable keys into its periodically
refreshed view, so a revocation stops a key within the gateway's refresh interval.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.errors import Conflict, ValidationFailed
from core.models import User
from serving.models import AppKey, Endpoint

KEY_PREFIX = "assay_app_"


def appkey_create(*, actor: User, name: str, endpoints: Iterable[Endpoint],
                  rate_limit: int | None = None) -> tuple[AppKey, str]:
    """Create an application key scoped to ``endpoints``. Returns the row and the key, which is
    shown this once and never stored."""
    if not permissions.can_manage_app_keys(actor):
        audit.refuse(actor, "Only deployers and administrators manage application keys.",
                     attempted="appkey.create")
    name = (name or "").strip()
    endpoints = list(endpoints)
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Name the application that will use the key, e.g. 'loan-origination'."]
    elif len(name) > 100:
        errors["name"] = ["Key names are at most 100 characters."]
    if not endpoints:
        errors["endpoints"] = ["Choose at least one endpoint the key may call."]
    if rate_limit is not None and not 1 <= rate_limit <= 100_000:
        errors["rate_limit"] = ["Give a rate limit between 1 and 100000 requests per second, "
                                f"or leave it empty for the default ({settings.GATEWAY_RATE_LIMIT})."]
    if errors:
        raise ValidationFailed("The application key could not be created.", fields=errors)
    if AppKey.objects.usable().filter(name=name).exists():
        raise Conflict(f"An active application key is already named {name!r}; revoke it or "
                       "pick another name.", field="name")
    prefix = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = AppKey.objects.create(name=name, prefix=prefix, digest=AppKey.digest_of(plaintext),
                                    rate_limit=rate_limit, created_by=actor)
        key.endpoints.set(endpoints)
        audit.record(action="appkey.create", actor=actor, obj=key, payload={
            "name": name, "prefix": prefix, "endpoints": sorted(e.slug for e in endpoints),
            "rate_limit": rate_limit})
    return key, plaintext


def appkey_revoke(*, actor: User, key: AppKey, reason: str = "") -> AppKey:
    """Revoke an application key; the gateway refuses it from its next refresh on."""
    if not permissions.can_manage_app_keys(actor):
        audit.refuse(actor, "Only deployers and administrators manage application keys.",
                     attempted="appkey.revoke", target=key)
    with transaction.atomic():
        locked = AppKey.objects.select_for_update().get(pk=key.pk)
        if locked.revoked_at is not None:
            raise Conflict(f"Application key {locked.name!r} is already revoked.")
        locked.revoked_at, locked.revoked_by = timezone.now(), actor
        locked.save(update_fields=["revoked_at", "revoked_by"])
        audit.record(action="appkey.revoke", actor=actor, obj=locked, payload={
            "name": locked.name, "prefix": locked.prefix, "reason": reason.strip()})
    return locked


def parse_key(presented: str) -> tuple[str, str] | None:
    """Split a presented key into (prefix, the whole key), or None when it is not one."""
    if not presented.startswith(KEY_PREFIX):
        return None
    prefix, sep, _secret = presented[len(KEY_PREFIX):].partition("_")
    if not sep or len(prefix) != 12:
        return None
    return prefix, presented
