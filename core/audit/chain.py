"""Verifying the audit trail: ``verify_chain()`` recomputes every digest and link.

It streams the stored events in sequence order and reports the first one that fails, and why
(the reason codes below are part of the API: ``GET /api/v1/audit/verify/``). Signed checkpoints,
which catch a rewritten and re-chained trail, are compared by ``core.verification``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from core.audit.canonical import (
    GENESIS_HASH,
    STORED_COLUMNS,
    NotCanonical,
    canonical_event_row,
    event_digest,
    event_fields,
    format_time,
    link,
)
from core.models import AuditEvent

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


# PostgreSQL formats the time and hands the payload over as text: parsing neither a timestamp
# nor jsonb into Python objects is most of what makes a million rows fast.
_PG_SELECT = (
    "SELECT seq, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "actor_id, actor_username, request_id, action, object_type, object_id, model_id, "
    "payload::text, event_digest, chain_hash FROM {table} ORDER BY seq"
)


def _refuse_number(text: str) -> Any:
    raise NotCanonical(text)


# A stored payload holding a float, NaN or infinity has no canonical form: refused while parsing.
_load_payload = json.JSONDecoder(parse_float=_refuse_number, parse_constant=_refuse_number).decode


def _stored_rows(using: str, chunk_size: int) -> Iterator[tuple[Any, ...]]:
    """Every event in seq order, time as canonical text and payload as JSON text."""
    conn = connections[using]
    if conn.vendor == "postgresql":
        with conn.chunked_cursor() as cursor:  # a server-side cursor: memory stays flat
            cursor.execute(_PG_SELECT.format(table=AuditEvent._meta.db_table))
            for rows in _prefetched(lambda: cursor.fetchmany(chunk_size)):
                yield from rows
        return
    for row in (AuditEvent.objects.using(using).order_by("seq").values_list(*STORED_COLUMNS)
                .iterator(chunk_size=chunk_size)):
        # Floats in the payload survive json.dumps, so the check below still sees them.
        yield (row[0], format_time(row[1]), *row[2:9], json.dumps(row[9]), *row[10:])


def _prefetched(fetch: Callable[[], list[Any]]) -> Iterator[list[Any]]:
    """Chunks from ``fetch`` until an empty one, the next fetched while this one is checked.

    The database produces rows while Python hashes the previous chunk (psycopg waits without
    the GIL), which takes about a third off verifying a million events. Stopping early (the first
    bad event) lets the fetching thread finish its chunk before the cursor closes.
    """
    chunks: queue.Queue[list[Any] | BaseException] = queue.Queue(maxsize=2)
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
                 using: str = DEFAULT_DB_ALIAS,
                 progress: Callable[[int], None] | None = None) -> ChainReport:
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
    ``progress`` is called with the number of events checked so far after every ``chunk_size``.
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
                canonical = canonical_event_row(seq, occurred_at, actor_id, actor_username, request_id,
                                           action, object_type, object_id, model_id,
                                           _load_payload(payload))
            except NotCanonical:
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
            if progress is not None and checked % chunk_size == 0:
                progress(checked)
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


@dataclass(frozen=True)
class LinkCheck:
    """One event checked on its own: its digest recomputed, its link to the previous event."""

    digest_ok: bool
    link_ok: bool
    summary: str

    @property
    def ok(self) -> bool:
        return self.digest_ok and self.link_ok


def check_link(event: AuditEvent, using: str = DEFAULT_DB_ALIAS) -> LinkCheck:
    """Recompute one event's digest and its chain hash from the previous event's stored hash.

    This proves the event is consistent with its neighbour, not that the whole chain is intact
    (``verify_chain`` with the signed checkpoints does that)."""
    try:
        digest = event_digest(event_fields(event))
    except NotCanonical:
        return LinkCheck(False, False, "Its payload holds a float, NaN or infinity, which the "
                                       "canonical form excludes: the event was edited.")
    previous = chain_hash_at(event.seq - 1, using=using)
    digest_ok = digest == event.event_digest
    link_ok = previous is not None and link(previous, event.event_digest) == event.chain_hash
    if digest_ok and link_ok:
        summary = (f"Its digest recomputes from its contents and its chain hash follows from "
                   f"event {event.seq - 1}'s." if event.seq > 1 else
                   "Its digest recomputes from its contents and its chain hash starts from the "
                   "genesis hash.")
    elif not digest_ok:
        summary = _REASON_TEXT[DIGEST_MISMATCH].capitalize() + "."
    elif previous is None:
        summary = f"Event {event.seq - 1} is missing: {_REASON_TEXT[GAP]}."
    else:
        summary = _REASON_TEXT[BROKEN_LINK].capitalize() + "."
    return LinkCheck(digest_ok, link_ok, summary)
