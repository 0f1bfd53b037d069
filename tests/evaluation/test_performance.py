"""The performance check (evaluation.metrics.performance) against scikit-learn, the oracle, to
1e-9: binary, multiclass and regression figures, the confusion matrix and the curves, and the
edge cases where a figure is undefined (None, with the reason)."""

from __future__ import annotations

import importlib
import json
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.metrics import BootstrapSpec, MetricInputError, performance

# the module (the package exports its function under the same name)
performance_module = importlib.import_module("evaluation.metrics.performance")

TOL = 1e-9


def _sklearn_binary(y, prob, threshold):
    pred = (prob >= threshold).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = len(np.unique(y)) == 2
        return {
            "accuracy": skm.accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred, zero_division=np.nan),
            "recall": skm.recall_score(y, pred, zero_division=np.nan),
            "f1": skm.f1_score(y, pred, zero_division=np.nan),
            "roc_auc": skm.roc_auc_score(y, prob) if both else np.nan,
            "pr_auc": skm.average_precision_score(y, prob) if y.any() else np.nan,
            "log_loss": skm.log_loss(y, prob, labels=[0, 1]),
        }


def _assert_figures(ours, expected):
    for name, value in expected.items():
        got = ours[name].value
        if np.isnan(value):
            assert got is None, name
        else:
            assert got is not None and abs(got - value) <= TOL, (name, got, value)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 400), st.integers(1, 4),
       st.sampled_from([0.0, 0.02, 0.5, 1.0]), st.sampled_from([0.0, 0.25, 0.5, 1.0]))
def test_binary_figures_agree_with_scikit_learn(seed, n, decimals, prevalence, threshold):
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < prevalence).astype(int)
    prob = np.round(rng.uniform(size=n), decimals)  # few decimals: many tied scores
    result = performance(task="binary_classification", y_true=y, y_prob=prob, positive_class=1,
                         threshold=threshold, n_bootstrap=0)
    _assert_figures(result.metrics, _sklearn_binary(y, prob, threshold))
    pred = (prob >= threshold).astype(int)
    assert np.array_equal(result.confusion.counts,
                          skm.confusion_matrix(y, pred, labels=[0, 1]))
    for name, reason in result.undefined.items():
        assert result.metrics[name].value is None and reason


def test_curves_are_points_of_scikit_learns_curves_thinned_to_at_most_200():
    rng = np.random.default_rng(0)
    n = 20_000
    y = rng.integers(0, 2, n)
    prob = np.clip(y * 0.3 + rng.uniform(size=n) * 0.7, 0, 1)
    result = performance(task="binary_classification", y_true=y, y_prob=prob, positive_class=1,
                         threshold=0.5, n_bootstrap=0)
    roc = result.curves["roc"]
    assert 100 < len(roc.x) <= 200
    assert (roc.x[0], roc.y[0], roc.thresholds[0]) == (0.0, 0.0, None)
    assert (roc.x[-1], roc.y[-1]) == (1.0, 1.0)
    fpr, tpr, thresholds = skm.roc_curve(y, prob, drop_intermediate=False)
    by_threshold = dict(zip(thresholds[1:], zip(fpr[1:], tpr[1:], strict=True), strict=True))
    for x, y_, t in zip(roc.x[1:], roc.y[1:], roc.thresholds[1:], strict=True):
        assert by_threshold[t] == pytest.approx((x, y_), abs=TOL)
    pr = result.curves["pr"]
    assert len(pr.x) <= 200 and pr.x[-1] == 1.0
    precision, recall, pr_thresholds = skm.precision_recall_curve(y, prob)
    by_threshold = dict(zip(pr_thresholds, zip(recall[:-1], precision[:-1], strict=True),
                            strict=True))
    for x, y_, t in zip(pr.x, pr.y, pr.thresholds, strict=True):
        assert by_threshold[t] == pytest.approx((x, y_), abs=TOL)
    assert all(b >= a for a, b in zip(roc.x, roc.x[1:], strict=False))


