"""The worker-kill test: a real Celery worker on RabbitMQ is killed (SIGKILL) in the middle of an
evaluation; RabbitMQ delivers the unacknowledged task again to a second worker, which waits for
the dead worker's lease to run out, takes the run over and completes it — exactly once: one
evidence record per check and one completion event in the audit trail."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings
from django.db import connection

from core.models import AuditEvent
from evaluation import services as evaluation
from evaluation.models import Dataset, Run, RunStatus
from governance import services as governance
from governance.models import Evidence
from registry import services as registry
from registry.models import ModelVersion
from tests.evaluation.conftest import GERMAN_CSV, MEDIUM, SENSITIVE
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.worker
ROOT = Path(__file__).resolve().parents[2]


def start_worker(name: str, queue: str, tmp_path: Path,
                 environment: dict[str, str] | None = None) -> subprocess.Popen:
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.evaluation.worker_settings",
           "ASSAY_TEST_QUEUE": queue, "ASSAY_TEST_ARTIFACT_DIR": str(settings.ARTIFACT_DIR),
           "ASSAY_DATA_DIR": str(tmp_path / "data"),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           **(environment or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1",
         "--pool", "solo", "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip",
         "--without-mingle", "-l", "INFO"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def model_with_data(people, demo_onnx: bytes, frame: pd.DataFrame,
                    filename: str) -> tuple[ModelVersion, Dataset]:
    """The demo model registered, its version, and ``frame`` uploaded as its data set."""
    governance.ensure_policy_templates()
    model = registry.model_create(actor=people["dana"], team=people["dana"].teams.first(),
                                  **model_fields(name="German credit scorecard"))
    governance.intake_record(actor=people["dana"], model=model, is_model=True, answers=MEDIUM,
                             rationale="A scorecard.")
    artifact = io.BytesIO(demo_onnx)
    artifact.name = "german_credit.onnx"
    version = registry.version_create(actor=people["dana"], model=model, artifact=artifact)
    data = io.BytesIO(frame.to_csv(index=False).encode())
    dataset = evaluation.dataset_upload(actor=people["dana"], model=model, file=data,
                                        filename=filename, label_column="good_credit",
                                        sensitive_features=SENSITIVE)
    return version, dataset


def stop_workers(workers: list[subprocess.Popen | None], queue: str) -> str:
    """Stop the workers still running and delete the test's queue; their output."""
    from config.celery import app

    outputs = []
    for worker in workers:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            outputs.append(worker.communicate(timeout=30)[0].decode(errors="replace"))
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)
    return "\n".join(outputs)


def wait_for(predicate, timeout: float, what: str) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get()
        if predicate(run):
            return run
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; the run is {Run.objects.get().status} "
                         f"at {Run.objects.get().progress}% ({Run.objects.get().step})")


def test_a_killed_worker_is_replaced_and_the_run_completes_exactly_once(
        transactional_db, people, demo_onnx, queued_runs, tmp_path):
    """Evaluation tasks go to a queue of this test's own: no other worker takes them."""
    from config.celery import app

    # 40 copies of the German credit data and 4,000 bootstrap replicates: a run of some
    # seconds, long enough to be killed in the middle.
    frame = pd.concat([pd.read_csv(GERMAN_CSV)] * 40, ignore_index=True)
    version, dataset = model_with_data(people, demo_onnx, frame, "german_x40.csv")

    queue = f"evaluations-kill-test-{uuid.uuid4().hex}"
    # Launching queues the task on commit, here on the test's own queue (the workers' settings
    # route their retries there too).
    queued_runs.send_to(lambda run_id: app.send_task(evaluation.RUN_TASK, args=[run_id],
                                                     queue=queue))
    first = start_worker("first", queue, tmp_path)
    second = None
    outputs = []
    try:
        run = evaluation.run_launch(actor=people["dana"], version=version, dataset=dataset,
                                    options={"n_bootstrap": 4000})  # committed: queued now
        run = wait_for(lambda r: r.status == RunStatus.RUNNING and r.progress >= 20, 120,
                       "the first worker to be computing")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        outputs.append(first.stdout.read().decode(errors="replace"))
        killed_at = Run.objects.get()
        assert killed_at.status == RunStatus.RUNNING and killed_at.attempts == 1
        assert killed_at.progress < 92, "the run ended before the worker was killed"
        assert not Evidence.objects.exists()

        second = start_worker("second", queue, tmp_path)
        run = wait_for(lambda r: r.is_finished, 240, "the second worker to finish the run")
    finally:
        outputs.append(stop_workers([first, second], queue))
    log = "\n".join(outputs)
    assert run.status == RunStatus.SUCCEEDED, (run.error, log[-3000:])
    assert run.attempts == 2 and run.worker.startswith("second@"), log[-3000:]
    rows = Evidence.objects.filter(version=version)
    assert sorted(rows.values_list("check_name", flat=True)) == ["bias", "calibration",
                                                                 "performance"]
    assert AuditEvent.objects.filter(action="evaluation.run_complete").count() == 1
    assert AuditEvent.objects.filter(action="evidence.record").count() == 3
    assert AuditEvent.objects.filter(action="evaluation.run_start").count() == 2
    completion = AuditEvent.objects.get(action="evaluation.run_complete")
    assert completion.request_id == f"task:{run.task_id}"
