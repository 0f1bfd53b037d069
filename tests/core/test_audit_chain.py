"""The chain itself: canonical form, sequence numbers, rollbacks, time zones, floats."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json

import pytest
from django.db import connection, transaction

from core import audit
from core.audit.canonical import canonical_event_row
from core.models import AuditEvent


def _append(n: int, **extra) -> list[AuditEvent]:
    return [audit.atomic_record(action="test.event", object_type="thing", object_id=i,
                                payload={"i": i, **extra}) for i in range(n)]


def test_canonical_form_is_the_documented_one():
    """An auditor's independent implementation: written out by hand from the docstring."""
    fields = {
        "seq": 7, "occurred_at": "2026-03-01T09:05:00.000042Z", "actor_id": None,
        "actor_username": "zoë", "request_id": "r-1", "action": "model.update",
        "object_type": "registry.registeredmodel", "object_id": "12", "model_id": 12,
        "payload": {"b": [1, "x\n\"y\""], "a": {"z": None, "é": True}},
    }
    expected = ('{"action":"model.update","actor_id":null,"actor_username":"zoë",'
                '"model_id":12,"object_id":"12","object_type":"registry.registeredmodel",'
                '"occurred_at":"2026-03-01T09:05:00.000042Z","payload":{"a":{"z":null,"é":true},'
                '"b":[1,"x\\n\\"y\\""]},"request_id":"r-1","seq":7}').encode()
    assert audit.canonical_bytes(fields) == expected
    digest = hashlib.sha256(expected).hexdigest()
    assert audit.event_digest(fields) == digest
    assert audit.link(audit.GENESIS_HASH, digest) == hashlib.sha256(
        bytes(32) + bytes.fromhex(digest)).hexdigest()


@pytest.mark.parametrize("payload", [
    {}, {"a": 1}, {"nested": {"k": [1, 2, {"z": None}]}, "t": True},
    {"text": "ünïcödé ✓ 𝄞", "ctrl": "\x01\x1f\x7f\t", "quote": "\"\\/"},
    {"\u2028": "line separator", "B": 1, "a": 2, "é": 3},
])
def test_verifier_fast_path_matches_the_canonical_form(payload):
    """verify_chain assembles canonical bytes by hand (canonical_event_row); they must equal
    canonical_bytes()."""
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    for actor_id, model_id in ((None, None), (5, 9)):
        fields = {"seq": 3, "occurred_at": audit.format_time(when), "actor_id": actor_id,
                  "actor_username": "ä\"b", "request_id": "", "action": "a.b",
                  "object_type": "x", "object_id": "", "model_id": model_id, "payload": payload}
        fast = canonical_event_row(3, audit.format_time(when), actor_id, "ä\"b", "", "a.b", "x",
                                   "", model_id, payload)
        assert fast == audit.canonical_bytes(fields)


def test_time_is_utc_with_microseconds_whatever_the_offset():
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert audit.format_time(dt.datetime(2026, 1, 1, 5, 30, tzinfo=kolkata)) == \
        "2026-01-01T00:00:00.000000Z"


def test_events_form_one_contiguous_chain(db):
    events = _append(5)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    previous = audit.GENESIS_HASH
    for event in AuditEvent.objects.order_by("seq"):
        assert event.event_digest == audit.event_digest(audit.event_fields(event))
        assert event.chain_hash == audit.link(previous, event.event_digest)
        previous = event.chain_hash
    report = audit.verify_chain()
    assert report.ok, report.summary
    assert (report.checked, report.head_seq, report.head_hash) == (5, 5, previous)
    assert audit.chain_head() == (5, previous)
    assert audit.chain_hash_at(5) == previous
    assert audit.chain_hash_at(0) == audit.GENESIS_HASH
    assert audit.chain_hash_at(6) is None


def test_empty_trail_verifies(db):
    report = audit.verify_chain()
    assert report.ok and report.checked == 0 and report.head_hash == audit.GENESIS_HASH


