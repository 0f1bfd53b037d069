"""Once end to end: an export above the threshold goes through RabbitMQ (a queue of this test's
own, so no other worker takes it) to a real Celery worker, which makes and stores it and
notifies the requester."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from config.celery import app
from governance.models import Notification
from reports import jobs
from reports.models import ExportState, GeneratedReport
from tests.reports.conftest import export_bytes


@pytest.mark.worker
def test_an_export_goes_through_rabbitmq_to_a_real_worker(transactional_db, people, settings,
                                                          queued_exports, tmp_path):
    settings.REPORTS_WORKER_ABOVE_ROWS = 0
    # The worker's test settings keep files under its data folder: read them from there.
    settings.ARTIFACT_DIR = tmp_path / "data" / "test" / "artifacts"
    queue = f"reports-export-e2e-{uuid.uuid4().hex}"
    default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    queued_exports.use_broker()
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.governance.beat_settings",
           "ASSAY_TEST_QUEUE": queue, "ASSAY_DATA_DIR": str(tmp_path / "data"),
           "ASSAY_REPORTS_WORKER_ABOVE_ROWS": "0",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1",
         "--pool", "solo", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "-l", "WARNING"], cwd=Path(__file__).resolve().parents[2], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        job = jobs.export_request(actor=people["aude"], kind="audit_csv",
                                  params={"actor": "system"})
        assert job.on_worker and job.state == ExportState.QUEUED
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not GeneratedReport.objects.get(
                pk=job.pk).is_finished:
            time.sleep(0.3)
    finally:
        app.conf.task_default_queue = default_queue
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    job.refresh_from_db()
    assert job.state == ExportState.DONE, (job.state, job.error, output)
    assert hashlib.sha256(export_bytes(job)).hexdigest() == job.sha256
    assert export_bytes(job).startswith(b"seq,occurred_at,actor,action")
    assert Notification.objects.filter(user=people["aude"], kind="report_ready").count() == 1
