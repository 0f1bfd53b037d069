"""The one audit path: ``record()`` appends an event to the hash chain; ``verify_chain()`` checks it.

Service functions call ``record`` inside their own ``transaction.atomic()``, so the event commits
or rolls back with the change it describes. Never call it from a signal. Security events that are
not changes (failed logins, permission denials) go through ``record_security`` instead, which
commits on its own and folds floods (see there).

Canonical form (an auditor re-implements this; docs/audit.md repeats it with an example):

* The event is the JSON object with exactly these keys: ``seq`` (integer), ``occurred_at``
  (``YYYY-MM-DDTHH:MM:SS.ffffffZ``, UTC, always six fraction digits), ``actor_id`` (integer or
  null), ``actor_username``, ``request_id``, ``action``, ``object_type``, ``object_id`` (strings,
  possibly empty), ``model_id`` (integer or null) and ``payload`` (an object).
* It is serialised as UTF-8 JSON with keys sorted by code point at every level, no whitespace
  (separators ``,`` and ``:``), non-ASCII characters written as themselves (only ``"``, ``\\`` and
  control characters below U+0020 are escaped: ``\\b \\f \\n \\r \\t`` by name, the others as
  ``\\u00XX`` with lowercase hex), and no floats anywhere: ``record`` stores floats and decimals as
  their decimal strings (``0.1`` -> ``"0.1"``), so the payload holds only objects, arrays, strings,
  integers, booleans and null.
* ``event_digest = SHA-256(canonical bytes)`` as lowercase hex.
* ``chain_hash_n = SHA-256(bytes.fromhex(chain_hash_{n-1}) + bytes.fromhex(event_digest_n))`` as
  lowercase hex, with ``chain_hash_0`` = 64 zeros (the genesis). Sequence numbers start at 1 and
  have no gaps.

The time is formatted from the stored instant converted to UTC, so neither the server's nor the
database session's time zone changes a digest.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import decimal
import hashlib
import json
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from core.models import AuditEvent
from core.models.audit import SecurityEventCounter

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
# One advisory-lock key for the whole chain: every appender serialises on it (PostgreSQL).
CHAIN_LOCK_KEY = 0x41535341590001

# Set per request by core.middleware.RequestIdMiddleware and per task by workers.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "assay_request_id", default=""
)


class AuditError(RuntimeError):
    """Programming error: record() was called in a way that would break the trail."""


# --- Canonical form ---------------------------------------------------------------------------

def format_time(value: dt.datetime) -> str:
    """The canonical time: UTC, microseconds, ``Z`` (the stored instant, whatever its offset)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Text that PostgreSQL and UTF-8 accept: NUL and lone surrogates become U+FFFD.

    Payloads carry text chosen by outsiders (the username of a failed login); without this a
    crafted string would make the write fail instead of being recorded.
    """
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATE.sub("\ufffd", value)
    return value


def _plain(value: Any) -> Any:
    """Turn a payload into JSON types without floats, so its canonical form is stable."""
    if isinstance(value, dict):
        return {clean_text(str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float | decimal.Decimal):
        return str(value)  # 0.1 -> "0.1"; nan and inf become strings too, never JSON numbers
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return clean_text(str(value))


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """UTF-8 JSON, keys sorted, no whitespace; refuses floats (``_plain`` removes them first)."""
    return json.dumps(
        _refuse_floats(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def _refuse_floats(value: Any) -> Any:
    if isinstance(value, float):
        raise AuditError(f"Floats have no canonical form ({value!r}); store them as strings.")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_floats(item)
    return value


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


# --- Appending --------------------------------------------------------------------------------

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
    actor: Any = None,
    obj: Any = None,
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
    with it (no gap). The unique index on ``seq`` is the backstop should the lock ever be skipped.
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
        payload=_plain(payload or {}),
    )
    previous_seq, previous_hash = _locked_chain_head()
    event.seq = previous_seq + 1
    event.occurred_at = timezone.now()
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


# --- Security events: committed on their own, folded per (principal, reason, minute) ----------

FLUSH_BATCH = 500


def _minute(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


def _minute_label(minute: dt.datetime) -> str:
    return minute.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def record_security(
    *, action: str, principal: str, reason: str, actor: Any = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Record a security event that is not a change (failed login, permission denial).

    It is committed on its own, so the denial stays recorded when the request that caused it rolls
    back. A flood is folded per (action, principal, reason, UTC minute): the minute's first
    occurrence becomes a chain event at once (``count`` 1); later ones only increment a counter
    row; when the minute is over the rest is written as one event with ``"folded": true`` and
    their ``count`` (at the next security event, or by the ``flush_security_counts`` beat task).
    So a key costs the chain at most two events a minute, and the counts of its events add up to
    the number of occurrences.

    Called while a transaction is open on the default connection (a view inside ``atomic``, or a
    test wrapped in one), the occurrence is counted through a second, short-lived connection that
    commits at once; it reaches the chain at the next flush. A second connection must not append
    to the chain itself: the open transaction may hold the chain lock, and it would wait forever.
    """
    now = timezone.now()
    key = {"action": action[:64], "principal": clean_text(principal or "anonymous")[:150],
           "reason": clean_text(reason)[:64], "minute": _minute(now)}
    details = _plain(payload or {})
    who = {"actor_id": getattr(actor, "pk", None),
           "actor_username": clean_text(getattr(actor, "username", "") or "")[:150]}
    if connection.in_atomic_block:
        _count_outside_transaction(key, who, details)
        return
    with transaction.atomic():
        flush_security_counts(now=now)
        counter, created = SecurityEventCounter.objects.get_or_create(
            **key, defaults={"count": 1, "recorded": 1, "payload": details, **who})
        if created:
            _record_security_event(counter, count=1, details=details, folded=False)
        else:
            SecurityEventCounter.objects.filter(pk=counter.pk).update(
                count=F("count") + 1, payload=details)


