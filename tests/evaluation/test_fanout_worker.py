"""A large run fanned out as Celery chords to two real workers on RabbitMQ (queues of this
test's own, chords counted in Redis) gives the figures of one pass over the same rows."""

from __future__ import annotations

import io
import uuid

import pandas as pd
import pytest

from evaluation import engine
from evaluation import services as evaluation
from evaluation.models import RunChunk, RunStatus
from registry.artifacts import inspect_artifact
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE
from tests.evaluation.test_chunked import assert_same
from tests.evaluation.test_worker_kill import (
    model_with_data,
    start_worker,
    stop_workers,
    wait_for,
)

pytestmark = pytest.mark.worker


def test_a_large_run_fans_out_to_two_workers_and_gives_the_one_pass_figures(
        transactional_db, people, demo_onnx, queued_runs, tmp_path):
    from config.celery import app

    frame = pd.read_csv(GERMAN_CSV)
    version, dataset = model_with_data(people, demo_onnx, frame, "german_credit.csv")
    queue = f"evalscale_fanout_{uuid.uuid4().hex}"
    queued_runs.send_to(lambda run_id: app.send_task(evaluation.RUN_TASK, args=[run_id],
                                                     queue=queue))
    # Every data set is "large" for these workers: 1,000 rows in 4 chunks of 250.
    environment = {"ASSAY_EVALUATION_FAN_OUT_ABOVE_BYTES": "0",
                   "ASSAY_EVALUATION_CHUNK_ROWS": "250", "ASSAY_EVALUATION_LEASE_S": "30"}
    workers = [start_worker(name, queue, tmp_path, environment) for name in ("one", "two")]
    try:
        run = evaluation.run_launch(actor=people["dana"], version=version, dataset=dataset,
                                    options={"n_bootstrap": 20})
        run = wait_for(lambda r: r.is_finished, 240, "the workers to finish the run")
    finally:
        log = stop_workers(list(workers), queue)
    assert run.status == RunStatus.SUCCEEDED, (run.error, log[-3000:])
    # Two stages (calibration's quantile bins, the AUC intervals) of four chunks each.
    assert log.count("evaluation.evaluate_chunk[") >= 8 * 2  # received and succeeded
    assert log.count("evaluation.merge_chunks[") >= 2 * 2
    assert not RunChunk.objects.exists()
    specs = [t.as_dict() for t in inspect_artifact(io.BytesIO(demo_onnx),
                                                   max_bytes=10**9).inputs]
    one_pass = engine.evaluate(
        task="binary_classification", model_bytes=demo_onnx, input_specs=specs, frame=frame,
        label_column="good_credit", favourable_class=run.favourable_class,
        threshold=run.threshold, checks=run.checks, sensitive_features=SENSITIVE,
        options=run.options)
    assert_same(one_pass.results["checks"], run.results["checks"])
