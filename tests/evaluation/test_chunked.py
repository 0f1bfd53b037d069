"""Chunked evaluation gives the one-pass figures: the same data set evaluated in one pass and in
chunks of several sizes (CSV and Parquet), compared figure by figure."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from evaluation import chunked, engine
from evaluation.metrics.chunks import ScoreRuns, runs_percentile
from registry.artifacts import inspect_artifact
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE


@pytest.fixture(scope="module")
def specs(demo_onnx) -> list[dict]:
    return [t.as_dict() for t in inspect_artifact(io.BytesIO(demo_onnx),
                                                  max_bytes=10**9).inputs]


ARGS = {"task": "binary_classification", "label_column": "good_credit",
        "favourable_class": "1", "threshold": 0.5, "checks": list(engine.PART_1),
        "sensitive_features": SENSITIVE, "options": {"n_bootstrap": 40, "seed": 3},
        "inputs": {"artifact_digest": "a" * 64}}


def one_pass(demo_onnx, specs) -> engine.Outcome:
    return engine.evaluate(model_bytes=demo_onnx, input_specs=specs,
                           frame=pd.read_csv(GERMAN_CSV), **ARGS)


def in_chunks(demo_onnx, specs, data: bytes, file_format: str, chunk_rows: int,
              steps: list | None = None) -> engine.Outcome:
    return chunked.evaluate_chunked(
        model_bytes=demo_onnx, input_specs=specs, data=io.BytesIO(data),
        file_format=file_format, chunk_rows=chunk_rows,
        report=(lambda p, s: steps.append((p, s))) if steps is not None else engine._no_report,
        **ARGS)


def parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pd.read_csv(GERMAN_CSV).to_parquet(buffer, row_group_size=300)
    return buffer.getvalue()


def assert_same(expected, actual, path="", *, interval_tolerance: float = 1e-9):
    """Every number equal within 1e-9 (relative to its size), every other value equal."""
    if isinstance(expected, dict):
        assert set(expected) == set(actual), path
        for key in expected:
            assert_same(expected[key], actual[key], f"{path}.{key}",
                        interval_tolerance=interval_tolerance)
    elif isinstance(expected, list):
        assert len(expected) == len(actual), path
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_same(e, a, f"{path}[{i}]", interval_tolerance=interval_tolerance)
    elif isinstance(expected, float) and isinstance(actual, float):
        assert math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9), \
            f"{path}: {expected} != {actual}"
    else:
        assert expected == actual, path


@pytest.mark.parametrize(("file_format", "chunk_rows"),
                         [("csv", 1000), ("csv", 137), ("parquet", 300), ("parquet", 64)])
def test_chunks_give_the_one_pass_figures(demo_onnx, specs, file_format, chunk_rows):
    data = parquet_bytes() if file_format == "parquet" else GERMAN_CSV.read_bytes()
    expected = one_pass(demo_onnx, specs)
    steps: list = []
    actual = in_chunks(demo_onnx, specs, data, file_format, chunk_rows, steps)
    # German credit's 1,000 rows have fewer distinct scores than the AUC histogram has bins,
    # so even the AUC and average-precision intervals are the one-pass ones.
    assert_same(expected.results, actual.results)
    assert actual.results["rows"] == 1000
    chunks = math.ceil(1000 / chunk_rows)
    progress = [s for _, s in steps if s.startswith("Chunk ")]
    assert progress[-1] == f"Chunk {2 * chunks} of {2 * chunks} evaluated"
    assert [p for p, _ in steps] == sorted(p for p, _ in steps)


def test_merged_score_runs_give_numpys_percentiles():
    rng = np.random.default_rng(0)
    scores = np.round(rng.uniform(size=5000), 3)  # many ties
    positive = (rng.uniform(size=5000) < scores).astype(np.float64)
    parts = [ScoreRuns.of(scores[i:i + 700], positive[i:i + 700]) for i in range(0, 5000, 700)]
    from evaluation.metrics.chunks import merge_runs
    runs = merge_runs(parts)
    assert runs.n == 5000 and runs.positive.sum() == positive.sum()
    percents = np.linspace(0.0, 1.0, 11) * 100
    assert np.array_equal(runs_percentile(runs, percents), np.percentile(scores, percents))
    for n in (1, 2, 7, 100):
        sample = scores[:n]
        one = ScoreRuns.of(sample, positive[:n])
        assert np.array_equal(runs_percentile(one, percents), np.percentile(sample, percents))


def _merged_in_turn(scores, positive, size: int, *, reverse: bool = False) -> ScoreRuns:
    from evaluation.metrics.chunks import merge_runs
    starts = list(range(0, len(scores), size))
    merged = None
    for i in reversed(starts) if reverse else starts:
        part = ScoreRuns.of(scores[i:i + size], positive[i:i + size])
        merged = part if merged is None else merge_runs([part, merged] if reverse
                                                         else [merged, part])
    assert merged is not None
    return merged


def test_past_the_exact_limit_score_runs_become_cells_whatever_the_chunking(monkeypatch):
    from evaluation.metrics import chunks
    monkeypatch.setattr(chunks, "EXACT_SCORES", 2000)
    rng = np.random.default_rng(4)
    scores = rng.beta(2, 3, size=20_000).astype(np.float32).astype(np.float64)
    positive = (rng.uniform(size=20_000) < scores).astype(np.float64)
    in_700s = _merged_in_turn(scores, positive, 700)
    backwards_in_3000s = _merged_in_turn(scores, positive, 3000, reverse=True)
    in_one = ScoreRuns.of(scores, positive)
    for runs in (backwards_in_3000s, in_one):
        for part in ("scores", "positive", "negative", "highs"):
            assert np.array_equal(getattr(runs, part), getattr(in_700s, part)), part
    # Cells: fewer than the distinct scores, every row counted, each cell's scores within
    # 2^-16 of its highest (relative), cells disjoint and descending.
    assert len(in_700s.scores) < len(np.unique(scores))
    assert in_700s.n == 20_000 and in_700s.positive.sum() == positive.sum()
    assert np.all(in_700s.scores <= in_700s.highs)
    assert np.all((in_700s.highs - in_700s.scores) <= in_700s.highs * 2.0 ** -16)
    assert np.all(in_700s.highs[1:] < in_700s.scores[:-1])


def test_an_auc_from_score_cells_is_within_its_reported_error_of_the_exact_auc(monkeypatch):
    from sklearn.metrics import roc_auc_score

    from evaluation.metrics import chunks
    monkeypatch.setattr(chunks, "EXACT_SCORES", 1000)
    monkeypatch.setattr(chunks, "CELL_BITS", 6)  # coarse cells, so that many pairs share one
    rng = np.random.default_rng(5)
    scores = rng.uniform(size=30_000)
    positive = (rng.uniform(size=30_000) < scores).astype(np.float64)
    cells = _merged_in_turn(scores, positive, 4000)
    assert not cells.exact
    auc, _ = chunks.ranking_figures(np.cumsum(cells.positive), np.cumsum(cells.negative))
    exact = roc_auc_score(positive, scores)
    error = cells.auc_max_error()
    assert 0 < abs(auc - exact) <= error < 0.01
    assert chunks.ranking_error([cells], [""]) == {"roc_auc_max_error": error}


def test_scores_with_few_distinct_values_stay_exact_runs_past_the_limit(monkeypatch):
    from evaluation.metrics import chunks
    monkeypatch.setattr(chunks, "EXACT_SCORES", 10)
    scores = np.repeat(np.linspace(0.05, 0.95, 40), 50)  # 40 scores, each in a cell of its own
    positive = (np.arange(2000) % 3 == 0).astype(np.float64)
    runs = _merged_in_turn(scores, positive, 300)
    assert runs.exact and len(runs.scores) == 40
    assert chunks.ranking_error([runs], [""]) == {}


def test_a_chunked_run_past_the_exact_limit_reports_how_far_its_auc_can_be(
        demo_onnx, specs, monkeypatch):
    from evaluation.metrics import chunks
    monkeypatch.setattr(chunks, "EXACT_SCORES", 50)
    monkeypatch.setattr(chunks, "CELL_BITS", 5)
    expected = one_pass(demo_onnx, specs).results["checks"]["performance"]["figures"]
    actual = in_chunks(demo_onnx, specs, GERMAN_CSV.read_bytes(), "csv", 300
                       ).results["checks"]["performance"]["figures"]
    error = actual.pop("roc_auc_max_error")
    assert 0 < error < 0.05
    assert abs(actual["roc_auc"] - expected["roc_auc"]) <= error
    for name in ("accuracy", "precision", "recall", "f1", "log_loss", "n"):
        assert_same(expected[name], actual[name], name)  # counts and rates stay exact


def test_a_run_above_the_size_setting_is_evaluated_in_chunks_with_the_same_results(
        validating, german_data, victor, queued_runs, settings, monkeypatch,
        django_capture_on_commit_callbacks):
    from evaluation import services
    from evaluation.models import Run

    def launch_and_run() -> Run:
        with django_capture_on_commit_callbacks(execute=True):
            run = services.run_launch(actor=victor, version=validating, dataset=german_data,
                                      options={"n_bootstrap": 20})
        queued_runs.run()
        run.refresh_from_db()
        return run

    whole = launch_and_run()
    chunk_sizes: list[int] = []
    real = chunked.evaluate_chunked

    def spy(**kw):
        chunk_sizes.append(kw["chunk_rows"])
        return real(**kw)

    monkeypatch.setattr(chunked, "evaluate_chunked", spy)
    settings.EVALUATION_CHUNKED_ABOVE_BYTES = german_data.size - 1
    settings.EVALUATION_CHUNK_ROWS = 250
    in_chunks_run = launch_and_run()
    assert chunk_sizes == [250]  # the chunk-size setting is honoured
    assert (whole.status, in_chunks_run.status) == ("succeeded", "succeeded")
    assert_same(whole.results["checks"], in_chunks_run.results["checks"])


def test_with_more_distinct_scores_than_auc_bins_only_the_auc_and_ap_intervals_move(
        demo_onnx, specs, monkeypatch):
    from evaluation.metrics import chunks

    real = chunks.auc_bins
    monkeypatch.setattr(chunked, "auc_bins", lambda runs: real(runs, 32))
    expected = one_pass(demo_onnx, specs).results["checks"]
    actual = in_chunks(demo_onnx, specs, GERMAN_CSV.read_bytes(), "csv", 300).results["checks"]
    moved = {"roc_auc_ci_low", "roc_auc_ci_high", "pr_auc_ci_low", "pr_auc_ci_high"}
    figures = expected["performance"]["figures"]
    for name, value in figures.items():
        got = actual["performance"]["figures"][name]
        if name in moved:
            # Pairs sharing one of 32 bins count as ties: at most ~1/64 of the pairs, half each.
            assert got == pytest.approx(value, abs=0.02), name
        else:
            assert_same(value, got, name)
    assert any(actual["performance"]["figures"][m] != figures[m] for m in moved)
    assert_same(expected["bias"], actual["bias"])
    assert_same(expected["calibration"], actual["calibration"])


@pytest.mark.parametrize(("file_format", "chunk_rows"),
                         [("csv", 137), ("parquet", 64), ("parquet", 300), ("parquet", 1000)])
def test_a_chunk_read_alone_is_the_chunk_read_in_turn(file_format, chunk_rows):
    data = parquet_bytes() if file_format == "parquet" else GERMAN_CSV.read_bytes()
    whole = pd.concat(list(chunked.iter_chunks(io.BytesIO(data), file_format, chunk_rows)),
                      ignore_index=True)
    alone = [chunked.read_chunk(io.BytesIO(data), file_format, chunk_rows, i)
             for i in range(math.ceil(1000 / chunk_rows))]
    assert [len(c) for c in alone] == [min(chunk_rows, 1000 - i * chunk_rows)
                                       for i in range(len(alone))]
    pd.testing.assert_frame_equal(pd.concat(alone, ignore_index=True), whole)


# Robustness and drift in chunks: the reference is a part of the data the evaluation rows drift
# from (the longer loans), and duration is declared monotone so the probe runs too.
PART2_CHECKS = [*engine.PART_1, "robustness", "drift"]
MONOTONE = {"duration": "decreasing", "credit_amount": "decreasing"}


def reference_frame() -> pd.DataFrame:
    frame = pd.read_csv(GERMAN_CSV)
    return frame[frame["duration"] <= 24].reset_index(drop=True)


def numbers_close(expected, actual, path="", *, tolerance: float):
    """Like assert_same, with a tolerance for the floats of ONNX Runtime's scores."""
    if isinstance(expected, dict):
        assert set(expected) == set(actual), path
        for key in expected:
            numbers_close(expected[key], actual[key], f"{path}.{key}", tolerance=tolerance)
    elif isinstance(expected, list):
        assert len(expected) == len(actual), path
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            numbers_close(e, a, f"{path}[{i}]", tolerance=tolerance)
    elif isinstance(expected, float) and isinstance(actual, float):
        assert math.isclose(expected, actual, rel_tol=tolerance, abs_tol=tolerance), \
            f"{path}: {expected} != {actual}"
    else:
        assert expected == actual, path


