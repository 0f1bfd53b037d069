"""The database restarts under a worker computing an evaluation: a PostgreSQL cluster of the
test's own (the test database copied in) and a real Celery worker on a queue of the test's own.
The worker treats the lost connection as transient: it retries with backoff, hands the run back
(the attempt not counted) and completes it once the database is back — never failing it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pandas as pd
import pytest
from django.conf import settings
from django.db import connection

from evaluation import services as evaluation
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE
from tests.outage_services import OwnPostgres, OwnProcess

pytestmark = [pytest.mark.outage, pytest.mark.worker]


def query(cluster: OwnPostgres, sql: str, run_id: int) -> str | None:
    """One value from the cluster's copy (``:run_id`` in ``sql`` is the run), or None while it
    is down."""
    answer = subprocess.run([str(cluster.bin / "psql"), "-h", "127.0.0.1", "-p",
                             str(cluster.port), "-U", "postgres", "-d", "assay", "-At", "-v",
                             f"run_id={int(run_id)}"], input=sql,
                            capture_output=True, text=True, timeout=20)
    return answer.stdout.strip() if answer.returncode == 0 else None


def wait_for(cluster: OwnPostgres, run_id: int, done, timeout: float, what: str,
             worker: OwnProcess) -> str:
    deadline = time.monotonic() + timeout
    row = None
    while time.monotonic() < deadline:
        row = query(cluster, "SELECT status || ' ' || progress FROM evaluation_run "
                             "WHERE id = :run_id", run_id)
        if row and done(*row.split()):
            return row
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (run: {row})\n"
                         f"{worker.output()[-4000:]}")


def test_a_worker_rides_out_a_database_restart_without_failing_the_run(
        transactional_db, victor, validating, tmp_path):
    from config.celery import app

    frame = pd.concat([pd.read_csv(GERMAN_CSV)] * 10, ignore_index=True)
    data = io.BytesIO(frame.to_csv(index=False).encode())
    dataset = evaluation.dataset_upload(actor=victor, model=validating.model, file=data,
                                        filename="german_x10.csv", label_column="good_credit",
                                        sensitive_features=SENSITIVE)
    run = evaluation.run_launch(actor=victor, version=validating, dataset=dataset,
                                options={"n_bootstrap": 2000})  # queued, not sent
    cluster = OwnPostgres()
    cluster.start()
    queue = f"outage_evaluations_db_{cluster.port}"
    worker = None
    try:
        url = cluster.copy_database(connection.settings_dict, "assay")
        worker = OwnProcess(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1",
             "--pool", "solo", "-n", f"{queue}@%h", "--without-heartbeat", "--without-gossip",
             "--without-mingle", "-l", "INFO"], port=None, what="celery worker",
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.outage_settings",
                 "DATABASE_URL": url, "ASSAY_DB_APP_ROLE": "", "ASSAY_TEST_QUEUE": queue,
                 "ASSAY_TEST_ARTIFACT_DIR": str(settings.ARTIFACT_DIR),
                 "ASSAY_DATA_DIR": str(tmp_path / "data"), "ASSAY_EVALUATION_LEASE_S": "30"},
            log=tmp_path / "worker.log")
        worker.start()
        app.send_task(evaluation.RUN_TASK, args=[run.pk], queue=queue)
        wait_for(cluster, run.pk, lambda status, progress: status == "running"
                 and int(progress) >= 15, 180, "the worker to be computing", worker)

        cluster.stop()
        # Down until the worker has met the outage (rather than for a fixed time).
        deadline = time.monotonic() + 60
        while "database connection was lost" not in worker.output():
            assert time.monotonic() < deadline, worker.output()[-4000:]
            time.sleep(0.2)
        cluster.start()
        wait_for(cluster, run.pk, lambda status, _p: status in ("succeeded", "failed"), 240,
                 "the run to finish", worker)
        outcome = query(cluster, "SELECT status || ' ' || attempts FROM evaluation_run "
                                 "WHERE id = :run_id", run.pk)
        assert outcome == "succeeded 1", worker.output()[-4000:]
        events = query(cluster, "SELECT string_agg(action, ',' ORDER BY seq) FROM "
                                "core_auditevent WHERE action LIKE 'evaluation.run_%' "
                                "AND object_id = :'run_id'", run.pk)
        assert events == ("evaluation.run_launch,evaluation.run_start,evaluation.run_release,"
                          "evaluation.run_start,evaluation.run_complete"), events
        assert "database connection was lost" in worker.output()
    finally:
        if worker is not None:
            worker.stop()
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
        cluster.close()
