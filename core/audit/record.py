"""Appending to the audit trail: ``record()`` adds one event to the hash chain.

Service functions call ``record`` inside their own ``transaction.atomic()``, so the event commits
or rolls back with the change it describes. Never call it from a signal. Security events that are
not changes (failed logins, permission refusals) go through ``core.audit.security`` instead.
The canonical form that each event's digest covers is in ``core.audit.canonical``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from core.audit.canonical import GENESIS_HASH, clean_text, event_digest, event_fields, link, plain
from core.limits import TEXT_MAX
from core.models import AuditEvent, User
from core.request_context import current_request_id

# The actor of work done by Assay itself or by the operator at the shell (management commands,
# scheduled tasks): events record no user. Services take it where they take a user.
SYSTEM = None

# One advisory-lock key for the whole chain: every appender serialises on it (PostgreSQL). The
# insert guard of migration core/0004 takes the same key, written out there: never change it.
CHAIN_LOCK_KEY = 0x41535341590001



# A worker's events carry its task's id where a request's carry the request id, prefixed so the
# two cannot be confused: ``task:<celery task id>``.
TASK_ID_PREFIX = "task:"


@contextlib.contextmanager
def task_context(task_id: str) -> Iterator[str]:
    """Audit events recorded inside the block carry ``task:<task_id>`` as their request id.

    config/celery.py enters it around every task (task_prerun / task_postrun); call it yourself
    when running a task's body outside a worker.
    """
    value = (TASK_ID_PREFIX + str(task_id))[:64] if task_id else ""
    token = current_request_id.set(value)
    try:
        yield value
    finally:
        current_request_id.reset(token)


def bounded(value: Any) -> Any:
    """The payload with every text longer than ``TEXT_MAX`` replaced by its SHA-256 (of the
    UTF-8 bytes) and its length in characters: ``{"sha256": ..., "length": ...}``.

    The trail is append-only and never pruned, so one request must not be able to add megabytes
    to it. Every service refuses free text over ``TEXT_MAX``, so what a service accepted is
    recorded whole; anything longer that reaches ``record`` (a caller that does not check) is
    still pinned by its digest, which the row it describes can be compared with.
    """
    if isinstance(value, str) and len(value) > TEXT_MAX:
        return {"sha256": hashlib.sha256(value.encode("utf-8")).hexdigest(), "length": len(value)}
    if isinstance(value, dict):
        return {k: bounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [bounded(v) for v in value]
    return value


class AuditError(RuntimeError):
    """Programming error: record() was called in a way that would break the trail."""


# The seqs recorded by the code running inside ``recorded_here()`` (None outside it).
_recorded: ContextVar[list[int] | None] = ContextVar("assay_audit_recorded", default=None)


@contextlib.contextmanager
def recorded_here() -> Iterator[list[int]]:
    """Collect the seq of every event recorded by the code inside this block (this thread or
    task only), so a caller holding the chain lock can tell its own events from others'."""
    seqs: list[int] = []
    token = _recorded.set(seqs)
    try:
        yield seqs
    finally:
        _recorded.reset(token)


def _locked_chain_head() -> tuple[int, str]:
    """Take the chain lock, then read the head (seq, chain hash) as it is under the lock.

    On PostgreSQL both statements go in one round trip: in READ COMMITTED each statement takes
    its own snapshot when it starts, so the SELECT, starting after the lock is granted, sees the
    previous holder's committed event. Fewer round trips while holding the lock is what bounds
    append throughput. SQLite: transactions begin IMMEDIATE (settings), so the writer already
    holds the database's only write lock.
    """
    table = AuditEvent._meta.db_table
    head = f"SELECT seq, chain_hash FROM {table} ORDER BY seq DESC LIMIT 1"  # noqa: S608
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY}); {head}")
            cursor.nextset()
        else:
            cursor.execute(head)
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


def record(
    *,
    action: str,
    actor: User | None = None,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    model_id: int | None = None,
    payload: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    ``request_id`` defaults to the current request's (or task's); an event that sums up several
    requests (a folded security event) passes "".

    ``obj`` (a model instance) fills ``object_type``/``object_id``; an object with an
    ``audit_model_id`` attribute (registry models, versions, reviews) files the event under that
    model's timeline. ``payload`` holds before/after values and file digests.

    The sequence number is max+1 read under a transaction-level advisory lock, so concurrent
    writers queue instead of forking the chain, and a rolled-back transaction takes its number
    with it (no gap). On PostgreSQL a BEFORE INSERT trigger (migration core/0004) refuses any row
    that is not this next link, whoever inserts it; the unique index on ``seq`` is the last
    backstop.
    """
    if not connection.in_atomic_block:
        raise AuditError("core.audit.record must run inside the service's transaction.atomic()")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        if model_id is None:
            model_id = getattr(obj, "audit_model_id", None)
    # Everything that does not depend on the chain is prepared before taking the lock.
    event = AuditEvent(
        actor_id=getattr(actor, "pk", None),
        actor_username=clean_text(getattr(actor, "username", "") or "")[:150],
        request_id=current_request_id.get() if request_id is None else request_id,
        action=action,
        object_type=object_type,
        object_id=clean_text(str(object_id))[:64] if object_id != "" else "",
        model_id=model_id,
        payload=bounded(plain(payload or {})),
    )
    previous_seq, previous_hash = _locked_chain_head()
    event.seq = previous_seq + 1
    event.occurred_at = timezone.now()
    event.event_digest = event_digest(event_fields(event))
    event.chain_hash = link(previous_hash, event.event_digest)
    event.save(force_insert=True)
    if (mine := _recorded.get()) is not None:
        mine.append(event.seq)
    return event


def changes(instance: Any, before: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Before/after of the fields that changed, for an update event's payload."""
    out = {}
    for name in fields:
        after = getattr(instance, name)
        if before.get(name) != after:
            out[name] = {"before": plain(before.get(name)), "after": plain(after)}
    return out


def snapshot(instance: Any, fields: list[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in fields}


def atomic_record(**kwargs: Any) -> AuditEvent:
    """Record an event in a transaction of its own (for events that are the whole change)."""
    with transaction.atomic():
        return record(**kwargs)