@pytest.mark.parametrize(("file_format", "chunk_rows"), [("csv", 137), ("parquet", 300)])
def test_robustness_and_drift_in_chunks_give_the_one_pass_results(demo_onnx, specs,
                                                                  file_format, chunk_rows):
    data = parquet_bytes() if file_format == "parquet" else GERMAN_CSV.read_bytes()
    args = {**ARGS, "checks": PART2_CHECKS}
    expected = engine.evaluate(model_bytes=demo_onnx, input_specs=specs,
                               frame=pd.read_csv(GERMAN_CSV), reference=reference_frame(),
                               monotone=MONOTONE, **args)
    actual = chunked.evaluate_chunked(
        model_bytes=demo_onnx, input_specs=specs, data=io.BytesIO(data),
        file_format=file_format, chunk_rows=chunk_rows, reference=reference_frame(),
        monotone=MONOTONE, **args)
    checks = expected.results["checks"]
    assert checks["drift"]["figures"]["max_psi"] > 0.1  # the reference lacks the long loans
    robustness = checks["robustness"]["result"]
    assert robustness["monotonicity"][0]["rows"] == 1000
    assert 0 < robustness["figures"]["max_flip_rate"] < 1
    # Counts, rates, drift statistics and the metric drops are the one-pass figures; score
    # shifts (ONNX Runtime may round a score one float32 ulp differently in another batch) to
    # within 1e-6.
    shifts = ("max_score_shift", "mean_score_shift", "max_violation", "max_monotonicity")
    for name in expected.results["checks"]:
        numbers_close(expected.results["checks"][name], actual.results["checks"][name],
                      name, tolerance=1e-9 if name != "robustness" else 1e-6)
    for summary, other in zip(robustness["perturbations"],
                              actual.results["checks"]["robustness"]["result"]["perturbations"],
                              strict=True):
        for key, value in summary.items():
            if not key.startswith(shifts) and isinstance(value, float):
                assert math.isclose(value, other[key], rel_tol=1e-9, abs_tol=1e-9), key
    assert {k: v for k, v in expected.results.items() if k != "checks"} == \
        {k: v for k, v in actual.results.items() if k != "checks"}


