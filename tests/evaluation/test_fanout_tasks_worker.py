"""A multiclass and a regression run fanned out as Celery chords to two real workers on RabbitMQ
(queues of this test's own, chords counted in Redis) give the figures of one pass over the same
rows, as the binary run does in test_fanout_worker.py."""

from __future__ import annotations

import time
import uuid

import pandas as pd
import pytest

from evaluation import engine
from evaluation import services as evaluation
from evaluation.models import Run, RunChunk, RunStatus
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE
from tests.evaluation.part2_models import multiclass_frame, multiclass_model, tree_model
from tests.evaluation.test_chunked import assert_same, numbers_close
from tests.evaluation.test_chunked_tasks import registered
from tests.evaluation.test_worker_kill import start_worker, stop_workers

pytestmark = pytest.mark.worker


def test_multiclass_and_regression_runs_fan_out_to_two_workers_with_one_pass_figures(
        transactional_db, people, queued_runs, tmp_path):
    from config.celery import app

    german = pd.read_csv(GERMAN_CSV).drop(columns=["good_credit"])
    features, band = multiclass_frame(german)
    multiclass = (registered(people, "multiclass_classification", multiclass_model(),
                             features.assign(amount_band=band), "amount_band", "high"),
                  features.assign(amount_band=band), list(engine.PART_1))
    regression = (registered(people, "regression", tree_model("gbr"), german,
                             "credit_amount", ""),
                  german, ["performance", "bias", "robustness"])
    queue = f"wt_h13_fanout_tasks_{uuid.uuid4().hex}"
    queued_runs.send_to(lambda run_id: app.send_task(evaluation.RUN_TASK, args=[run_id],
                                                     queue=queue))
    # Every data set is "large" for these workers: 1,000 rows in 4 chunks of 250.
    environment = {"ASSAY_EVALUATION_FAN_OUT_ABOVE_BYTES": "0",
                   "ASSAY_EVALUATION_CHUNK_ROWS": "250", "ASSAY_EVALUATION_LEASE_S": "30"}
    workers = [start_worker(name, queue, tmp_path, environment) for name in ("one", "two")]
    runs: list[Run] = []
    try:
        for (version, dataset), _frame, checks in (multiclass, regression):
            run = evaluation.run_launch(actor=people["dana"], version=version, dataset=dataset,
                                        checks=checks, options={"n_bootstrap": 20})
            runs.append(run)
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and not all(r.is_finished for r in runs):
            time.sleep(0.5)
            for run in runs:
                run.refresh_from_db()
    finally:
        log = stop_workers(list(workers), queue)
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