def _record_security_event(counter: SecurityEventCounter, *, count: int,
                           details: dict[str, Any], folded: bool) -> AuditEvent:
    actor = SimpleNamespace(pk=counter.actor_id, username=counter.actor_username)
    body = {**details, "principal": counter.principal, "reason": counter.reason, "count": count,
            "minute": _minute_label(counter.minute)}
    if folded:
        body["folded"] = True
    model_id = details.get("model_id") if isinstance(details.get("model_id"), int) else None
    return record(action=counter.action, actor=actor if counter.actor_id else None,
                  object_type="principal", object_id=counter.principal[:64], payload=body,
                  model_id=model_id,
                  # A folded event sums up other requests; the flushing one's id would mislead.
                  request_id="" if folded else None)


def _count_outside_transaction(key: dict[str, Any], who: dict[str, Any],
                               details: dict[str, Any]) -> None:
    """Count one occurrence through a connection of its own (it commits whatever the caller does)."""
    if connection.vendor != "postgresql":
        # SQLite has a single writer: a second connection would wait for the open transaction.
        # Embedded mode counts in the caller's transaction (documented in docs/audit.md).
        _increment(key, who, details)
        return
    table = SecurityEventCounter._meta.db_table
    own = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with own.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")
            cursor.execute(
                f"INSERT INTO {table} (action, principal, reason, minute, count, recorded, "  # noqa: S608
                "actor_id, actor_username, payload) VALUES (%s, %s, %s, %s, 1, 0, %s, %s, %s) "
                "ON CONFLICT (action, principal, reason, minute) DO UPDATE "
                f"SET count = {table}.count + 1, payload = EXCLUDED.payload",
                [key["action"], key["principal"], key["reason"], key["minute"], who["actor_id"],
                 who["actor_username"], json.dumps(details, ensure_ascii=False)],
            )
    except DatabaseError:
        # E.g. the open transaction holds this counter row (it flushed it): count it there.
        logger.warning("security event counted in the caller's transaction", exc_info=True)
        _increment(key, who, details)
    finally:
        own.close()


def _increment(key: dict[str, Any], who: dict[str, Any], details: dict[str, Any]) -> None:
    with transaction.atomic():
        counter, created = SecurityEventCounter.objects.get_or_create(
            **key, defaults={"count": 1, "recorded": 0, "payload": details, **who})
        if not created:
            SecurityEventCounter.objects.filter(pk=counter.pk).update(
                count=F("count") + 1, payload=details)


def flush_security_counts(*, now: dt.datetime | None = None,
                          batch: int | None = FLUSH_BATCH) -> int:
    """Write one folded event for every counter whose minute is over; returns events written.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so two flushers never write the same count.
    Inside requests a call handles at most ``batch`` counters; the beat task passes None (all).
    """
    current = _minute(now or timezone.now())
    written = 0
    with transaction.atomic():
        due = list(
            SecurityEventCounter.objects.select_for_update(skip_locked=True)
            .filter(minute__lt=current).order_by("minute", "pk")[:batch]
        )
        for counter in due:
            pending = counter.count - counter.recorded
            if pending > 0:
                _record_security_event(counter, count=pending, details=counter.payload,
                                       folded=True)
                written += 1
        if due:
            SecurityEventCounter.objects.filter(pk__in=[c.pk for c in due]).delete()
    return written


