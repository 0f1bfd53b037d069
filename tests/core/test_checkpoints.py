"""Signed checkpoints catch what the chain alone cannot: a superuser's rewrite-and-rechain and a
restored backup that lost its tail."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings
from django.db import DatabaseError, connection, transaction

from core import audit, checkpoint_file, checkpoints, signing, verification
from core.models import AuditEvent, Checkpoint
from core.tasks import checkpoint_audit_chain
from core.verify_bundle import CHECKPOINT_PAYLOAD_TYPE
from tests.conftest import as_login_role


@contextmanager
def as_superuser_bypassing_triggers():
    """What an attacker with the database superuser can do: switch the audit triggers off.

    The suite runs as the application role (tests/conftest.py); this steps up to the login role.
    """
    with as_login_role():
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture
def key(db):
    """The checkpoint key, made up front (its creation is itself an audit event)."""
    return signing.active_key("audit_checkpoint")


def _events(n: int, **kwargs) -> list[AuditEvent]:
    return [audit.atomic_record(action="test.event", object_type="thing", object_id=i,
                                payload={"i": i}, **kwargs) for i in range(n)]


def _rechain_from(seq: int) -> None:
    """Recompute digest and chain hash of every event from ``seq`` on, as a careful forger would."""
    previous = AuditEvent.objects.filter(seq=seq - 1).values_list("chain_hash", flat=True).first() \
        or audit.GENESIS_HASH
    for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
        digest = audit.event_digest(audit.event_fields(event))
        previous = audit.link(previous, digest)
        AuditEvent.objects.filter(pk=event.pk).update(event_digest=digest, chain_hash=previous)


def _file_records() -> list[dict]:
    return [r for _n, r in checkpoint_file.records()]


def test_checkpoint_is_stored_signed_and_appended_to_the_file(key):
    events = _events(3)
    checkpoint = checkpoints.checkpoint_create()
    assert (checkpoint.seq, checkpoint.chain_hash) == (events[-1].seq, events[-1].chain_hash)
    payload, keyid = signing.verify(checkpoint.envelope, purpose="audit_checkpoint",
                                    payload_type=CHECKPOINT_PAYLOAD_TYPE)
    body = json.loads(payload)
    assert body["seq"] == events[-1].seq and body["chain_hash"] == events[-1].chain_hash
    assert keyid == checkpoint.keyid
    lines = [r for r in _file_records() if r["kind"] == "checkpoint"]
    assert len(lines) == 1 and lines[0]["envelope"] == checkpoint.envelope
    assert [r["event"] for r in _file_records() if r["kind"] == "key"] == ["created"]


def test_checkpoints_are_append_only_in_the_database(db):
    _events(1)
    checkpoint = checkpoints.checkpoint_create()
    if django_settings.DATABASE_APP_ROLE:  # the application role lacks the privilege altogether
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            Checkpoint.objects.filter(pk=checkpoint.pk).update(seq=99)
    with as_login_role():  # and the table's owner is stopped by the trigger
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            Checkpoint.objects.filter(pk=checkpoint.pk).update(seq=99)
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            Checkpoint.objects.filter(pk=checkpoint.pk).delete()
    checkpoint.refresh_from_db()
    assert checkpoint.seq != 99


def test_schedule_signs_only_when_there_are_new_events(db):
    assert checkpoint_audit_chain() is None  # empty trail
    signing.active_key("audit_checkpoint")
    assert checkpoint_audit_chain() == 1  # the key's creation is the first event
    first = _events(2)[-1]
    assert checkpoint_audit_chain() == first.seq
    assert checkpoint_audit_chain() is None
    assert Checkpoint.objects.count() == 2
    later = _events(1)[-1]
    assert checkpoint_audit_chain() == later.seq


def test_beat_schedule_is_configured():
    entry = django_settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert entry["task"] == "core.checkpoint_audit_chain"
    assert entry["schedule"] == django_settings.CHECKPOINT_INTERVAL_S == 600
    from config.celery import app
    app.loader.import_default_modules()
    assert "core.checkpoint_audit_chain" in app.tasks


def test_intact_trail_verifies_and_the_result_is_remembered(db):
    _events(4)
    checkpoints.checkpoint_create()
    _events(2)
    checkpoints.checkpoint_create()
    report = verification.verify_trail()
    assert report.ok, report.summary
    assert report.checkpoints.checked == 4  # two checkpoints, each from the database and the file
    assert report.summary.startswith("OK:")
    assert verification.last_result()["ok"] is True


def test_rewrite_and_rechain_by_the_superuser_is_caught_by_the_checkpoint(db):
    _events(5)
    checkpoint = checkpoints.checkpoint_create()
    with as_superuser_bypassing_triggers():
        AuditEvent.objects.filter(seq=2).update(payload={"i": "forged"})
        _rechain_from(2)
    chain = audit.verify_chain()
    assert chain.ok  # the chain alone is self-consistent again
    report = verification.verify_trail()
    assert not report.ok
    named = [p for p in report.checkpoints.problems if f"checkpoint #{checkpoint.pk}" in p]
    assert named and "checkpoint mismatch" in named[0] and "rewritten" in named[0]
    assert any(p.startswith("checkpoint mismatch: file checkpoint") for p in
               report.checkpoints.problems)
    assert report.summary.startswith("FAILED: checkpoint mismatch")


def test_rechain_that_also_deletes_the_database_checkpoints_is_caught_by_the_file(db):
    _events(3)
    checkpoints.checkpoint_create()
    with as_superuser_bypassing_triggers():
        AuditEvent.objects.filter(seq=3).update(action="test.other")
        _rechain_from(3)
        Checkpoint.objects.all().delete()
    report = verification.verify_checkpoints()
    assert [p for p in report.problems if "file checkpoint (line" in p and "rewritten" in p]


def test_restored_backup_that_lost_its_tail_is_caught(key):
    _events(6)
    checkpoint = checkpoints.checkpoint_create()
    with as_superuser_bypassing_triggers():  # the backup was taken before seq 6 and before the
        AuditEvent.objects.filter(seq__gte=6).delete()  # checkpoint row
        Checkpoint.objects.all().delete()
    assert audit.verify_chain().ok
    report = verification.verify_trail()
    assert not report.ok
    problem = report.checkpoints.problems[0]
    assert f"covers seq {checkpoint.seq}" in problem and "trail ends at seq 5" in problem
    assert "file checkpoint" in problem


def test_a_truncated_checkpoint_file_is_reported(db, own_files):
    _events(2)
    checkpoint = checkpoints.checkpoint_create()
    (own_files / "checkpoints.jsonl").write_text("")
    report = verification.verify_checkpoints()
    assert any(f"checkpoint #{checkpoint.pk}" in p and "missing from the checkpoint file" in p
               for p in report.problems)


def test_a_checkpoint_with_a_forged_signature_is_reported(db):
    _events(2)
    checkpoint = checkpoints.checkpoint_create()
    envelope = dict(checkpoint.envelope)
    sig = envelope["signatures"][0]
    envelope["signatures"] = [{"keyid": sig["keyid"], "sig": sig["sig"][:-8] + "AAAAAAA="}]
    checkpoint_file.append({"kind": "checkpoint", "envelope": envelope})
    report = verification.verify_checkpoints()
    assert any("is not validly signed" in p for p in report.problems)


def test_rotation_keeps_old_checkpoints_as_evidence(db):
    _events(2)
    checkpoints.checkpoint_create()
    signing.key_rotate(actor=signing.SYSTEM, purpose="audit_checkpoint")
    _events(1)
    checkpoints.checkpoint_create()
    report = verification.verify_trail()
    assert report.ok, report.summary
    assert len({c.keyid for c in Checkpoint.objects.all()}) == 2


def test_revoked_key_checkpoints_stop_counting_but_do_not_fail(db):
    _events(2)
    old = checkpoints.checkpoint_create()
    signing.key_revoke(actor=signing.SYSTEM, keyid=old.keyid, reason="key file copied")
    checkpoints.checkpoint_create()
    report = verification.verify_trail()
    assert report.ok, report.summary
    assert any("revoked key" in n for n in report.checkpoints.notes)


def test_a_revocation_written_only_into_the_database_is_reported(db):
    _events(2)
    checkpoint = checkpoints.checkpoint_create()
    with as_superuser_bypassing_triggers():
        from django.utils import timezone

        from core.models import SigningKey
        SigningKey.objects.filter(keyid=checkpoint.keyid).update(revoked_at=timezone.now())
    report = verification.verify_checkpoints()
    assert any("no record of that revocation" in p for p in report.problems)


def test_checkpoint_command_and_api(db, api, aude, dana, capsys):
    from django.core.management import call_command

    call_command("checkpoint")
    assert "checkpoint at seq" in capsys.readouterr().out.lower()
    call_command("checkpoint", if_new=True)
    assert "Nothing to sign" in capsys.readouterr().out
    listed = api.as_(aude).get("/api/v1/audit/checkpoints/")
    assert listed.status_code == 200
    assert listed.json()["results"][0]["seq"] == Checkpoint.objects.get().seq
    refused = api.as_(dana).get("/api/v1/audit/checkpoints/")
    assert refused.status_code == 403 and "auditors and administrators" in refused.json()["detail"]


def test_verify_audit_command_and_api_include_the_checkpoints(db, api, aude):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    _events(3)
    checkpoint = checkpoints.checkpoint_create()
    call_command("verify_audit")
    ok = api.as_(aude).get("/api/v1/audit/verify/").json()
    assert ok["ok"] is True and ok["checkpoints"]["checked"] == 2
    with as_superuser_bypassing_triggers():
        AuditEvent.objects.filter(seq=2).update(action="test.forged")
        _rechain_from(2)
    with pytest.raises(CommandError, match=f"checkpoint mismatch: checkpoint #{checkpoint.pk}"):
        call_command("verify_audit")
    body = api.as_(aude).get("/api/v1/audit/verify/").json()
    assert body["ok"] is False and body["chain_ok"] is True
    assert any(f"checkpoint #{checkpoint.pk}" in p for p in body["checkpoints"]["problems"])


@pytest.mark.worker
def test_scheduled_checkpoint_end_to_end_with_a_real_worker(transactional_db, settings, tmp_path):
    """The beat task, sent through RabbitMQ to a real worker process, signs the head."""
    import os
    import subprocess
    import sys
    import time
    import uuid
    from pathlib import Path

    from config.celery import app

    data_dir = tmp_path / "worker-data"
    settings.KEY_DIR = data_dir / "test" / "keys"  # where the worker's settings put them
    settings.CHECKPOINT_FILE = data_dir / "test" / "checkpoints.jsonl"
    signing.active_key("audit_checkpoint")
    head = _events(2)[-1]
    queue = f"signing-e2e-{uuid.uuid4().hex}"  # no other worker on the broker takes this task
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "ASSAY_DATA_DIR": str(data_dir),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1",
         "--pool", "solo", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "-l", "WARNING"],
        cwd=Path(__file__).resolve().parents[2], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        app.send_task("core.checkpoint_audit_chain", queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not Checkpoint.objects.exists():
            time.sleep(0.3)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    checkpoint = Checkpoint.objects.get()
    assert (checkpoint.seq, checkpoint.chain_hash) == (head.seq, head.chain_hash), output
    assert verification.verify_trail(remember=False).ok


# --- A crash between the file and the database (issue 11, item 12) ---------------------------

class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


def _checkpoint_lines() -> list[dict]:
    return [r for r in _file_records() if r and r.get("kind") == "checkpoint"]


def _assert_file_and_table_agree() -> None:
    """Same checkpoints in both, compared by their signatures (each signature is unique)."""
    in_file = sorted(r["envelope"]["signatures"][0]["sig"] for r in _checkpoint_lines())
    in_table = sorted(c.envelope["signatures"][0]["sig"] for c in Checkpoint.objects.all())
    assert in_file == in_table


def _interrupt_next_checkpoint(monkeypatch) -> None:
    """Make the next checkpoint die after its line is on disk, before its row commits."""
    original = checkpoint_file.append

    def append_then_die(record: dict) -> None:
        original(record)
        if record.get("kind") == "checkpoint":
            raise Killed

    monkeypatch.setattr(checkpoint_file, "append", append_then_die)
    with pytest.raises(Killed):
        checkpoints.checkpoint_create()
    monkeypatch.setattr(checkpoint_file, "append", original)


def test_a_checkpoint_interrupted_after_its_line_is_completed_by_the_next_run(key, monkeypatch):
    from django.core.management import call_command

    head = _events(3)[-1]
    _interrupt_next_checkpoint(monkeypatch)
    assert Checkpoint.objects.count() == 0 and len(_checkpoint_lines()) == 1  # the extra line
    pending = verification.verify_checkpoints()
    assert pending.ok, pending.problems  # a true statement about a committed head, noted
    assert any("interrupted" in n for n in pending.notes)

    later = _events(2)[-1]
    checkpoint = checkpoints.checkpoint_create()
    assert checkpoint.seq == later.seq
    completed = Checkpoint.objects.get(seq=head.seq)
    assert completed.envelope == _checkpoint_lines()[0]["envelope"]
    assert completed.chain_hash == head.chain_hash and completed.reason == "manual"
    _assert_file_and_table_agree()
    report = verification.verify_trail()
    assert report.ok and not report.checkpoints.notes, report.summary
    call_command("verify_audit")


def test_the_schedule_completes_an_interrupted_checkpoint_without_signing_twice(db, monkeypatch):
    _events(2)
    _interrupt_next_checkpoint(monkeypatch)
    assert checkpoint_audit_chain() is None  # the completed checkpoint already covers the head
    assert Checkpoint.objects.count() == 1
    _assert_file_and_table_agree()


def test_an_orphan_line_that_does_not_verify_is_not_completed(db):
    _events(2)
    checkpoint = checkpoints.checkpoint_create()
    forged = json.loads(json.dumps(checkpoint.envelope))
    sig = forged["signatures"][0]
    forged["signatures"] = [{"keyid": sig["keyid"], "sig": sig["sig"][:-8] + "AAAAAAA="}]
    checkpoint_file.append({"kind": "checkpoint", "seq": checkpoint.seq,
                            "keyid": checkpoint.keyid, "envelope": forged})
    _events(1)
    checkpoints.checkpoint_create()
    assert not Checkpoint.objects.filter(envelope=forged).exists()
    report = verification.verify_checkpoints()
    assert any("is not validly signed" in p for p in report.problems)
    assert any("have no row in the database" in p for p in report.problems)


def test_a_line_with_edited_unsigned_fields_does_not_get_a_second_row(key, own_files):
    """Rows are matched by what is signed, not by the line's plain seq and keyid fields."""
    _events(2)
    checkpoint = checkpoints.checkpoint_create()
    path = own_files / "checkpoints.jsonl"
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    last.update(seq=1, keyid="0" * 64)
    path.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    checkpoints.checkpoint_create(if_new=True)
    assert list(Checkpoint.objects.values_list("pk", flat=True)) == [checkpoint.pk]
    _assert_file_and_table_agree()


