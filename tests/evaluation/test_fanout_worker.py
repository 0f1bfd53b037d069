"""Large runs fanned out as Celery chords to two real workers on RabbitMQ (queues of this test's
own, chords counted in Redis) give the figures of one pass over the same rows: binary,
multiclass and regression."""

from __future__ import annotations

import contextlib
import io
import time
import uuid
from collections.abc import Iterator

import pandas as pd
import pytest

from evaluation import engine
from evaluation import services as evaluation
from evaluation.models import Run, RunChunk, RunStatus
from registry.artifacts import inspect_artifact
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE
from tests.evaluation.part2_models import multiclass_frame, multiclass_model, tree_model
from tests.evaluation.test_chunked import assert_same, numbers_close
from tests.evaluation.test_chunked_tasks import registered
from tests.evaluation.test_worker_kill import (
    model_with_data,
    start_worker,
    stop_workers,
    wait_for,
)

pytestmark = pytest.mark.worker


@contextlib.contextmanager
def two_fanout_workers(queued_runs, tmp_path) -> Iterator[list[str]]:
    """Two workers on a queue of the test's own, for which every data set is "large": 1,000
    rows go in 4 chunks of 250. Runs launched meanwhile go to that queue; yields a list that
    holds the workers' log once they stopped."""
    from config.celery import app

    queue = f"evaluation_fanout_{uuid.uuid4().hex}"
    queued_runs.send_to(lambda run_id: app.send_task(evaluation.RUN_TASK, args=[run_id],
                                                     queue=queue))
    environment = {"ASSAY_EVALUATION_FAN_OUT_ABOVE_BYTES": "0",
                   "ASSAY_EVALUATION_CHUNK_ROWS": "250", "ASSAY_EVALUATION_LEASE_S": "30"}
    workers = [start_worker(name, queue, tmp_path, environment) for name in ("one", "two")]
    log: list[str] = []
    try:
        yield log
    finally:
        log.append(stop_workers(list(workers), queue))


def test_a_large_run_fans_out_to_two_workers_and_gives_the_one_pass_figures(
        transactional_db, people, demo_onnx, queued_runs, tmp_path):
    frame = pd.read_csv(GERMAN_CSV)
    version, dataset = model_with_data(people, demo_onnx, frame, "german_credit.csv")
    with two_fanout_workers(queued_runs, tmp_path) as logs:
        run = evaluation.run_launch(actor=people["dana"], version=version, dataset=dataset,
                                    options={"n_bootstrap": 20})
        run = wait_for(lambda r: r.is_finished, 240, "the workers to finish the run")
    (log,) = logs
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


def test_multiclass_and_regression_runs_fan_out_to_two_workers_with_one_pass_figures(
        transactional_db, people, queued_runs, tmp_path):
    german = pd.read_csv(GERMAN_CSV).drop(columns=["good_credit"])
    features, band = multiclass_frame(german)
    multiclass = (registered(people, "multiclass_classification", multiclass_model(),
                             features.assign(amount_band=band), "amount_band", "high"),
                  features.assign(amount_band=band), list(engine.PART_1))
    regression = (registered(people, "regression", tree_model("gbr"), german,
                             "credit_amount", ""),
                  german, ["performance", "bias", "robustness"])
    runs: list[Run] = []
    with two_fanout_workers(queued_runs, tmp_path) as logs:
        for (version, dataset), _frame, checks in (multiclass, regression):
            run = evaluation.run_launch(actor=people["dana"], version=version, dataset=dataset,
                                        checks=checks, options={"n_bootstrap": 20})
            runs.append(run)
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and not all(r.is_finished for r in runs):
            time.sleep(0.5)
            for run in runs:
                run.refresh_from_db()
    (log,) = logs
    for run in runs:
        assert run.status == RunStatus.SUCCEEDED, (run.status, run.step, run.error, log[-3000:])
    # Multiclass: two stages (calibration's quantile bins, the per-class AUC intervals) of four
    # chunks; regression: one stage of four.
    assert log.count("evaluation.evaluate_chunk[") >= (8 + 4) * 2  # received and succeeded
    assert log.count("evaluation.merge_chunks[") >= (2 + 1) * 2
    assert not RunChunk.objects.exists()
    for run, ((version, _dataset), frame, checks) in zip(runs, (multiclass, regression),
                                                         strict=True):
        one_pass = engine.evaluate(
            task=version.model.task, model_bytes=(multiclass_model() if run is runs[0]
                                                  else tree_model("gbr")).onnx_bytes,
            input_specs=version.input_schema, frame=frame, label_column=run.dataset.label_column,
            favourable_class=run.favourable_class, threshold=run.threshold, checks=checks,
            sensitive_features=SENSITIVE, options=run.options,
            monotone=version.monotone_features if "robustness" in checks else None)
        if "robustness" in checks:
            # Score shifts to 1e-6 (ONNX Runtime's float32 rounding per batch), the rest 1e-9.
            for name in checks:
                numbers_close(one_pass.results["checks"][name], run.results["checks"][name],
                              name, tolerance=1e-9 if name != "robustness" else 1e-6)
        else:
            assert_same(one_pass.results["checks"], run.results["checks"])
