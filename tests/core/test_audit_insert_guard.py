"""The database refuses an audit row that is not the next link of the chain (migration core/0004).

Before the guard, the application role could INSERT any row: verification named it, but the trail
stayed broken for good. Now only ``seq = previous + 1`` with ``chain_hash = sha256(previous
chain_hash || event_digest)`` lands, whoever inserts it. The expected values here are computed
with hashlib, not with ``core.audit.link``, so the test does not lean on the code it checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core import audit
from core.models import AuditEvent
from tests.conftest import as_login_role

REPO = Path(__file__).resolve().parents[2]
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="the insert guard is a PostgreSQL trigger")


def _next_link(previous_hash: str, digest: str) -> str:
    return hashlib.sha256(bytes.fromhex(previous_hash) + bytes.fromhex(digest)).hexdigest()


def _event(seq: int, *, note: str = "forged") -> AuditEvent:
    """An unsaved event with a correct digest for its contents; chain_hash left to the caller."""
    event = AuditEvent(seq=seq, occurred_at=timezone.now(), actor_id=None, actor_username="",
                       request_id="", action="user.role_grant", object_type="core.user",
                       object_id="1", model_id=None, payload={"role": "admin", "note": note})
    event.event_digest = audit.event_digest(audit.event_fields(event))
    return event


def _linked(seq: int, previous_hash: str, *, note: str = "forged") -> AuditEvent:
    event = _event(seq, note=note)
    event.chain_hash = _next_link(previous_hash, event.event_digest)
    return event


def _refused(event: AuditEvent, *, table: str = "") -> str:
    """Insert ``event`` in a savepoint, through the ORM or as raw SQL into ``table``; return the
    database's refusal (fail if the row landed)."""
    try:
        with transaction.atomic():
            if not table:
                event.save(force_insert=True)
                return pytest.fail(f"the row with seq {event.seq} was accepted")
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (seq, occurred_at, actor_username, request_id, action, "  # noqa: S608
                    "object_type, object_id, payload, event_digest, chain_hash) "
                    "VALUES (%s, %s, '', '', %s, %s, %s, %s, %s, %s)",
                    [event.seq, event.occurred_at, event.action, event.object_type,
                     event.object_id, json.dumps(event.payload), event.event_digest,
                     event.chain_hash])
    except DatabaseError as exc:
        return str(exc)
    return pytest.fail(f"the row with seq {event.seq} was accepted")


@pytest.fixture
def trail(db) -> list[AuditEvent]:
    return [audit.atomic_record(action="test.event", object_type="thing", object_id=i,
                                payload={"i": i}) for i in range(1, 6)]


@postgresql_only
@pytest.mark.parametrize("offset", [2, 10, 0, -1, -5])
def test_a_wrong_seq_is_refused(trail, app_role, offset):
    head = trail[-1]
    forged = _linked(head.seq + offset, head.chain_hash)
    message = _refused(forged)
    assert f"seq {head.seq + offset} was given, the next is {head.seq + 1}" in message
    assert AuditEvent.objects.count() == len(trail)
    assert audit.verify_chain().ok


@postgresql_only
@pytest.mark.parametrize("wrong", ["made_up", "linked_to_an_older_event", "uppercase",
                                   "hex_text_concatenated"])
def test_a_wrong_chain_hash_is_refused(trail, app_role, wrong):
    head = trail[-1]
    forged = _event(head.seq + 1)
    right = _next_link(head.chain_hash, forged.event_digest)
    forged.chain_hash = {
        "made_up": "ab" * 32,
        "linked_to_an_older_event": _next_link(trail[-2].chain_hash, forged.event_digest),
        "uppercase": right.upper(),
        # the link is over the raw bytes, not over the hex text (docs/audit.md)
        "hex_text_concatenated": hashlib.sha256(
            (head.chain_hash + forged.event_digest).encode()).hexdigest(),
    }[wrong]
    message = _refused(forged)
    assert f"the chain_hash of seq {head.seq + 1} must be sha256(chain hash of seq {head.seq} " \
           f"|| event_digest) = {right}" in message
    assert audit.verify_chain().ok