def test_rolled_back_change_leaves_no_event_and_no_gap(db):
    _append(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(action="test.doomed", payload={})
        raise RuntimeError("the change fails after its event was recorded")
    assert not AuditEvent.objects.filter(action="test.doomed").exists()
    after = audit.atomic_record(action="test.after")
    assert after.seq == 3
    assert audit.verify_chain().ok


def test_record_outside_a_transaction_is_refused():
    """No database needed: the check comes first, so a misuse fails loudly in development."""
    with pytest.raises(audit.AuditError, match="inside the service's transaction"):
        audit.record(action="test.loose")


def test_canonical_form_is_independent_of_the_session_time_zone(db):
    """Events written and verified while the session's time zone is not UTC still verify.

    Django itself reads timestamps as if the session were in UTC (it sets it so on connect), so
    an ORM read under another zone is off; the verifier pins UTC for its own transaction.
    """
    if connection.vendor != "postgresql":
        pytest.skip("SET TIME ZONE is PostgreSQL's")
    first = audit.atomic_record(action="test.utc")
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'America/St_Johns'")  # -03:30, a half-hour offset
    try:
        second = audit.atomic_record(action="test.newfoundland")
        with connection.cursor() as cursor:
            cursor.execute("SELECT occurred_at::text, occurred_at AT TIME ZONE 'UTC' "
                           "FROM core_auditevent WHERE seq = 2")
            as_text, utc_wall = cursor.fetchone()
        assert as_text.endswith("-03:30")  # the session really is elsewhere
        assert utc_wall == second.occurred_at.replace(tzinfo=None)  # the instant is stored right
        report = audit.verify_chain()
        assert report.ok, report.summary
        assert (report.head_seq, report.head_hash) == (2, second.chain_hash)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
    reloaded = AuditEvent.objects.get(pk=first.pk)
    assert audit.event_fields(reloaded) == audit.event_fields(first)
    assert audit.verify_chain().ok


def test_floats_are_converted_to_strings_before_hashing(db):
    event = audit.atomic_record(action="test.numbers", payload={
        "auc": 0.1, "threshold": decimal.Decimal("0.500"), "nan": float("nan"),
        "nested": [{"x": 1.5e-7}], "count": 3, "flag": False,
    })
    event.refresh_from_db()
    assert event.payload == {"auc": "0.1", "threshold": "0.500", "nan": "nan",
                             "nested": [{"x": "1.5e-07"}], "count": 3, "flag": False}
    assert audit.verify_chain().ok


def test_canonical_bytes_refuse_a_float():
    with pytest.raises(audit.NotCanonical, match="Floats have no canonical form"):
        audit.canonical_bytes({"payload": {"x": 0.5}})


def test_outsider_text_that_postgresql_refuses_is_still_recorded(db):
    """A NUL or a lone surrogate (a crafted username) must not turn a write into an error."""
    event = audit.atomic_record(action="test.text", object_id="a\x00b",
                                payload={"who": "x\x00y", "s": "\ud800"})
    event.refresh_from_db()
    assert event.object_id == "a\ufffdb"
    assert event.payload == {"who": "x\ufffdy", "s": "\ufffd"}
    assert audit.verify_chain().ok


def test_payload_round_trips_through_the_database_unchanged(db):
    """What jsonb stores (and the verifier reads back as text) canonicalises to the same bytes."""
    payload = {"deep": {"list": [1, None, "two", {"k": "v"}]}, "big": 2**62, "neg": -1,
               "text": "ünï \u2028 \x01\x1f\t\n \"q\" \\ / 𝄞 ✓", "": "empty key",
               "longer key first?": 1, "b": 2, "aa": 3, "é": 4}
    event = audit.atomic_record(action="test.roundtrip", payload=payload)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.payload == payload
    assert json.loads(audit.canonical_bytes(audit.event_fields(stored)))["payload"] == payload
    assert audit.event_digest(audit.event_fields(stored)) == event.event_digest
    assert audit.verify_chain().ok
