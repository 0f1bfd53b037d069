"""Robustness: what each perturbation does to the data, the statistics it reports, determinism,
exact merging of chunks, monotonicity probes and input errors."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from evaluation.metrics import kernels
from evaluation.metrics import robustness as rb
from evaluation.metrics.scoring import inputs_accepting_missing
from tests.evaluation.part2_models import demo_model, german_credit

NAMES = ["noise_low", "noise_medium", "noise_high", "category_swap", "missing", "out_of_range"]


def small_frame(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "income": rng.normal(50_000, 12_000, size=n),
        "children": rng.integers(0, 4, size=n),
        "region": rng.choice(["north", "south", "east", "west"], size=n),
    })


class Recorder:
    """A predict function that keeps the frames it is given and scores them by ``score``."""

    def __init__(self, score) -> None:
        self.frames: list[pd.DataFrame] = []
        self.score = score

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        self.frames.append(frame.copy())
        return np.asarray(self.score(frame), dtype=np.float64)


def run(frame, predict, **kwargs):
    profile = kwargs.pop("data_profile", None) or rb.profile(frame, ["income", "children",
                                                                     "region"])
    return rb.robustness(frame, predict, data_profile=profile, **kwargs)


def test_each_perturbation_changes_the_data_as_documented():
    frame = small_frame()
    original = frame.copy()
    recorder = Recorder(lambda f: np.full(len(f), 0.5))
    result = run(frame, recorder)
    pd.testing.assert_frame_equal(frame, original)  # the caller's frame is untouched
    _base, *perturbed = recorder.frames
    by_name = dict(zip(NAMES, perturbed, strict=True))
    assert [p.name for p in result.perturbations] == NAMES
    std = original["income"].std(ddof=0)

    for name, level in (("noise_low", 0.05), ("noise_medium", 0.10), ("noise_high", 0.25)):
        noisy = by_name[name]
        noise = noisy["income"] - original["income"]
        assert noise.std() == pytest.approx(level * std, rel=0.05)
        assert abs(noise.mean()) < 4 * level * std / math.sqrt(len(frame))
        assert noisy["children"].dtype == np.int64  # whole numbers stay whole
        assert (noisy["region"] == original["region"]).all()

    swapped = by_name["category_swap"]
    changed = swapped["region"] != original["region"]
    assert changed.mean() == pytest.approx(0.10, abs=0.015)
    assert set(swapped["region"]) <= {"north", "south", "east", "west"}
    # every other value is equally likely: about a third of the changes out of "north" each
    to = swapped.loc[changed & (original["region"] == "north"), "region"].value_counts(
        normalize=True)
    assert set(to.index) == {"south", "east", "west"} and to.min() > 0.2
    assert (swapped["income"] == original["income"]).all()

    missing = by_name["missing"]
    assert missing["income"].isna().mean() == pytest.approx(0.10, abs=0.015)
    assert missing["region"].isna().mean() == pytest.approx(0.10, abs=0.015)
    assert missing["children"].notna().all()  # an integer column takes no missing value
    assert result.perturbations[4].columns == ("income", "region")

    beyond = by_name["out_of_range"]
    moved = beyond["income"] != original["income"]
    assert moved.mean() == pytest.approx(0.10, abs=0.015)
    high, low = original["income"].max(), original["income"].min()
    assert (np.isclose(beyond.loc[moved, "income"], high + std)
            | np.isclose(beyond.loc[moved, "income"], low - std)).all()
    children = beyond["children"]
    outside = (children > 3) | (children < 0)
    assert outside.mean() == pytest.approx(0.10, abs=0.015) and children.dtype == np.int64
    assert (beyond["region"] == rb.UNSEEN_CATEGORY).mean() == pytest.approx(0.10, abs=0.015)


def test_flips_metric_drop_and_score_shifts_are_counted_per_perturbation():
    """A model that answers 0.9 for a complete row and 0.1 when a value is missing: only the
    missing perturbation flips decisions, and each flip costs one correct answer."""
    frame = small_frame()
    labels = np.ones(len(frame))

    def score(f: pd.DataFrame) -> np.ndarray:
        return np.where(f.isna().any(axis=1), 0.1, 0.9)

    result = run(frame, score, labels=labels)
    summaries = {p.name: result.summary(p) for p in result.perturbations}
    rows_with_missing = 1 - 0.9 * 0.9  # two columns take missing values, 10% each
    assert summaries["missing"]["flip_rate"] == pytest.approx(rows_with_missing, abs=0.02)
    assert summaries["missing"]["metric_drop"] == pytest.approx(
        summaries["missing"]["flip_rate"])
    assert summaries["missing"]["max_score_shift"] == pytest.approx(0.8)
    for name in ("noise_low", "noise_high", "category_swap", "out_of_range"):
        assert summaries[name]["flip_rate"] == 0 and summaries[name]["metric_drop"] == 0
        assert summaries[name]["max_score_shift"] == 0
    figures = result.figures()
    assert figures["max_flip_rate"] == summaries["missing"]["flip_rate"]
    assert figures["max_metric_drop"] == summaries["missing"]["metric_drop"]
    assert result.as_dict()["base_metric"] == 1.0


def test_a_nan_score_counts_as_a_flip_and_an_error_and_is_left_out_of_the_shifts():
    frame = small_frame()

    def score(f: pd.DataFrame) -> np.ndarray:
        return np.where(f["income"].isna(), np.nan, 0.9)

    result = run(frame, score, labels=np.ones(len(frame)))
    missing = result.perturbations[NAMES.index("missing")]
    assert missing.nan_scores == missing.flips == int(missing.errors) > 0
    assert missing.compared == missing.rows - missing.nan_scores
    assert missing.max_abs_shift == 0.0
    assert result.figures()["max_nan_score_rate"] == pytest.approx(missing.nan_scores / len(frame))


def test_the_noise_moves_a_linear_score_by_the_expected_amount():
    """score = income / std: the mean |shift| of Gaussian noise sigma is sigma * sqrt(2 / pi)."""
    frame = small_frame(20_000)
    std = frame["income"].std(ddof=0)
    result = run(frame, lambda f: f["income"].to_numpy() / std, task="regression",
                 threshold=None)
    for stats, level in zip(result.perturbations[:3], (0.05, 0.10, 0.25), strict=True):
        summary = result.summary(stats)
        assert summary["mean_score_shift"] == pytest.approx(level * math.sqrt(2 / math.pi),
                                                            rel=0.03)
        assert summary["flip_rate"] is None  # a regressor without a cutoff has no decisions


def test_a_regressor_reports_the_rmse_increase():
    frame = small_frame()
    labels = frame["income"].to_numpy() / 1000
    result = run(frame, lambda f: f["income"].to_numpy() / 1000, labels=labels,
                 task="regression", threshold=None)
    assert result.metric == "rmse"
    assert result.as_dict()["base_metric"] == 0.0
    noise_high = result.summary(result.perturbations[2])
    assert noise_high["metric_drop"] == pytest.approx(
        0.25 * frame["income"].std(ddof=0) / 1000, rel=0.05)


def test_the_demo_model_is_perturbed_and_scored_in_seven_passes():
    built = demo_model()
    X, y = german_credit()
    calls = []

    def predict(frame):
        calls.append(len(frame))
        return built.predict()(frame)

    result = rb.robustness(X, predict, data_profile=rb.profile(X, built.columns),
                           labels=y.to_numpy(), missing_columns=inputs_accepting_missing(
                               built.specs))
    assert calls == [len(X)] * 7
    figures = result.figures()
    assert set(figures) >= {"max_flip_rate", "max_metric_drop", "max_score_shift"}
    assert 0 < figures["flip_rate_noise_low"] <= figures["flip_rate_noise_high"] < 0.2
    assert 0 < figures["max_score_shift"] < 1
    assert result.perturbations[NAMES.index("missing")].columns == tuple(
        c for c in built.columns if X[c].dtype == object)
    json.dumps(result.as_dict(), allow_nan=False)


def test_base_scores_given_skip_the_base_pass_and_change_no_figure():
    # The run engine hands robustness the scores it computed for part 1: six passes, not seven.
    built = demo_model()
    X, y = german_credit()
    calls = []

    def predict(frame):
        calls.append(len(frame))
        return built.predict()(frame)

    kwargs = {"data_profile": rb.profile(X, built.columns), "labels": y.to_numpy(),
              "missing_columns": inputs_accepting_missing(built.specs)}
    scored = rb.robustness(X, predict, **kwargs)
    calls.clear()
    shared = rb.robustness(X, predict, base_scores=built.predict()(X), **kwargs)
    assert calls == [len(X)] * 6
    assert shared.as_dict() == scored.as_dict()
    with pytest.raises(ValueError, match="1000 rows but 3 base scores"):
        rb.robustness(X, predict, base_scores=np.zeros(3), **kwargs)


def test_the_compiled_draws_are_the_numpy_definition():
    rows = np.arange(200_000, dtype=np.uint64) + np.uint64(2**40)
    for key in (0, 1, 2**64 - 1, 0x1234_5678_9ABC_DEF0):
        assert np.array_equal(kernels.splitmix_uniform(rows, key),
                              kernels.splitmix_uniform_reference(rows, key))
    draws = rb._Draws(0, "noise_low", "income", np.arange(5, dtype=np.uint64))
    assert np.all((draws.uniform("noise") > 0) & (draws.uniform("noise") < 1))


def test_same_inputs_and_seed_give_the_same_result_and_another_seed_does_not():
    built = demo_model()
    X, y = german_credit()
    profile = rb.profile(X, built.columns)

    def once(seed: int) -> dict:
        return rb.robustness(X, built.predict(), data_profile=profile, labels=y.to_numpy(),
                             settings=rb.Settings(seed=seed),
                             missing_columns=inputs_accepting_missing(built.specs)).as_dict()

    assert once(1) == once(1)
    assert once(1)["perturbations"] != once(2)["perturbations"]


CUTS = [0, 1, 333, 334, 800, 1000]


def one_pass_and_chunks(predict, **kwargs):
    X, y = german_credit()
    whole = rb.robustness(X, predict, labels=y.to_numpy(), **kwargs)
    parts = [rb.robustness(X.iloc[a:b], predict, labels=y.to_numpy()[a:b], row_offset=a,
                           **kwargs) for a, b in itertools.pairwise(CUTS)]
    return whole, rb.merge(parts)


def test_chunks_merge_to_exactly_the_one_pass_result():
    """A model whose scores do not depend on how the rows are batched: everything merges
    exactly (sums up to the order of float additions)."""
    X, _y = german_credit()
    columns = ["duration", "credit_amount", "age", "purpose", "housing"]
    weights = {"duration": -0.03, "credit_amount": -1e-4, "age": 0.02}

    def score(frame: pd.DataFrame) -> np.ndarray:
        margin = sum(w * frame[c].to_numpy(dtype=float) for c, w in weights.items())
        margin = margin + np.where(frame["purpose"] == "car (new)", -0.5, 0.0)
        margin = margin + np.where(frame["housing"].isna(), np.nan, 0.0)
        return 1 / (1 + np.exp(-margin))

    whole, merged = one_pass_and_chunks(score, data_profile=rb.profile(X, columns),
                                        monotone={"duration": -1, "age": 1})
    for one, chunked in zip(whole.perturbations, merged.perturbations, strict=True):
        assert (one.rows, one.flips, one.nan_scores, one.compared, one.errors,
                one.error_rows, one.max_abs_shift) == \
            (chunked.rows, chunked.flips, chunked.nan_scores, chunked.compared, chunked.errors,
             chunked.error_rows, chunked.max_abs_shift)
        assert one.sum_abs_shift == pytest.approx(chunked.sum_abs_shift, rel=1e-12)
    assert whole.monotonicity == merged.monotonicity
    assert merged.rows == whole.rows == len(X)
    for name, value in whole.figures().items():
        assert merged.figures()[name] == pytest.approx(value, abs=1e-9), name


def test_chunks_of_the_onnx_model_merge_to_the_same_counts_and_rates():
    """ONNX Runtime's float32 kernels may round a score differently by one ulp (6e-8) depending
    on the batch it is in, so score shifts agree to 1e-6; counts and rates exactly."""
    built = demo_model()
    X, _y = german_credit()
    whole, merged = one_pass_and_chunks(
        built.predict(), data_profile=rb.profile(X, built.columns),
        missing_columns=inputs_accepting_missing(built.specs), monotone={"duration": -1})
    for one, chunked in zip(whole.perturbations, merged.perturbations, strict=True):
        assert (one.rows, one.flips, one.nan_scores, one.compared, one.errors) == \
            (chunked.rows, chunked.flips, chunked.nan_scores, chunked.compared, chunked.errors)
        assert one.max_abs_shift == pytest.approx(chunked.max_abs_shift, abs=1e-6)
        assert one.sum_abs_shift == pytest.approx(chunked.sum_abs_shift, abs=1e-6 * one.rows)
    for name, value in whole.figures().items():
        tolerance = 1e-6 if "shift" in name else 1e-9
        assert merged.figures()[name] == pytest.approx(value, abs=tolerance), name


def test_profiles_of_chunks_merge_to_the_profile_of_the_whole():
    X, _y = german_credit()
    columns = ["duration", "credit_amount", "purpose", "age"]
    whole = rb.profile(X, columns)
    merged = rb.profile(X.iloc[:10], columns).merge(rb.profile(X.iloc[10:700], columns)).merge(
        rb.profile(X.iloc[700:], columns))
    for a, b in zip(whole.columns, merged.columns, strict=True):
        assert (a.name, a.kind, a.integer, a.count, a.minimum, a.maximum, a.categories) == \
            (b.name, b.kind, b.integer, b.count, b.minimum, b.maximum, b.categories)
        assert a.mean == pytest.approx(b.mean, rel=1e-12)
        assert a.std == pytest.approx(b.std, rel=1e-12)
    assert whole.columns[0].std == pytest.approx(X["duration"].std(ddof=0))


def test_monotonicity_is_checked_in_the_declared_direction():
    frame = small_frame()

    def increasing(f: pd.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-(f["income"].to_numpy() - 50_000) / 10_000))

    def wavy(f: pd.DataFrame) -> np.ndarray:
        return 0.5 + 0.4 * np.sin(f["income"].to_numpy() / 5_000)

    good = run(frame, increasing, monotone={"income": 1})
    assert good.figures()["monotonicity_violations"] == 0
    wrong_way = run(frame, increasing, monotone={"income": -1})
    assert wrong_way.monotonicity[0].violations == len(frame)
    bumpy = run(frame, wavy, monotone={"income": 1})
    stats = bumpy.monotonicity[0]
    assert 0 < stats.violations < len(frame) and 0 < stats.max_violation <= 0.8
    assert bumpy.figures()["monotonicity_violation_rate"] == stats.violations / len(frame)


def test_the_demo_model_does_not_score_longer_loans_higher():
    built = demo_model()
    X, _y = german_credit()
    result = rb.robustness(X, built.predict(), data_profile=rb.profile(X, built.columns),
                           missing_columns=inputs_accepting_missing(built.specs),
                           monotone={"duration": -1})
    assert result.monotonicity[0].violations == 0  # a linear model on a scaled duration


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"monotone": {"region": 1}}, "numeric model inputs; 'region'"),
    ({"monotone": {"income": 2}}, "is \\+1 \\(increasing\\) or -1"),
    ({"labels": np.ones(3)}, "4000 rows but 3 labels"),
    ({"labels": np.full(4000, 2)}, "labels must be 0 or 1"),
    ({"labels": np.full(4000, "good")}, "Labels must be numbers"),
    ({"task": "ranking"}, "task is 'classification' or 'regression'"),
    ({"threshold": None}, "needs a decision threshold"),
    ({"missing_columns": ["nope"]}, "only be put in profiled columns, not nope"),
])
def test_bad_input_is_refused_with_a_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run(small_frame(), lambda f: np.full(len(f), 0.5), **kwargs)


def test_a_frame_without_a_profiled_column_is_refused():
    frame = small_frame()
    profile = rb.profile(frame, ["income", "region"])
    with pytest.raises(ValueError, match="lacks the column"):
        rb.robustness(frame.drop(columns=["region"]), lambda f: np.zeros(len(f)),
                      data_profile=profile)


def test_results_run_with_different_settings_do_not_merge():
    frame = small_frame(100)
    a = run(frame, lambda f: np.full(len(f), 0.5))
    b = run(frame, lambda f: np.full(len(f), 0.5), settings=rb.Settings(seed=9))
    with pytest.raises(ValueError, match="different settings"):
        rb.merge([a, b])