@postgresql_only
def test_a_digest_that_is_not_hex_is_refused(trail, app_role):
    forged = _event(trail[-1].seq + 1)
    forged.event_digest = "not a digest"
    forged.chain_hash = "ab" * 32
    assert "invalid hexadecimal" in _refused(forged)


@postgresql_only
def test_correct_looking_rows_out_of_order_are_refused(trail, app_role):
    """Two rows precomputed as a correct continuation: the later one cannot land first."""
    head = trail[-1]
    first = _linked(head.seq + 1, head.chain_hash, note="first")
    second = _linked(head.seq + 2, first.chain_hash, note="second")
    assert f"seq {head.seq + 2} was given, the next is {head.seq + 1}" in _refused(second)
    # In order they are the next two links, whoever computed them: the guard keeps the chain
    # whole; whether an event is true is for the application (and its digest for verification).
    with transaction.atomic():
        first.save(force_insert=True)
        second.save(force_insert=True)
    report = audit.verify_chain()
    assert report.ok and report.head_seq == head.seq + 2


@postgresql_only
def test_the_first_event_must_link_to_the_genesis(db, app_role):
    forged = _event(1)
    forged.chain_hash = forged.event_digest  # a plausible mistake: no link at all
    assert "must be sha256(chain hash of seq 0 || event_digest)" in _refused(forged)
    assert _refused(_linked(2, "0" * 64))  # nor may the trail start anywhere but at 1
    accepted = _linked(1, "0" * 64)
    with transaction.atomic():
        accepted.save(force_insert=True)
    assert audit.verify_chain().ok


@postgresql_only
def test_a_temporary_table_cannot_stand_in_for_the_trail(trail, app_role):
    """A session's temporary tables come first in its search path; the guard's does not use it."""
    fake_head = "cd" * 32
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        real_table = f"{connection.ops.quote_name(cursor.fetchone()[0])}.core_auditevent"
        cursor.execute("CREATE TEMPORARY TABLE core_auditevent (seq bigint, chain_hash text)")
        cursor.execute("INSERT INTO core_auditevent VALUES (%s, %s)", [99, fake_head])
    try:
        assert f"seq 100 was given, the next is {trail[-1].seq + 1}" in _refused(
            _linked(100, fake_head), table=real_table)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE pg_temp.core_auditevent")
    assert audit.verify_chain().ok


@postgresql_only
def test_the_owner_is_refused_too(trail):
    with as_login_role():
        message = _refused(_linked(trail[-1].seq + 3, trail[-1].chain_hash))
    assert "was given, the next is" in message


@postgresql_only
def test_appends_through_record_still_work_and_verify(trail, app_role):
    more = [audit.atomic_record(action="test.more", payload={"n": n}) for n in range(3)]
    assert [e.seq for e in more] == [6, 7, 8]
    assert more[0].chain_hash == _next_link(trail[-1].chain_hash, more[0].event_digest)
    assert audit.verify_chain().ok


def test_embedded_sqlite_keeps_detection_only(tmp_path):
    """On SQLite there is no trigger: a forged row lands, and verification names it."""
    script = textwrap.dedent("""
        import django
        django.setup()
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        from django.db import connection
        from core import audit
        for i in range(3):
            audit.atomic_record(action="test.event", payload={"i": i})
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO core_auditevent (seq, occurred_at, actor_username, request_id, "
                "action, object_type, object_id, payload, event_digest, chain_hash) VALUES "
                "(4, '2026-01-01 00:00:00', '', '', 'forged', '', '', '{}', %s, %s)",
                ["ab" * 32, "cd" * 32])
        report = audit.verify_chain()
        print(connection.vendor, report.first_bad_seq, report.reason)
    """)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
           "ASSAY_DATA_DIR": str(tmp_path), "CELERY_BROKER_URL": "memory://"}
    env.pop("ASSAY_DB_APP_ROLE", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["sqlite", "4", audit.DIGEST_MISMATCH]
