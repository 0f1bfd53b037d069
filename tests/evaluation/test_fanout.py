"""A run fanned out to several workers, step by step through the services (the chord itself runs
on real workers in test_fanout_worker.py): chunks stored once whatever the deliveries, the
progress counting them, a failing chunk failing the run with its reason, the merge waiting for
missing chunks, and the results those of one pass."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest

from evaluation import fanout, services
from evaluation.models import Run, RunChunk, RunStatus
from registry import storage
from tests.evaluation.conftest import GERMAN_CSV
from tests.evaluation.test_chunked import assert_same

CHUNK_ROWS = 300


@pytest.fixture
def fanning(settings, monkeypatch):
    """Chords are recorded here instead of sent; chunk rows of 300."""
    settings.EVALUATION_CHUNK_ROWS = CHUNK_ROWS
    sent: list[tuple] = []
    monkeypatch.setattr(fanout, "_send_stage",
                        lambda run_id, attempt, plan, stage, edges:
                        sent.append((run_id, attempt, plan.as_dict(), stage, edges)))
    return sent


def launch(version, dataset, actor, queued_runs, capture) -> Run:
    with capture(execute=True):
        run = services.run_launch(actor=actor, version=version, dataset=dataset,
                                  options={"n_bootstrap": 20})
    queued_runs.ids.clear()
    return run


def run_stage(sent: list[tuple], *, skip: int | None = None) -> list[str]:
    run_id, attempt, plan, stage, edges = sent[-1]
    chunks = math.ceil(plan["rows"] / plan["chunk_rows"])
    return [fanout.chunk_execute(run_id=run_id, attempt=attempt, plan=plan, stage=stage,
                                 index=i, edges=edges, worker="w")
            for i in range(chunks) if i != skip]


def merge(sent: list[tuple], which: int = -1) -> str:
    run_id, attempt, plan, stage, edges = sent[which]
    return fanout.merge_execute(run_id=run_id, attempt=attempt, plan=plan, stage=stage,
                                edges=edges)


def test_a_fanned_out_run_stores_each_chunk_once_and_records_the_one_pass_results(
        validating, german_data, victor, queued_runs, fanning,
        django_capture_on_commit_callbacks):
    whole = launch(validating, german_data, victor, queued_runs,
                   django_capture_on_commit_callbacks)
    assert services.run_execute(run_id=whole.pk, task_id="t0", worker="w") == "succeeded"
    whole.refresh_from_db()

    run = launch(validating, german_data, victor, queued_runs,
                 django_capture_on_commit_callbacks)
    assert fanout.run_fan_out(run_id=run.pk, task_id="t1", worker="w") == "fanned out"
    assert [s[3] for s in fanning] == [1]  # the first stage's chord, 4 chunks of 300 rows
    assert run_stage(fanning, skip=3) == ["done"] * 3
    run.refresh_from_db()
    assert (run.progress, run.step) == (5 + 85 * 3 // 8, "Chunk 3 of 8 evaluated")
    # A chunk delivered again stores nothing and does not move the progress.
    assert run_stage(fanning)[:3] == ["done already"] * 3
    assert RunChunk.objects.filter(run=run, stage=1).count() == 4
    run.refresh_from_db()
    assert run.step == "Chunk 4 of 8 evaluated"

    assert merge(fanning) == "second stage"
    assert merge(fanning, 0) == "second stage"  # fired twice: the second stage is sent once
    assert [s[3] for s in fanning] == [1, 2]
    assert run_stage(fanning, skip=0) == ["done"] * 3
    with pytest.raises(fanout.ChunksMissing):  # fired early: retried until the chunk is in
        merge(fanning)
    assert run_stage(fanning)[0] == "done"
    assert merge(fanning) == "succeeded"
    run.refresh_from_db()
    assert (run.status, run.progress) == (RunStatus.SUCCEEDED, 100)
    assert_same(whole.results["checks"], run.results["checks"])
    assert not RunChunk.objects.filter(run=run).exists()


def test_a_chunk_the_model_cannot_take_fails_the_run_with_its_reason(
        validating, german_data, victor, queued_runs, fanning,
        django_capture_on_commit_callbacks):
    # Uploads are checked whole, so a stored file whose third chunk the model cannot take is
    # put in place of the data set's file here (as a file damaged on disk would be).
    frame = pd.read_csv(GERMAN_CSV).astype({"duration": object})
    frame.loc[700, "duration"] = "twelve"
    bad = io.BytesIO(frame.to_csv(index=False).encode())
    sha256, size = storage.sha256_of(bad)
    storage.store(bad, sha256)
    german_data.sha256, german_data.size = sha256, size
    german_data.save(update_fields=["sha256", "size"])
    run = launch(validating, german_data, victor, queued_runs,
                 django_capture_on_commit_callbacks)
    assert fanout.run_fan_out(run_id=run.pk, task_id="t1", worker="w") == "fanned out"
    assert run_stage(fanning) == ["done", "done", "failed", "stopped"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("Chunk 3 of 4 (rows 601 to 900): ")
    assert "duration" in run.error
    assert not RunChunk.objects.filter(run=run).exists()
    assert merge(fanning) == "stopped"


def test_a_fanned_out_run_computes_robustness_and_drift_as_one_pass_does(
        validating, victor, queued_runs, fanning, settings,
        django_capture_on_commit_callbacks):
    from tests.evaluation.test_chunked import numbers_close
    from tests.evaluation.test_part2_runs import reference_and_drifted

    settings.EVALUATION_LEASE_S = 900  # runs in the test's transaction: no renewal needed
    _, data = reference_and_drifted(validating.model, victor)

    def launch_with_part2() -> Run:
        with django_capture_on_commit_callbacks(execute=True):
            run = services.run_launch(actor=victor, version=validating, dataset=data,
                                      checks=["performance", "robustness", "drift"],
                                      options={"n_bootstrap": 0})
        queued_runs.ids.clear()
        return run

    whole = launch_with_part2()
    assert services.run_execute(run_id=whole.pk, task_id="t0", worker="w") == "succeeded"
    whole.refresh_from_db()
    run = launch_with_part2()
    assert fanout.run_fan_out(run_id=run.pk, task_id="t1", worker="w") == "fanned out"
    plan = fanning[-1][2]
    assert set(plan["part2"]) >= {"profile", "bins", "reference_counts"}
    assert run_stage(fanning) == ["done"] * 4
    assert merge(fanning) == "succeeded"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.results["checks"]["drift"]["figures"]["max_psi"] > 0.25
    numbers_close(whole.results["checks"], run.results["checks"], tolerance=1e-6)
    for name in ("performance", "drift"):
        assert_same(whole.results["checks"][name], run.results["checks"][name])
    assert whole.results["part2"] == run.results["part2"]
