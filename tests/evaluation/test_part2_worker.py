"""Part 2's checks on a real Celery worker over RabbitMQ: one run of the demo German-credit model
computing robustness, explanations, drift against the reference data and the mitigation what-if
records one evidence per check and a finding for each threshold missed — the worker reading the
reference data set from storage itself. The queue is this test's own (``evalwire_`` prefix), so
no other worker on the shared broker takes the task."""

from __future__ import annotations

import time
import uuid

import pytest

from core.models import AuditEvent
from evaluation import services as evaluation
from evaluation.models import Run, RunStatus
from governance.models import Evidence, Finding
from tests.evaluation.test_part2_runs import (  # noqa: F401  (the module's policy fixture)
    FAST,
    PART2,
    evaluation_policy,
    reference_and_drifted,
)
from tests.evaluation.test_worker_kill import start_worker

pytestmark = pytest.mark.worker


def test_a_worker_computes_every_part2_check_into_evidence_and_findings(
        transactional_db, validating, victor, queued_runs, tmp_path):
    from config.celery import app

    reference, data = reference_and_drifted(validating.model, victor)
    queue = f"evalwire_part2_{uuid.uuid4().hex}"
    queued_runs.send_to(lambda run_id: app.send_task(evaluation.RUN_TASK, args=[run_id],
                                                     queue=queue))
    worker = start_worker("part2", queue, tmp_path)
    steps = set()
    try:
        run = evaluation.run_launch(actor=victor, version=validating, dataset=data,
                                    checks=PART2, options=FAST)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            run = Run.objects.get(pk=run.pk)
            steps.add(run.step)
            if run.is_finished:
                break
            time.sleep(0.1)
    finally:
        worker.terminate()
        log = worker.communicate(timeout=30)[0].decode(errors="replace")
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    assert run.status == RunStatus.SUCCEEDED, (run.status, run.error, log[-3000:])
    assert run.worker.startswith("part2@") and run.progress == 100
    assert steps & {f"Computing the {name} check" for name in PART2}, steps  # pages poll these
    for name in PART2:
        row = Evidence.objects.get(version=validating, check_name=name)
        assert row.status == "failed" and row.digest == run.results["checks"][name]["digest"]
        assert row.dataset_digests == [data.sha256, reference.sha256]
        assert row.artifact_digest == validating.artifact_sha256
        assert Finding.objects.filter(version=validating, source_key=f"check:{name}").count() == 1
    assert AuditEvent.objects.filter(action="evaluation.run_complete").count() == 1
    assert run.results["checks"]["drift"]["figures"]["features_drifted"] >= 1
