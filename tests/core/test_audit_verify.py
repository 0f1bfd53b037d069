"""Verification through the API (auditors and administrators only) and ``manage.py verify_audit``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from core import audit
from tests.conftest import as_login_role

URL = "/api/v1/audit/verify/"


def _trail(n: int = 4) -> None:
    for i in range(n):
        audit.atomic_record(action="test.event", payload={"i": i})


def _break_event(seq: int) -> None:
    with as_login_role(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE core_auditevent SET action = 'forged' WHERE seq = %s", [seq])
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")


@pytest.mark.parametrize("who", ["aude", "adam"])
def test_auditors_and_administrators_verify(db, people, api, who):
    _trail()
    response = api.as_(people[who]).get(URL)
    assert response.status_code == 200
    body = response.json()
    head_seq, head_hash = audit.chain_head()
    assert body["ok"] is True
    assert (body["checked"], body["head_seq"], body["head_hash"]) == (head_seq, head_seq, head_hash)
    assert body["first_bad_seq"] is None and body["reason"] == ""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="tampering needs the triggers off")
def test_api_names_the_first_bad_event(db, aude, api):
    _trail()
    _break_event(2)
    body = api.as_(aude).get(URL).json()
    assert (body["ok"], body["first_bad_seq"], body["reason"]) == (False, 2, "digest_mismatch")
    assert "FAILED at seq 2 (digest_mismatch)" in body["summary"]


@pytest.mark.parametrize("who", ["dana", "victor", "rhea", "boris"])
def test_other_roles_are_refused_with_the_reason(db, people, api, who):
    response = api.as_(people[who]).get(URL)
    assert response.status_code == 403
    assert response.json()["detail"] == ("Only auditors and administrators can verify the audit "
                                          "trail.")


def test_anonymous_is_refused(db, client):
    response = client.get(URL)
    assert response.status_code in (401, 403)
    assert "credentials" in response.json()["detail"]


def test_verify_audit_command_reports_ok(db):
    _trail(3)
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().startswith("OK: 3 events verified")
    assert audit.chain_head()[1] in out.getvalue()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="tampering needs the triggers off")
def test_verify_audit_command_fails_with_the_first_bad_seq(db):
    _trail(3)
    _break_event(3)
    with pytest.raises(CommandError, match=r"broken at seq 3 \(digest_mismatch\)") as caught:
        call_command("verify_audit")
    assert caught.value.returncode == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="tampering needs the triggers off")
def test_verify_audit_exit_status_from_the_shell(transactional_db):
    """The real command in a process of its own: exit 0 when intact, 1 and the reason when not."""
    _trail(3)
    db = settings.DATABASES["default"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    if settings.DATABASE_APP_ROLE:
        env["ASSAY_DB_APP_ROLE"] = settings.DATABASE_APP_ROLE
    root = Path(__file__).resolve().parents[2]

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", "verify_audit"], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    ok = run()
    assert ok.returncode == 0, ok.stderr
    assert "OK: 3 events verified" in ok.stdout
    _break_event(2)
    broken = run()
    assert broken.returncode == 1
    assert "Audit chain broken at seq 2 (digest_mismatch)" in broken.stderr
