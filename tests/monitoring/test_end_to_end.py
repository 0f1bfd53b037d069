"""End to end: the gateway under gunicorn serving an approved version under a suspending
monitoring policy, a real Celery worker and a real beat on their own queue checking the plan
every 1.2 s. Drift injected into the logged predictions raises a finding, suspends the version,
and the gateway refuses it within its 2-second bound.

The worker and beat import the whole project (pandas, scipy, onnxruntime, weasyprint); on a loaded
machine that takes a minute or more, so the test first waits for the beat's scan to have run on the
worker, then logs traffic stamped now, as the gateway does (rows stamped before the last counted
window would never be counted)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.db import connection
from django.utils import timezone

from core.models import PeriodicRun
from governance.models import Finding, FindingSource
from monitoring import services
from monitoring.models import MonitoringPlan
from registry.models import VersionState
from tests.monitoring.conftest import log_predictions, population
from tests.serving.test_gateway_process import VISIBLE_WITHIN_S, Served, free_port, start_gateway

REPO = Path(__file__).resolve().parents[2]


def test_drift_in_the_log_suspends_and_the_gateway_refuses_within_2_seconds(
        transactional_db, suspending_policy, approve, validated, endpoint, app_key, trust_file,
        people, tmp_path):
    version = approve()
    validated(version)
    plan = MonitoringPlan.objects.get(version=version)
    # The owner asks for checks every 1.2 s; the validator agrees (the plan's one way to change).
    # The test's traffic comes in two bursts with empty 1.2-second windows between them, which
    # the volume statistic rightly calls a severe anomaly (traffic stopped) and would suspend
    # for, racing the drift this test is about; volume has tests of its own.
    thresholds = {name: limits for name, limits in plan.rules["thresholds"].items()
                  if name != "volume_change"}
    change = services.plan_change_propose(
        actor=people["dana"], plan=plan,
        rules={**plan.rules, "frequency_minutes": 0.02, "thresholds": thresholds},
        reason="Watch the launch closely.")
    services.plan_change_decide(actor=people["victor"], change=change, agree=True)
    scoring = endpoint("scoring", version)
    key = app_key(scoring, rate_limit=100_000)
    port = free_port()
    # On a loaded machine the gateway may take over a minute to import and start.
    gateway_proc = start_gateway(tmp_path, trust_file(), port, start_within_s=180)
    served = Served(port, key)
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.monitoring.beat_settings",
           "ASSAY_TEST_QUEUE": f"monitoring-e2e-{uuid.uuid4().hex}",
           "ASSAY_DATA_DIR": str(tmp_path / "data"),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    from django.conf import settings
    env["ASSAY_TEST_ARTIFACT_DIR"] = str(settings.ARTIFACT_DIR)
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "beat")}
    common = {"cwd": REPO, "env": env, "stderr": subprocess.STDOUT}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q",
         env["ASSAY_TEST_QUEUE"], "-c", "1", "--pool", "solo", "--without-heartbeat",
         "--without-gossip", "--without-mingle", "-l", "WARNING"],
        stdout=logs["worker"].open("wb"), **common)
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-s",
         str(tmp_path / "beat-schedule"), "--max-interval", "1", "-l", "WARNING"],
        stdout=logs["beat"].open("wb"), **common)

    def output() -> str:
        return "\n".join(f"--- {name}:\n{path.read_text(errors='replace')[-3000:]}"
                         for name, path in logs.items())

    try:
        assert served.post()[0] == 200
        # The beat's scan has run on the worker: both are up (importing takes a while).
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not PeriodicRun.objects.filter(
                task="monitoring.scan", runs__gt=0).exists():
            assert worker.poll() is None and beat.poll() is None, output()
            time.sleep(0.5)
        assert PeriodicRun.objects.filter(task="monitoring.scan", runs__gt=0).exists(), \
            "the beat's scan never ran on the worker\n" + output()
        # Stable traffic first: checks run and find nothing.
        log_predictions(version, population(300, seed=3), at=timezone.now())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not plan.checks.filter(rows__gt=300).exists():
            time.sleep(0.5)
        assert plan.checks.filter(rows__gt=300).exists(), "no check counted the rows\n" + output()
        assert not Finding.objects.filter(source=FindingSource.MONITORING).exists(), \
            list(plan.checks.values_list("statistics", "breaches"))
        assert served.post()[0] == 200
        # Drift injected into the logged predictions.
        log_predictions(version, population(600, seed=5, shift=True), at=timezone.now())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            version.refresh_from_db()
            if version.state == VersionState.SUSPENDED:
                break
            time.sleep(0.1)
        suspended_at = time.monotonic()
        assert version.state == VersionState.SUSPENDED, output()
        elapsed = served.until(lambda status, body: status == 503)
        _status, body = served.post()
    finally:
        for process in (beat, worker, gateway_proc):
            process.terminate()
        for process in (beat, worker, gateway_proc):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        from config.celery import app
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(env["ASSAY_TEST_QUEUE"])
    assert elapsed < VISIBLE_WITHIN_S, output()
    assert time.monotonic() - suspended_at < 30
    assert body["code"] == "not_servable" and "is suspended" in body["detail"]
    finding = Finding.objects.get(source=FindingSource.MONITORING, source_key="monitoring:max_psi")
    assert finding.severity == "high"
    version.governance.refresh_from_db()
    assert version.governance.revalidation_required_at is not None
