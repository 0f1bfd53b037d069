"""Mutation battery: a superuser bypasses the triggers and edits the trail; the verifier names
the first bad event and why. Each test runs in a transaction that is rolled back afterwards, so
the triggers are disabled only inside it."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from core import audit
from core.models import AuditEvent
from tests.conftest import as_login_role

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL triggers")


@pytest.fixture
def trail(db) -> list[AuditEvent]:
    events = [audit.atomic_record(action="test.event", object_type="thing", object_id=i,
                                  payload={"i": i, "note": f"event {i}"}) for i in range(1, 11)]
    assert audit.verify_chain().ok
    return events


def tamper(*statements: tuple[str, list]) -> None:
    """Run SQL as the superuser with the audit triggers disabled (until the statements end)."""
    with as_login_role(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")


def first_bad() -> tuple[int | None, str]:
    report = audit.verify_chain()
    assert not report.ok
    assert report.detail.startswith(f"event {report.first_bad_seq}:")
    return report.first_bad_seq, report.reason


def test_edited_payload_is_a_digest_mismatch(trail):
    tamper(("UPDATE core_auditevent SET payload = %s WHERE seq = 5",
            [json.dumps({"i": 5, "note": "nothing happened"})]))
    assert first_bad() == (5, audit.DIGEST_MISMATCH)


def test_edited_actor_is_a_digest_mismatch(trail):
    tamper(("UPDATE core_auditevent SET actor_username = 'someone_else' WHERE seq = 3", []))
    assert first_bad() == (3, audit.DIGEST_MISMATCH)


def test_edit_with_a_recomputed_digest_is_a_broken_link(trail):
    forged = AuditEvent.objects.get(seq=5)
    forged.payload = {"i": 5, "note": "rewritten"}
    digest = audit.event_digest(audit.event_fields(forged))
    tamper(("UPDATE core_auditevent SET payload = %s, event_digest = %s WHERE seq = 5",
            [json.dumps(forged.payload), digest]))
    assert first_bad() == (5, audit.BROKEN_LINK)


def test_deleted_row_is_a_gap(trail):
    tamper(("DELETE FROM core_auditevent WHERE seq = 4", []))
    report = audit.verify_chain()
    assert (report.first_bad_seq, report.reason) == (4, audit.GAP)
    assert report.checked == 3 and report.head_seq == 3
    assert "the next event stored is 5" in report.detail


def test_deleted_first_row_is_a_gap_at_one(trail):
    tamper(("DELETE FROM core_auditevent WHERE seq = 1", []))
    assert first_bad() == (1, audit.GAP)


def test_deleted_row_with_renumbered_rest_is_a_digest_mismatch(trail):
    tamper(("DELETE FROM core_auditevent WHERE seq = 4", []),
           ("UPDATE core_auditevent SET seq = seq - 1 WHERE seq > 4", []))
    assert first_bad() == (4, audit.DIGEST_MISMATCH)


def test_swapped_rows_are_caught_at_the_first(trail):
    """Exchange the contents of seq 3 and 7 (each row keeps the other's number)."""
    tamper(("UPDATE core_auditevent SET seq = -3 WHERE seq = 3", []),
           ("UPDATE core_auditevent SET seq = 3 WHERE seq = 7", []),
           ("UPDATE core_auditevent SET seq = 7 WHERE seq = -3", []))
    assert first_bad() == (3, audit.DIGEST_MISMATCH)


def test_reordered_rows_with_recomputed_digests_are_a_broken_link(trail):
    """A careful forger moves events 6..8 into the order 8, 6, 7 and re-digests them."""
    rows = {e.seq: e for e in AuditEvent.objects.filter(seq__in=[6, 7, 8])}
    statements = []
    for new_seq, old in zip([6, 7, 8], [rows[8], rows[6], rows[7]], strict=True):
        old.seq = new_seq
        statements.append(("UPDATE core_auditevent SET seq = %s, event_digest = %s WHERE id = %s",
                           [-new_seq, audit.event_digest(audit.event_fields(old)), old.pk]))
    statements.append(("UPDATE core_auditevent SET seq = -seq WHERE seq < 0", []))
    tamper(*statements)
    assert first_bad() == (6, audit.BROKEN_LINK)


def test_reordered_rows_without_new_digests_are_a_digest_mismatch(trail):
    tamper(("UPDATE core_auditevent SET seq = -seq WHERE seq IN (2, 3)", []),
           ("UPDATE core_auditevent SET seq = 3 WHERE seq = -2", []),
           ("UPDATE core_auditevent SET seq = 2 WHERE seq = -3", []))
    assert first_bad() == (2, audit.DIGEST_MISMATCH)


def test_truncated_tail_is_caught_against_the_expected_head(trail):
    """A cut-off tail leaves a consistent chain: only a known head (a signed checkpoint in part
    2) shows it, through ``expected``."""
    head_seq, head_hash = audit.chain_head()
    tamper(("DELETE FROM core_auditevent WHERE seq > 7", []))
    alone = audit.verify_chain()
    assert alone.ok and alone.head_seq == 7  # self-consistent on its own
    report = audit.verify_chain(expected={head_seq: head_hash})
    assert (report.ok, report.first_bad_seq, report.reason) == (False, 8, audit.TRUNCATED)
    assert "events up to seq 10 were expected, the trail ends at 7" in report.detail


def test_rechained_history_is_caught_against_an_expected_hash(trail):
    """Rewrite event 2 and recompute every digest and link after it: only a known hash shows it."""
    known = {5: audit.chain_hash_at(5)}
    statements, previous = [], audit.chain_hash_at(1)
    for event in AuditEvent.objects.filter(seq__gte=2).order_by("seq"):
        if event.seq == 2:
            event.payload = {"i": 2, "note": "history rewritten"}
        digest = audit.event_digest(audit.event_fields(event))
        previous = audit.link(previous, digest)
        statements.append(("UPDATE core_auditevent SET payload = %s, event_digest = %s, "
                           "chain_hash = %s WHERE seq = %s",
                           [json.dumps(event.payload), digest, previous, event.seq]))
    tamper(*statements)
    assert audit.verify_chain().ok
    report = audit.verify_chain(expected=known)
    assert (report.first_bad_seq, report.reason) == (5, audit.CHECKPOINT_MISMATCH)


def test_forged_row_inserted_in_the_middle(trail):
    """Shift 6..10 up by one and insert a well-formed forged event at 6 linked to 5."""
    forged = AuditEvent(seq=6, occurred_at=trail[5].occurred_at, actor_id=None,
                        actor_username="", request_id="", action="user.role_grant",
                        object_type="core.user", object_id="1", model_id=None,
                        payload={"role": "admin"})
    forged.event_digest = audit.event_digest(audit.event_fields(forged))
    forged.chain_hash = audit.link(audit.chain_hash_at(5), forged.event_digest)
    tamper(("UPDATE core_auditevent SET seq = -(seq + 1) WHERE seq >= 6", []),
           ("UPDATE core_auditevent SET seq = -seq WHERE seq < 0", []),
           ("INSERT INTO core_auditevent (seq, occurred_at, actor_id, actor_username, request_id,"
            " action, object_type, object_id, model_id, payload, event_digest, chain_hash) "
            "VALUES (6, %s, NULL, '', '', 'user.role_grant', 'core.user', '1', NULL, %s, %s, %s)",
            [forged.occurred_at, json.dumps(forged.payload), forged.event_digest,
             forged.chain_hash]))
    assert first_bad() == (7, audit.DIGEST_MISMATCH)


def test_forged_row_appended_without_the_right_link(trail):
    """The application role's forged append is refused by the database (test_audit_insert_guard);
    a superuser who switches the guard off to append one is still caught by verification."""
    forged = AuditEvent(seq=11, occurred_at=trail[-1].occurred_at, actor_id=None,
                        actor_username="", request_id="", action="model.delete",
                        object_type="x", object_id="1", model_id=None, payload={})
    forged.event_digest = audit.event_digest(audit.event_fields(forged))
    tamper(("INSERT INTO core_auditevent (seq, occurred_at, actor_id, actor_username, request_id,"
            " action, object_type, object_id, model_id, payload, event_digest, chain_hash) "
            "VALUES (11, %s, NULL, '', '', 'model.delete', 'x', '1', NULL, '{}', %s, %s)",
            [forged.occurred_at, forged.event_digest, "ab" * 32]))
    assert first_bad() == (11, audit.BROKEN_LINK)


def test_bad_genesis(trail):
    tamper(("UPDATE core_auditevent SET chain_hash = %s WHERE seq = 1", ["cd" * 32]))
    assert first_bad() == (1, audit.BAD_GENESIS)


def test_float_smuggled_into_a_payload_is_caught(trail):
    """A float has no canonical form: even with a digest computed over it, the row is refused."""
    import hashlib

    event = AuditEvent.objects.get(seq=4)
    event.payload = {"i": 4, "score": 0.25}
    fields = audit.event_fields(event)
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":"),
                                       ensure_ascii=False).encode()).hexdigest()
    tamper(("UPDATE core_auditevent SET payload = %s, event_digest = %s WHERE seq = 4",
            [json.dumps(event.payload), digest]))
    report = audit.verify_chain()
    assert (report.first_bad_seq, report.reason) == (4, audit.DIGEST_MISMATCH)
    assert "float" in report.detail