def test_checkpoint_rows_missing_behind_later_ones_are_a_problem(db):
    _events(2)
    first = checkpoints.checkpoint_create()
    _events(1)
    checkpoints.checkpoint_create()
    with as_superuser_bypassing_triggers():
        Checkpoint.objects.filter(pk=first.pk).delete()
    report = verification.verify_checkpoints()
    assert any("1 checkpoint(s) in the checkpoint file have no row in the database, first file "
               "checkpoint (line" in p for p in report.problems), report.problems


def test_a_checkpoint_is_never_signed_inside_a_callers_transaction(key):
    """A rollback after the line was written would leave a signed head that never existed."""
    _events(1)
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        audit.record(action="test.uncommitted")
        checkpoints.checkpoint_create()
    assert _checkpoint_lines() == []


def test_the_last_record_is_found_from_the_end_across_blocks(db, monkeypatch, own_files):
    monkeypatch.setattr(checkpoint_file, "_TAIL_BLOCK", 16)
    assert checkpoint_file.last_record("checkpoint") is None  # no file yet
    for n in range(5):
        checkpoint_file.append({"kind": "checkpoint", "n": n, "pad": "x" * (7 * n)})
    checkpoint_file.append({"kind": "key", "event": "created"})
    with (own_files / "checkpoints.jsonl").open("a") as handle:
        handle.write('{"kind": "checkpoint", "n": 99, "torn')  # a write cut short
    assert checkpoint_file.last_record("checkpoint") == {"kind": "checkpoint", "n": 4,
                                                         "pad": "x" * 28}
    assert checkpoint_file.last_record("key") == {"kind": "key", "event": "created"}
    assert checkpoint_file.last_record("other") is None