# --- Verification -----------------------------------------------------------------------------

DIGEST_MISMATCH = "digest_mismatch"
BROKEN_LINK = "broken_link"
GAP = "gap"
BAD_GENESIS = "bad_genesis"
CHECKPOINT_MISMATCH = "checkpoint_mismatch"
TRUNCATED = "truncated"

_REASON_TEXT = {
    DIGEST_MISMATCH: "its stored digest does not match its contents (the event was edited)",
    BROKEN_LINK: "its chain hash does not follow from the previous event's (an event was "
                 "replaced, inserted or reordered)",
    GAP: "it is missing (events were deleted)",
    BAD_GENESIS: "the first event does not start from the genesis hash",
    CHECKPOINT_MISMATCH: "its chain hash differs from the one expected (the chain was rewritten)",
    TRUNCATED: "it is missing from the end of the trail (the tail was cut off)",
}


@dataclass(frozen=True)
class ChainReport:
    """The outcome of recomputing the chain.

    ``head_seq``/``head_hash`` are the last event that verified (the genesis, 0 and 64 zeros, if
    none did); when ``ok`` is false, ``first_bad_seq`` and ``reason`` (one of the constants above)
    say where and why it first failed, ``detail`` says it in words.
    """

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str = ""
    detail: str = ""

    @property
    def summary(self) -> str:
        if self.ok:
            return f"OK: {self.checked} events verified, head seq {self.head_seq} {self.head_hash}"
        return f"FAILED at seq {self.first_bad_seq} ({self.reason}): {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary}


_COLUMNS = ("seq", "occurred_at", "actor_id", "actor_username", "request_id", "action",
            "object_type", "object_id", "model_id", "payload", "event_digest", "chain_hash")
# PostgreSQL formats the time and hands the payload over as text: parsing neither a timestamp
# nor jsonb into Python objects is most of what makes a million rows fast.
_PG_SELECT = (
    "SELECT seq, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "actor_id, actor_username, request_id, action, object_type, object_id, model_id, "
    "payload::text, event_digest, chain_hash FROM {table} ORDER BY seq"
)
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode
_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses for strings
_ROW = ('{"action":%s,"actor_id":%s,"actor_username":%s,"model_id":%s,"object_id":%s,'
        '"object_type":%s,"occurred_at":"%s","payload":%s,"request_id":%s,"seq":%d}')


class _NotCanonical(ValueError):
    """A stored payload holds a float, NaN or infinity: it has no canonical form."""


def _refuse_number(text: str) -> Any:
    raise _NotCanonical(text)


_load_payload = json.JSONDecoder(parse_float=_refuse_number, parse_constant=_refuse_number).decode


def _canonical_row(seq: int, occurred_at: str, actor_id: int | None, actor_username: str,
                   request_id: str, action: str, object_type: str, object_id: str,
                   model_id: int | None, payload: Any) -> bytes:
    """``canonical_bytes(event_fields(...))`` for a row, assembled by hand because verification
    does it a million times: the top-level keys are fixed, so they are written in sorted order.
    ``occurred_at`` is already in canonical form."""
    return (_ROW % (
        _string(action), "null" if actor_id is None else actor_id, _string(actor_username),
        "null" if model_id is None else model_id, _string(object_id), _string(object_type),
        occurred_at, _dumps(payload), _string(request_id), seq,
    )).encode("utf-8")


def _stored_rows(using: str, chunk_size: int) -> Iterator[tuple]:
    """Every event in seq order, time as canonical text and payload as JSON text."""
    conn = connections[using]
    if conn.vendor == "postgresql":
        with conn.chunked_cursor() as cursor:  # a server-side cursor: memory stays flat
            cursor.execute(_PG_SELECT.format(table=AuditEvent._meta.db_table))
            for rows in _prefetched(lambda: cursor.fetchmany(chunk_size)):
                yield from rows
        return
    for row in (AuditEvent.objects.using(using).order_by("seq").values_list(*_COLUMNS)
                .iterator(chunk_size=chunk_size)):
        # Floats in the payload survive json.dumps, so the check below still sees them.
        yield (row[0], format_time(row[1]), *row[2:9], json.dumps(row[9]), *row[10:])


