"""The one audit path: ``record()`` appends an event to the hash chain.

Service functions call ``record`` inside their own ``transaction.atomic()``, so the event commits
or rolls back with the change it describes. Never call it from a signal.

Canonical form (an auditor re-implements this; README repeats it):

* The event is the JSON object with exactly these keys: ``seq`` (integer), ``occurred_at``
  (``YYYY-MM-DDTHH:MM:SS.ffffffZ``, UTC), ``actor_id`` (integer or null), ``actor_username``,
  ``request_id``, ``action``, ``object_type``, ``object_id``, ``model_id`` (integer or null) and
  ``payload`` (an object).
* It is serialised as UTF-8 JSON with keys sorted at every level, no whitespace
  (separators ``,`` and ``:``), non-ASCII characters written as themselves, and no floats anywhere
  (decimals are stored as strings).
* ``event_digest = SHA-256(canonical bytes)`` as lowercase hex.
* ``chain_hash_n = SHA-256(bytes.fromhex(chain_hash_{n-1}) + bytes.fromhex(event_digest_n))`` as
  lowercase hex, with ``chain_hash_0`` = 64 zeros (the genesis).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import hashlib
import json
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.models import AuditEvent

GENESIS_HASH = "0" * 64
# One advisory-lock key for the whole chain: every appender serialises on it (PostgreSQL).
CHAIN_LOCK_KEY = 0x41535341590001

# Set per request by core.middleware.RequestIdMiddleware and per task by workers.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "assay_request_id", default=""
)


class AuditError(RuntimeError):
    """Programming error: record() was called in a way that would break the trail."""


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    """Turn a payload into JSON types without floats, so its canonical form is stable."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_fields(event: AuditEvent) -> dict[str, Any]:
    """The fields that the event digest covers, in canonical types."""
    return {
        "seq": event.seq,
        "occurred_at": format_time(event.occurred_at),
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "request_id": event.request_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "model_id": event.model_id,
        "payload": event.payload,
    }


def digest_event(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


def link(previous_hash: str, event_digest: str) -> str:
    return hashlib.sha256(bytes.fromhex(previous_hash) + bytes.fromhex(event_digest)).hexdigest()


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
    # SQLite: transactions begin IMMEDIATE (settings), so the writer already holds the lock.


def record(
    *,
    action: str,
    actor: Any = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    model_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    ``obj`` (a model instance) fills ``object_type``/``object_id``; an object with an
    ``audit_model_id`` attribute (registry models, versions, reviews) files the event under that
    model's timeline. ``payload`` holds before/after values and file digests.
    """
    if not connection.in_atomic_block:
        raise AuditError("core.audit.record must run inside the service's transaction.atomic()")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        if model_id is None:
            model_id = getattr(obj, "audit_model_id", None)
    actor_id = getattr(actor, "pk", None)
    _lock_chain()
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "chain_hash").first()
    previous_seq, previous_hash = last if last else (0, GENESIS_HASH)
    event = AuditEvent(
        seq=previous_seq + 1,
        occurred_at=timezone.now(),
        actor_id=actor_id,
        actor_username=getattr(actor, "username", "") or "",
        request_id=current_request_id.get(),
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        model_id=model_id,
        payload=_plain(payload or {}),
    )
    event.event_digest = digest_event(event_fields(event))
    event.chain_hash = link(previous_hash, event.event_digest)
    event.save(force_insert=True)
    return event


def changes(instance: Any, before: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Before/after of the fields that changed, for an update event's payload."""
    out = {}
    for name in fields:
        after = getattr(instance, name)
        if before.get(name) != after:
            out[name] = {"before": _plain(before.get(name)), "after": _plain(after)}
    return out


def snapshot(instance: Any, fields: list[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in fields}


def atomic_record(**kwargs: Any) -> AuditEvent:
    """Record an event in a transaction of its own (for events that are the whole change)."""
    with transaction.atomic():
        return record(**kwargs)


def record_security(
    *, action: str, principal: str, reason: str, actor: Any = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Record a security event that is not a change (failed login, permission denial).

    Written in a transaction of its own, so the denial stays recorded even when the request that
    caused it rolls back. TODO(audit part 1): fold floods into one event per
    (principal, reason, minute) with a count.
    """
    with transaction.atomic():
        record(action=action, actor=actor, object_type="principal", object_id=principal[:64],
               payload={"reason": reason, **(payload or {})})