def test_string_labels_with_a_favourable_class():
    y = np.array(["good", "bad", "good", "good", "bad", "bad"])
    prob = np.array([0.9, 0.4, 0.35, 0.8, 0.1, 0.6])
    result = performance(task="binary_classification", y_true=y, y_prob=prob,
                         positive_class="good", threshold=0.5, n_bootstrap=0)
    y01 = (y == "good").astype(int)
    _assert_figures(result.metrics, _sklearn_binary(y01, prob, 0.5))
    assert result.confusion.labels == ("bad", "good")
    assert result.confusion.counts == ((2, 1), (1, 2))


def test_one_class_in_the_labels_leaves_roc_auc_undefined_with_the_reason():
    result = performance(task="binary_classification", y_true=[1, 1, 1],
                         y_prob=[0.2, 0.7, 0.9], positive_class=1, threshold=0.5,
                         n_bootstrap=0)
    assert result.metrics["roc_auc"].value is None
    assert result.undefined["roc_auc"] == "only one class in the labels: ROC AUC needs both"
    assert result.metrics["pr_auc"].value == 1.0
    assert "roc" not in result.curves and "pr" in result.curves
    figures = result.figures()
    assert figures["roc_auc"] is None and "roc_auc_ci_low" not in figures
    json.dumps(result.as_dict(), allow_nan=False)


def test_all_predictions_one_class_leaves_precision_undefined():
    result = performance(task="binary_classification", y_true=[0, 1, 0, 1],
                         y_prob=[0.1, 0.2, 0.3, 0.4], positive_class=1, threshold=0.5,
                         n_bootstrap=20)
    assert result.metrics["precision"].value is None
    assert "no row is predicted favourable" in result.undefined["precision"]
    assert result.metrics["recall"].value == 0.0
    assert result.metrics["f1"].value == 0.0
    assert result.metrics["accuracy"].value == 0.5


def test_a_single_row():
    result = performance(task="binary_classification", y_true=[0], y_prob=[0.3],
                         positive_class=1, threshold=0.5, n_bootstrap=10)
    assert result.metrics["accuracy"].value == 1.0
    assert result.metrics["recall"].value is None and result.metrics["pr_auc"].value is None
    assert set(result.undefined) == {"precision", "recall", "f1", "roc_auc", "pr_auc"}


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 300), st.integers(3, 5))
def test_multiclass_figures_agree_with_scikit_learn(seed, n, k):
    rng = np.random.default_rng(seed)
    classes = [f"c{i}" for i in range(k)]
    prob = rng.dirichlet(np.ones(k), n)
    y = np.array(classes)[rng.integers(0, k, n)]
    result = performance(task="multiclass_classification", y_true=y, y_prob=prob,
                         classes=classes, n_bootstrap=0)
    pred = np.array(classes)[prob.argmax(axis=1)]
    present = set(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {
            "accuracy": skm.accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred, labels=classes, average="macro",
                                             zero_division=np.nan),
            "recall": skm.recall_score(y, pred, labels=sorted(present), average="macro"),
            "log_loss": skm.log_loss(y, prob, labels=classes),
        }
        if len(present) == k:
            expected["f1"] = skm.f1_score(y, pred, average="macro")
            expected["roc_auc"] = skm.roc_auc_score(y, prob, multi_class="ovr", labels=classes)
            expected["pr_auc"] = skm.average_precision_score(y, prob, average="macro")
    _assert_figures(result.metrics, expected)
    assert np.array_equal(result.confusion.counts, skm.confusion_matrix(y, pred, labels=classes))
    for column, (c, figures) in enumerate(zip(classes, result.per_class, strict=True)):
        assert figures.label == c and figures.support == int((y == c).sum())
        is_c = (y == c).astype(int)
        if 0 < is_c.sum() < n:
            expected_auc = skm.roc_auc_score(is_c, prob[:, column])
            assert abs(figures.metrics["roc_auc"].value - expected_auc) <= TOL


