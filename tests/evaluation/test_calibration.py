"""The calibration check (evaluation.metrics.calibration): ECE and MCE against a hand-computed
example, the reliability diagram against scikit-learn's calibration_curve, the Brier score's
decomposition identity, Hosmer-Lemeshow against a hand computation, and ECE per group."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from evaluation.metrics import MetricInputError, calibration, encode_column
from evaluation.metrics.calibration import bin_of, uniform_edges

TOL = 1e-12


def _calibration(y, prob, **kwargs):
    return calibration(task="binary_classification", y_true=y, y_prob=prob, positive_class=1,
                       **{"n_bootstrap": 0, **kwargs})


def test_ece_and_mce_of_a_hand_computed_example():
    prob = [0.05, 0.15, 0.15, 0.95, 0.95, 0.95, 0.95]
    y = [0, 1, 0, 1, 1, 1, 0]
    result = _calibration(y, prob)
    # bins (0, .1]: 1 row, mean .05, observed 0 -> gap .05; (.1, .2]: 2 rows, mean .15,
    # observed .5 -> gap .35; (.9, 1]: 4 rows, mean .95, observed .75 -> gap .2
    assert result.metrics["ece"].value == pytest.approx((1 * 0.05 + 2 * 0.35 + 4 * 0.2) / 7,
                                                        abs=TOL)
    assert result.metrics["mce"].value == pytest.approx(0.35, abs=TOL)
    assert result.uniform.counts == (1, 2, 0, 0, 0, 0, 0, 0, 0, 4)
    assert result.uniform.mean_score[2] is None  # empty bins: reported, skipped
    assert result.uniform.observed_rate[1] == 0.5
    json.dumps(result.as_dict(), allow_nan=False)


def test_bin_edges_are_closed_on_the_right_and_the_first_bin_holds_zero():
    edges = uniform_edges(10)
    scores = np.array([0.0, 0.1, 0.1000001, 0.5, 0.9, 0.95, 1.0])
    assert bin_of(scores, edges).tolist() == [0, 0, 1, 4, 8, 9, 9]


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("seed, n, decimals", [(0, 5000, 6), (1, 300, 1), (2, 50, 2)])
def test_reliability_diagrams_agree_with_scikit_learn(strategy, seed, n, decimals):
    rng = np.random.default_rng(seed)
    prob = np.round(rng.beta(2, 3, n), decimals)
    y = (rng.uniform(size=n) < prob ** 1.2).astype(int)
    result = _calibration(y, prob, n_bins=10)
    diagram = result.uniform if strategy == "uniform" else result.quantile
    observed, mean = calibration_curve(y, prob, n_bins=10, strategy=strategy)
    counts = np.array(diagram.counts)
    assert counts.sum() == n
    assert np.allclose([v for v in diagram.observed_rate if v is not None], observed,
                       rtol=0, atol=TOL)
    assert np.allclose([v for v in diagram.mean_score if v is not None], mean, rtol=0,
                       atol=TOL)
    if strategy == "quantile":
        assert np.allclose(diagram.edges, np.percentile(prob, np.linspace(0, 100, 11)))
        ece = np.sum(counts[counts > 0] * np.abs(observed - mean)) / n
        assert result.metrics["ece_quantile"].value == pytest.approx(ece, abs=TOL)
    assert result.metrics["brier"].value == pytest.approx(brier_score_loss(y, prob), abs=TOL)


def test_brier_decomposition_is_exact_on_the_binned_forecasts():
    rng = np.random.default_rng(7)
    n = 2000
    prob = rng.uniform(size=n)
    y = (rng.uniform(size=n) < prob ** 1.5).astype(int)
    result = _calibration(y, prob)
    m = {k: v.value for k, v in result.metrics.items()}
    bins = bin_of(prob, uniform_edges(10))
    bin_mean = np.bincount(bins, weights=prob) / np.bincount(bins)
    binned = bin_mean[bins]  # each forecast replaced by its bin's mean score
    binned_brier = np.mean((binned - y) ** 2)
    assert binned_brier == pytest.approx(
        m["brier_reliability"] - m["brier_resolution"] + m["brier_uncertainty"], abs=TOL)
    assert m["brier_uncertainty"] == pytest.approx(y.mean() * (1 - y.mean()), abs=TOL)
    # the rest of the actual Brier score: within-bin variance minus twice within-bin covariance
    deviation = prob - binned
    within = np.mean(deviation ** 2) - 2 * np.mean(deviation * y)
    assert m["brier_within_bin"] == pytest.approx(within, abs=TOL)
    assert m["brier"] == pytest.approx(binned_brier + within, abs=TOL)


def test_hosmer_lemeshow_against_a_hand_computation():
    prob = [0.1, 0.1, 0.2, 0.2, 0.5, 0.5, 0.6, 0.6, 0.8, 0.8, 0.9, 0.9]
    y = [0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0]
    result = _calibration(y, prob, n_bins=3)
    # quantile edges 0.1, 0.4, 0.6667, 0.9: three bins of four rows
    # bin: observed, expected, rows -> (O - E)² / (E (1 - E / rows))
    expected = (0.4 ** 2 / (0.6 * (1 - 0.6 / 4)) + 0.2 ** 2 / (2.2 * (1 - 2.2 / 4))
                + 0.4 ** 2 / (3.4 * (1 - 3.4 / 4)))
    hl = result.hosmer_lemeshow
    assert result.quantile.counts == (4, 4, 4)
    assert hl.statistic == pytest.approx(expected, abs=TOL)
    assert hl.df == 1 and hl.bins_used == 3
    assert hl.p_value == pytest.approx(scipy.stats.chi2.sf(expected, 1), abs=TOL)
    assert hl.gating is False and "never a gate" in hl.note
    assert not any(name.startswith("hl") or "hosmer" in name for name in result.figures())


def test_hosmer_lemeshow_with_too_few_bins_has_no_p_value():
    result = _calibration([0, 1, 1, 0], [0.2, 0.2, 0.8, 0.8], n_bins=2)
    assert result.hosmer_lemeshow.p_value is None and result.hosmer_lemeshow.df == 0


def test_ece_per_group_is_the_ece_of_the_groups_rows():
    rng = np.random.default_rng(11)
    n = 3000
    region = rng.choice(["east", "west", "tiny"], n, p=[0.6, 0.39, 0.01])
    prob = rng.uniform(size=n)
    shift = np.where(region == "east", 0.0, 0.15)
    y = (rng.uniform(size=n) < np.clip(prob + shift, 0, 1)).astype(int)
    result = _calibration(y, prob, groups=[encode_column("region", region)],
                          min_group_size=50)
    view = result.groupings[0]
    for group in view.groups:
        rows = region == group.label
        alone = _calibration(y[rows], prob[rows])
        assert group.ece == pytest.approx(alone.metrics["ece"].value, abs=TOL)
        assert group.count == rows.sum()
        assert group.small == (rows.sum() < 50)
    judged = [g.ece for g in view.groups if not g.small]
    assert view.ece_max == max(judged)
    figures = result.figures()
    assert figures["group_ece_max"] == figures["group_ece_max[region]"] == max(judged)


def test_multiclass_calibration_is_the_favourable_column_against_the_rest():
    rng = np.random.default_rng(5)
    n = 1000
    classes = ["a", "b", "c"]
    prob = rng.dirichlet([2, 2, 2], n)
    y = np.array(classes)[rng.integers(0, 3, n)]
    multi = calibration(task="multiclass_classification", y_true=y, y_prob=prob,
                        classes=classes, positive_class="b", n_bootstrap=0)
    binary = _calibration((y == "b").astype(int), prob[:, 1])
    assert multi.metrics == binary.metrics
    with pytest.raises(MetricInputError, match="favourable class"):
        calibration(task="multiclass_classification", y_true=y, y_prob=prob, classes=classes,
                    positive_class="z")


def test_intervals_are_seeded_and_contain_the_estimate():
    rng = np.random.default_rng(3)
    prob = rng.uniform(size=4000)
    y = (rng.uniform(size=4000) < prob).astype(int)
    first = _calibration(y, prob, n_bootstrap=100, seed=1)
    assert first == _calibration(y, prob, n_bootstrap=100, seed=1)
    for name in ("brier", "brier_uncertainty", "brier_resolution"):
        estimate = first.metrics[name]
        assert estimate.ci_low < estimate.value < estimate.ci_high, name
    # ECE is biased upwards by resampling noise: its interval is honest but need not cover
    assert first.metrics["ece"].ci_low < first.metrics["ece"].ci_high


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "regression"}, "regression model has none"),
    ({"n_bins": 1}, "n_bins"),
    ({"n_bins": 1.5}, "n_bins"),
    ({"min_group_size": 0}, "min_group_size"),
    ({"positive_class": None}, "favourable"),
])
def test_bad_calibration_inputs_are_clear_errors(kwargs, message):
    args = {"task": "binary_classification", "y_true": [0, 1], "y_prob": [0.2, 0.8],
            "positive_class": 1, **kwargs}
    with pytest.raises(MetricInputError, match=message):
        calibration(**args)
