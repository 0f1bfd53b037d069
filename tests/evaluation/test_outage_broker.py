"""The broker goes down and comes back: a RabbitMQ node of the test's own (a second node beside
the shared one, with its own name, ports and database), stopped and started for real.

* Launching an evaluation while the node is down succeeds at once: the run waits as queued in
  the database, and the reaper (what beat calls every minute) sends its task again once the
  broker is back. A real worker then completes it, once.
* The worker reconnects by itself after the node restarts, and takes the next run.
* SIGTERM makes the worker finish the run it is computing (warm shutdown) before it exits.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from core.models import AuditEvent
from evaluation import services as evaluation
from evaluation.models import Run, RunStatus
from tests.outage_services import OwnProcess, own_rabbitmq

pytestmark = [pytest.mark.outage, pytest.mark.worker]
REAL_RUN_QUEUE = evaluation.run_queue  # the autouse queued_runs fixture replaces it per test


def wait_for(run_id: int, predicate, timeout: float, what: str, worker: OwnProcess) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_id)
        if predicate(run):
            return run
        time.sleep(0.2)
    run = Run.objects.get(pk=run_id)
    raise AssertionError(f"timed out waiting for {what}: run {run.status} at {run.progress}% "
                         f"({run.step}) {run.error}\n{worker.output()[-3000:]}")


def start_worker(node_url: str, queue: str, tmp_path) -> OwnProcess:
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.outage_settings",
           "CELERY_BROKER_URL": node_url, "ASSAY_TEST_QUEUE": queue,
           "ASSAY_TEST_ARTIFACT_DIR": str(settings.ARTIFACT_DIR),
           "ASSAY_DATA_DIR": str(tmp_path / "data"), "ASSAY_DB_APP_ROLE": "",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    worker = OwnProcess([sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
                         "-c", "1", "--pool", "solo", "-n", f"outage-{queue}@%h",
                         "--without-heartbeat", "--without-gossip", "--without-mingle",
                         "-l", "INFO"], port=None, what="celery worker", env=env,
                        log=tmp_path / "worker.log")
    worker.start()
    return worker


def test_launches_survive_a_broker_outage_and_workers_reconnect(
        transactional_db, api, victor, german_data, queued_runs, monkeypatch, tmp_path):
    node = own_rabbitmq()
    queue = f"outage_evaluations_{node.port}"
    # The services publish through this app: to the test's node and queue only. (broker_write_url:
    # a CELERY_BROKER_URL in the environment would take precedence over broker_url.)
    app = Celery("outage-test", set_as_current=False)
    app.conf.update(broker_write_url=node.url, task_routes={evaluation.RUN_TASK: {"queue": queue}},
                    broker_connection_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
                    task_publish_retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY)
    assert app.connection_for_write().as_uri().endswith(f":{node.port}//")
    monkeypatch.setattr(evaluation, "current_app", app)
    queued_runs.send_to(REAL_RUN_QUEUE)
    client = api.as_(victor)

    def launch(n_bootstrap: int, **more: object) -> int:
        started = time.monotonic()
        answer = client.post("/api/v1/runs/", {"version": german_data.model.versions.get().pk,
                                               "dataset": german_data.pk,
                                               "options": {"n_bootstrap": n_bootstrap},
                                               **more}, format="json")
        assert answer.status_code == 201, answer.json()
        assert time.monotonic() - started < 15, "the launch waited on the broker"
        return answer.json()["id"]

    worker = None
    try:
        first = launch(20)  # the node is not running: nothing listens on its port
        assert Run.objects.get(pk=first).status == RunStatus.QUEUED

        node.start()
        worker = start_worker(node.url, queue, tmp_path)
        time.sleep(1)
        settings.EVALUATION_REQUEUE_AFTER_S = 0
        assert evaluation.run_reap()["resent"] == 1  # what beat does every minute
        wait_for(first, lambda r: r.status == RunStatus.SUCCEEDED, 180, "the re-sent run",
                 worker)
        # Sent again while it runs or after, a duplicate finds nothing to do.
        assert evaluation.run_reap()["resent"] == 0

        node.stop()
        node.start()  # the worker reconnects by itself
        second = launch(20)
        wait_for(second, lambda r: r.status == RunStatus.SUCCEEDED, 180,
                 "the worker to reconnect and take the next run", worker)

        # Long enough to be caught running: the explanations (SHAP on a seeded sample) take
        # seconds (the bootstrap alone is now done in a fraction of a second).
        third = launch(200, checks=["performance", "explainability"])
        wait_for(third, lambda r: r.status == RunStatus.RUNNING, 120, "the third run to start",
                 worker)
        assert worker.stop(signal.SIGTERM, timeout=180) == 0  # warm shutdown
        assert Run.objects.get(pk=third).status == RunStatus.SUCCEEDED, worker.output()[-3000:]
        assert "warm shutdown" in worker.output().lower()
    finally:
        if worker is not None:
            worker.stop()
        node.close()
    assert AuditEvent.objects.filter(action="evaluation.run_complete").count() == 3
    assert AuditEvent.objects.filter(action="evaluation.run_start").count() == 3