def _prefetched(fetch: Callable[[], list]) -> Iterator[list]:
    """Chunks from ``fetch`` until an empty one, the next fetched while this one is checked.

    The database produces rows while Python hashes the previous chunk (psycopg waits without
    the GIL), which takes about a third off verifying a million events. Stopping early (the first
    bad event) lets the fetching thread finish its chunk before the cursor closes.
    """
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set():
                rows = fetch()
                chunks.put(rows)
                if not rows:
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            chunks.put(exc)

    worker = threading.Thread(target=produce, name="audit-verify-fetch", daemon=True)
    worker.start()
    try:
        while True:
            item = chunks.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.05)
        worker.join()


def verify_chain(*, expected: Mapping[int, str] | None = None, chunk_size: int = 5000,
                 using: str = DEFAULT_DB_ALIAS) -> ChainReport:
    """Recompute every event digest and chain link, streaming, and report the first failure.

    Checks per event, in order: its ``seq`` is the next one (else ``gap``), its digest matches its
    canonical form (``digest_mismatch``, also for a payload holding a float), and its chain hash
    follows from the previous one (``broken_link``; ``bad_genesis`` for the first event).
    ``expected`` maps sequence numbers to chain hashes known from elsewhere (signed checkpoints):
    a differing hash is a ``checkpoint_mismatch``, an expected seq beyond the end is
    ``truncated``; without them a rewrite-and-rechain or a cut-off tail leaves a self-consistent
    chain that this cannot see.

    Rows are read through a server-side cursor (PostgreSQL), one statement and so one snapshot:
    memory stays flat and events appended meanwhile are simply not part of this run.
    """
    expected = dict(expected or {})
    previous_seq, previous_hash, checked = 0, GENESIS_HASH, 0
    previous_bytes = bytes.fromhex(GENESIS_HASH)
    sha256 = hashlib.sha256

    def failed(seq: int, reason: str, detail: str = "") -> ChainReport:
        text = f"event {seq}: {_REASON_TEXT[reason]}" + (f"; {detail}" if detail else "")
        return ChainReport(ok=False, checked=checked, head_seq=previous_seq,
                           head_hash=previous_hash, first_bad_seq=seq, reason=reason, detail=text)

    with transaction.atomic(using=using):  # a plain (not WITH HOLD) server-side cursor
        for (seq, occurred_at, actor_id, actor_username, request_id, action, object_type,
             object_id, model_id, payload, event_digest, chain_hash) in _stored_rows(
                using, chunk_size):
            if seq != previous_seq + 1:
                return failed(previous_seq + 1, GAP, f"the next event stored is {seq}")
            try:
                canonical = _canonical_row(seq, occurred_at, actor_id, actor_username, request_id,
                                           action, object_type, object_id, model_id,
                                           _load_payload(payload))
            except _NotCanonical:
                return failed(seq, DIGEST_MISMATCH, "its payload holds a float, NaN or "
                                                    "infinity, which the canonical form excludes")
            if sha256(canonical).hexdigest() != event_digest:
                return failed(seq, DIGEST_MISMATCH)
            link_bytes = sha256(previous_bytes + bytes.fromhex(event_digest)).digest()
            if link_bytes.hex() != chain_hash:
                return failed(seq, BAD_GENESIS if seq == 1 else BROKEN_LINK)
            if seq in expected and expected[seq] != chain_hash:
                return failed(seq, CHECKPOINT_MISMATCH, f"expected {expected[seq]}")
            previous_seq, previous_hash, previous_bytes = seq, chain_hash, link_bytes
            checked += 1
    beyond = [seq for seq in expected if seq > previous_seq]
    if beyond:
        return failed(previous_seq + 1, TRUNCATED,
                      f"events up to seq {max(beyond)} were expected, the trail ends at "
                      f"{previous_seq}")
    return ChainReport(ok=True, checked=checked, head_seq=previous_seq, head_hash=previous_hash)


def chain_head(using: str = DEFAULT_DB_ALIAS) -> tuple[int, str]:
    """(seq, chain_hash) of the last event, or (0, genesis) for an empty trail. One index read."""
    last = (AuditEvent.objects.using(using).order_by("-seq")
            .values_list("seq", "chain_hash").first())
    return last if last else (0, GENESIS_HASH)


def chain_hash_at(seq: int, using: str = DEFAULT_DB_ALIAS) -> str | None:
    """The stored chain hash at ``seq`` (the genesis for 0), or None if there is no such event.

    One index read: what a signed checkpoint is compared with. The stored value is trusted here;
    ``verify_chain(expected={seq: hash})`` recomputes it.
    """
    if seq == 0:
        return GENESIS_HASH
    return (AuditEvent.objects.using(using).filter(seq=seq)
            .values_list("chain_hash", flat=True).first())