def test_multiclass_per_class_figures_are_named_by_class():
    classes = ["low", "mid", "high"]
    prob = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2]])
    result = performance(task="multiclass_classification", y_true=["low", "mid", "high", "mid"],
                         y_prob=prob, classes=classes, n_bootstrap=0)
    figures = result.figures()
    assert figures["recall[mid]"] == 0.5
    assert figures["precision[low]"] == 0.5
    assert set(result.curves) == {f"{c}[{k}]" for c in ("roc", "pr") for k in classes}


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 500), st.floats(-1e6, 1e6))
def test_regression_figures_agree_with_scikit_learn(seed, n, offset):
    rng = np.random.default_rng(seed)
    y = offset + rng.normal(0, 10, n)
    pred = y + rng.normal(0, 4, n)
    result = performance(task="regression", y_true=y, y_pred=pred, n_bootstrap=0)
    scale = max(1.0, abs(offset)) ** 2  # R² of labels far from 0 loses digits in sklearn too
    assert abs(result.metrics["rmse"].value - skm.root_mean_squared_error(y, pred)) <= TOL
    assert abs(result.metrics["mae"].value - skm.mean_absolute_error(y, pred)) <= TOL
    assert abs(result.metrics["r2"].value - skm.r2_score(y, pred)) <= TOL * scale


def test_constant_regression_labels_leave_r2_undefined():
    result = performance(task="regression", y_true=[3.0, 3.0, 3.0], y_pred=[2.0, 3.0, 4.0],
                         n_bootstrap=0)
    assert result.metrics["r2"].value is None
    assert "SST" in result.undefined["r2"]
    assert result.metrics["mae"].value == pytest.approx(2 / 3)


def test_bootstrap_is_seeded_and_intervals_contain_the_estimate():
    rng = np.random.default_rng(4)
    n = 3000
    y = rng.integers(0, 2, n)
    prob = np.clip(0.25 + 0.5 * y + rng.normal(0, 0.25, n), 0, 1)
    kwargs = {"task": "binary_classification", "y_true": y, "y_prob": prob,
              "positive_class": 1, "threshold": 0.5, "n_bootstrap": 100}
    first = performance(seed=7, **kwargs)
    assert performance(seed=7, **kwargs) == first
    other = performance(seed=8, **kwargs)
    assert other.metrics["roc_auc"].ci_low != first.metrics["roc_auc"].ci_low
    assert other.metrics["roc_auc"].value == first.metrics["roc_auc"].value
    for name, estimate in first.metrics.items():
        assert estimate.ci_low < estimate.value < estimate.ci_high, name
        if name != "log_loss":  # unbounded: a few confident mistakes widen its interval
            assert estimate.ci_high - estimate.ci_low < 0.1, name
    assert first.bootstrap.as_dict() == {"method": "poisson", "interval": "percentile",
                                         "replicates": 100, "seed": 7, "confidence": 0.95}
    regression = performance(task="regression", y_true=prob, y_pred=prob + rng.normal(0, .1, n),
                             n_bootstrap=50)
    for estimate in regression.metrics.values():
        assert estimate.ci_low < estimate.value < estimate.ci_high


