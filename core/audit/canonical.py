"""The canonical form of an audit event: what its digest covers, byte for byte.

An auditor re-implements this (docs/audit.md repeats it with an example):

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

The serialisation, the digest and the link are written once, in the standalone verifier
(``core/verify_bundle.py``, which an auditor runs with nothing but Python and ``cryptography``),
and imported from there. This module adds what only the server needs: turning Python values and
stored rows into canonical types. It imports no Django either.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any, Protocol

from core.verify_bundle import (
    GENESIS_HASH,
    NotCanonical,
    canonical_bytes,
    canonical_event_row,
    event_digest,
    link,
)

__all__ = [
    "GENESIS_HASH",
    "STORED_COLUMNS",
    "NotCanonical",
    "StoredEvent",
    "canonical_bytes",
    "canonical_event_row",
    "clean_text",
    "event_digest",
    "event_fields",
    "format_time",
    "link",
    "plain",
]


# An event's columns as stored: the ten canonical fields, then the digest and the chain hash.
STORED_COLUMNS = ("seq", "occurred_at", "actor_id", "actor_username", "request_id", "action",
                  "object_type", "object_id", "model_id", "payload", "event_digest", "chain_hash")


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


def plain(value: Any) -> Any:
    """Turn a payload into JSON types without floats, so its canonical form is stable."""
    if isinstance(value, dict):
        return {clean_text(str(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
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


class StoredEvent(Protocol):
    """The canonical fields of a stored event: an ``AuditEvent``, or a row read without the model
    (``core.export``)."""

    @property
    def seq(self) -> int: ...
    @property
    def occurred_at(self) -> dt.datetime: ...
    @property
    def actor_id(self) -> int | None: ...
    @property
    def actor_username(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def object_type(self) -> str: ...
    @property
    def object_id(self) -> str: ...
    @property
    def model_id(self) -> int | None: ...
    @property
    def payload(self) -> Any: ...  # JSON: whatever was recorded


def event_fields(event: StoredEvent) -> dict[str, Any]:
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
