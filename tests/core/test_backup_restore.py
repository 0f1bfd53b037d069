"""Backups: a dump of the database restored into a fresh PostgreSQL cluster verifies
(``verify_audit`` after a restore, as the README's production section says), and a backup that
lost its tail — events the signed checkpoints vouch for are not in it — is caught."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from core import audit, checkpoints, signing
from core.models import KeyPurpose
from tests.outage_services import ROOT, OwnPostgres

pytestmark = pytest.mark.outage


def dump(path: Path) -> Path:
    db = connection.settings_dict
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "-h",
                    db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], "-f", str(path),
                    db["NAME"]], check=True, capture_output=True, timeout=120)
    return path


def restore(cluster: OwnPostgres, backup: Path, name: str) -> str:
    subprocess.run([str(cluster.bin / "createdb"), "-h", "127.0.0.1", "-p", str(cluster.port),
                    "-U", "postgres", name], check=True, capture_output=True, timeout=30)
    subprocess.run([str(cluster.bin / "pg_restore"), "--no-owner", "--no-privileges",
                    "--exit-on-error", "-h", "127.0.0.1", "-p", str(cluster.port), "-U",
                    "postgres", "-d", name, str(backup)], check=True, capture_output=True,
                   timeout=120)
    return cluster.url(name)


def verify_audit(url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.outage_settings", "DATABASE_URL": url,
           "ASSAY_DB_APP_ROLE": "", "ASSAY_TEST_ARTIFACT_DIR": str(settings.ARTIFACT_DIR),
           "ASSAY_TEST_CHECKPOINT_FILE": str(settings.CHECKPOINT_FILE)}
    return subprocess.run([sys.executable, "manage.py", "verify_audit"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def events(n: int, label: str) -> None:
    for i in range(n):
        audit.atomic_record(action="test.event", object_type="thing", object_id=i,
                            payload={"label": label})


def test_a_restored_backup_verifies_and_one_that_lost_its_tail_is_caught(transactional_db,
                                                                         tmp_path):
    signing.active_key(KeyPurpose.AUDIT_CHECKPOINT)
    events(20, "before the first backup")
    checkpoints.checkpoint_create()
    older = dump(tmp_path / "older.dump")
    events(20, "after it")
    checkpoints.checkpoint_create()  # signed, in the database and in the file outside it
    latest = dump(tmp_path / "latest.dump")

    cluster = OwnPostgres()
    cluster.start()
    try:
        restored = verify_audit(restore(cluster, latest, "restored"))
        assert restored.returncode == 0, restored.stderr
        assert restored.stdout.startswith("OK: ")
        # The older backup lacks the last 20 events, which the latest checkpoint (kept in the
        # file outside the database) vouches for.
        lost_tail = verify_audit(restore(cluster, older, "lost_tail"))
        assert lost_tail.returncode == 1
        assert "checkpoint" in lost_tail.stderr.lower(), lost_tail.stderr
    finally:
        cluster.close()