# The child signs a checkpoint and stops for good once its line is on disk; the parent kills it.
STALL_AFTER_THE_LINE = """
import sys, time
import django
django.setup()
from core import checkpoint_file, checkpoints
original = checkpoint_file.append
def append_then_stall(record):
    original(record)
    if record.get("kind") == "checkpoint":
        print("line written", flush=True)
        time.sleep(120)
checkpoint_file.append = append_then_stall
checkpoints.checkpoint_create()
print("not killed", flush=True)
"""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second process needs a server")
def test_sigkill_mid_checkpoint_then_the_next_run_reconciles(transactional_db, settings,
                                                             tmp_path):
    """A real process is SIGKILLed between its line and its commit."""
    import os
    import select
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from django.core.management import call_command

    data_dir = tmp_path / "child-data"
    settings.KEY_DIR = data_dir / "test" / "keys"  # where the child's settings put them
    settings.CHECKPOINT_FILE = data_dir / "test" / "checkpoints.jsonl"
    signing.active_key("audit_checkpoint")
    head = _events(3)[-1]
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "ASSAY_DATA_DIR": str(data_dir),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    if django_settings.DATABASE_APP_ROLE:
        env["ASSAY_DB_APP_ROLE"] = django_settings.DATABASE_APP_ROLE  # as production runs
    child = subprocess.Popen([sys.executable, "-c", STALL_AFTER_THE_LINE],
                             cwd=Path(__file__).resolve().parents[2], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait (bounded) until the child's line is on disk; a child that failed closes stdout.
        ready, _, _ = select.select([child.stdout], [], [], 120)
        first = child.stdout.readline() if ready else "(no answer within 120 s)"
        assert first == "line written\n", first + (child.stderr.read() if ready else "")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    assert Checkpoint.objects.count() == 0  # the kill rolled the row back...
    assert len(_checkpoint_lines()) == 1  # ...and left the extra signed line
    later = _events(1)[-1]
    assert checkpoints.checkpoint_create().seq == later.seq  # waits for the dead one's lock
    assert Checkpoint.objects.filter(seq=head.seq).exists()
    _assert_file_and_table_agree()
    assert verification.verify_trail(remember=False).ok
    call_command("verify_audit")