@pytest.mark.parametrize("decimals, threshold", [
    (None, 0.5),  # every score its own run
    (2, 0.5),  # runs of tied scores
    (2, 1.0),  # a threshold no score reaches: no row predicted favourable
    (1, 0.0),  # every row predicted favourable
])
def test_binary_replicates_in_one_compiled_pass_are_the_per_replicate_figures(decimals,
                                                                              threshold):
    rng = np.random.default_rng(5)
    n = 20_000
    y = rng.integers(0, 2, n)
    prob = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0, 1)
    if decimals is not None:
        prob = np.round(prob, decimals)
    ranked = performance_module._Ranked.of(prob, y)
    cut = int(np.searchsorted(-ranked.scores, -threshold, side="right"))
    losses = performance_module.log_losses(np.where(y == 1, prob, 1 - prob))[ranked.order]
    spec = BootstrapSpec(replicates=30, seed=2)
    compiled = performance_module._binary_replicates(ranked, cut, losses, spec)
    reference = performance_module._binary_replicates_reference(ranked, cut, losses, spec)
    assert compiled.shape == (30, len(performance_module.BINARY_METRICS))
    assert np.array_equal(np.isnan(compiled), np.isnan(reference))
    assert np.allclose(compiled, reference, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("kwargs, message", [
    ({"y_true": [0, 1, 2], "y_prob": [0.1, 0.5, 0.9]}, "3 different labels"),
    ({"y_true": [0, 1, None], "y_prob": [0.1, 0.5, 0.9]}, "1 missing labels"),
    ({"y_true": [0, 1, 1], "y_prob": [0.1, 0.5]}, "y_true has 3 rows but y_prob has 2"),
    ({"y_true": [0, 1, 1], "y_prob": [0.1, 1.5, 0.3]}, r"probabilities in \[0, 1\]"),
    ({"y_true": [0, 1, 1], "y_prob": [0.1, np.nan, 0.3]}, "missing or infinite"),
    ({"y_true": [0, 1, 1], "y_prob": ["a", "b", "c"]}, "numeric"),
    ({"y_true": ["a", "b"], "y_prob": [0.1, 0.5]}, "favourable class 1 is not one of"),
    ({"y_true": ["0", "1"], "y_prob": [0.1, 0.5]}, "give it as the same type"),
    ({"positive_class": None}, "favourable"),
    ({"threshold": None}, "threshold"),
    ({"threshold": 2}, "from 0 to 1"),
    ({"y_prob": [[0.1, 0.9], [0.5, 0.5]]}, "1-D"),
    ({"y_pred": [1, 0]}, "pass y_prob only"),
    ({"task": "ranking"}, "Unknown task 'ranking'"),
    ({"y_true": []}, "empty"),
])
def test_binary_inputs_that_do_not_fit_are_clear_errors(kwargs, message):
    args = {"task": "binary_classification", "y_true": [0, 1], "y_prob": [0.2, 0.8],
            "positive_class": 1, "threshold": 0.5, **kwargs}
    with pytest.raises(MetricInputError, match=message):
        performance(**args)


@pytest.mark.parametrize("kwargs, message", [
    ({"classes": None}, "needs its classes"),
    ({"classes": ["a", "a", "b"]}, "repeated"),
    ({"y_true": ["a", "z"]}, "not among the classes"),
    ({"y_prob": [[0.5, 0.5], [0.5, 0.5]]}, r"shape \(rows, 3\)"),
    ({"y_prob": [[2, 1, 1], [0.2, 0.3, 0.5]]}, r"\[0, 1\]"),
    ({"y_prob": [[0.2, 0.2, 0.2], [0.2, 0.3, 0.5]]}, "sum to 1"),
])
def test_multiclass_inputs_that_do_not_fit_are_clear_errors(kwargs, message):
    args = {"task": "multiclass_classification", "y_true": ["a", "c"],
            "y_prob": [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], "classes": ["a", "b", "c"], **kwargs}
    with pytest.raises(MetricInputError, match=message):
        performance(**args)


@pytest.mark.parametrize("kwargs, message", [
    ({"y_true": ["a", "b"]}, "numeric"),
    ({"y_true": [True, False]}, "booleans"),
    ({"y_true": [1.0, np.inf]}, "missing or infinite"),
    ({"y_pred": None}, "needs y_pred"),
    ({"y_prob": [0.1, 0.2]}, "no probabilities"),
])
def test_regression_inputs_that_do_not_fit_are_clear_errors(kwargs, message):
    args = {"task": "regression", "y_true": [1.0, 2.0], "y_pred": [1.5, 2.5], **kwargs}
    with pytest.raises(MetricInputError, match=message):
        performance(**args)
