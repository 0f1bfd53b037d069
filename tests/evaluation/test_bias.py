"""The bias check (evaluation.metrics.bias) against fairlearn, the oracle: per-group figures of
each sensitive feature and of their intersection from MetricFrame, disparities from fairlearn's
own functions over the same group set (the groups of at least min_group_size rows), to 1e-9."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    mean_absolute_error,
    precision_score,
    root_mean_squared_error,
)

from evaluation.metrics import MISSING, BinSpec, MetricInputError, bias, bin_column, encode_column
from evaluation.metrics.bias import bias_result, bias_tally
from evaluation.metrics.bootstrap import BootstrapSpec
from evaluation.metrics.groups import intersect
from evaluation.metrics.inputs import binary_data

TOL = 1e-9


def _precision(y_true, y_pred):
    return precision_score(y_true, y_pred, zero_division=np.nan)


CLASSIFICATION = {"count": count, "selection_rate": selection_rate, "tpr": true_positive_rate,
                  "fpr": false_positive_rate, "precision": _precision,
                  "accuracy": accuracy_score}


def _frame(groupings, view_index):
    """The sensitive features fairlearn sees for one view: label strings per row."""
    columns = {g.name: np.array(g.labels, dtype=object)[g.codes] for g in groupings}
    if view_index is None:
        return pd.DataFrame(columns)
    name = groupings[view_index].name
    return pd.Series(columns[name], name=name)


def _views(result, groupings):
    positions = list(range(len(groupings))) + ([None] if len(groupings) > 1 else [])
    return list(zip(result.groupings, positions, strict=True))


def _key(group, view_index):
    return tuple(group.values.values()) if view_index is None else group.label


def _close(ours, theirs):
    if theirs is None or np.isnan(theirs):
        return ours is None
    return ours is not None and abs(ours - theirs) <= TOL


def _check_classification(result, groupings, y, pred, min_group_size, multiclass=None):
    """Every group figure and disparity of ``result`` against fairlearn on the same rows.
    ``y`` and ``pred`` are 1 for the favourable class; ``multiclass`` (labels, predictions)
    gives the rows' own classes, which accuracy compares."""
    for view, index in _views(result, groupings):
        sensitive = _frame(groupings, index)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            by_group = MetricFrame(metrics=CLASSIFICATION, y_true=y, y_pred=pred,
                                   sensitive_features=sensitive).by_group
            if multiclass is not None:
                by_group["accuracy"] = MetricFrame(
                    metrics=accuracy_score, y_true=multiclass[0], y_pred=multiclass[1],
                    sensitive_features=sensitive).by_group
        # fairlearn lists every combination of an intersection, unobserved ones as NaN; we
        # leave those out
        by_group = by_group[by_group["count"].notna()]
        assert len(view.groups) == len(by_group)
        for group in view.groups:
            expected = by_group.loc[_key(group, index)]
            assert group.count == expected["count"]
            assert group.small == (group.count < min_group_size)
            m = {k: v.value for k, v in group.metrics.items()}
            for name in ("selection_rate", "precision", "accuracy"):
                assert _close(m[name], expected[name]), name
            # fairlearn reports a rate a group cannot have (no positives for TPR) as 0; we as None
            for rate in ("tpr", "fpr"):
                if m[rate] is None:
                    assert expected[rate] == 0
                else:
                    assert abs(m[rate] - expected[rate]) <= TOL
        _check_disparities(view, index, groupings, y, pred, min_group_size)


def _check_disparities(view, index, groupings, y, pred, min_group_size):
    eligible = [g for g in view.groups if not g.small]
    d = {k: v.value for k, v in view.disparities.items()}
    if len(eligible) < 2:
        assert all(v is None for v in d.values())
        return
    sensitive = _frame(groupings, index)
    keys = {_key(g, index) for g in eligible}
    if index is None:
        rows = np.array([tuple(r) in keys for r in sensitive.itertuples(index=False)])
    else:
        rows = sensitive.isin(keys).to_numpy()
    y, pred, sensitive = y[rows], pred[rows], sensitive[rows]
    kwargs = {"sensitive_features": sensitive}
    assert _close(d["dp_difference"], demographic_parity_difference(y, pred, **kwargs))
    assert _close(d["dp_ratio"], demographic_parity_ratio(y, pred, **kwargs))
    assert d["four_fifths_min_ratio"] == d["dp_ratio"]
    # fairlearn counts an undefined TPR (FPR) as 0: compare where every eligible group has both
    # labels and both components are defined ...
    has_both = all(g.metrics["tpr"].value is not None and g.metrics["fpr"].value is not None
                   for g in eligible)
    components = [d[k] for k in ("tpr_difference", "fpr_difference", "tpr_ratio", "fpr_ratio")]
    if has_both and None not in components:
        assert _close(d["eo_difference"], equalized_odds_difference(y, pred, **kwargs))
        assert _close(d["eo_ratio"], equalized_odds_ratio(y, pred, **kwargs))
    # ... and otherwise check our rule: undefined rates and components are left out.
    for name, metric in (("tpr_difference", "tpr"), ("fpr_difference", "fpr")):
        rates = [g.metrics[metric].value for g in eligible
                 if g.metrics[metric].value is not None]
        expected = max(rates) - min(rates) if len(rates) >= 2 else None
        assert _close(d[name], expected)
    differences = [v for v in (d["tpr_difference"], d["fpr_difference"]) if v is not None]
    assert d["eo_difference"] == (max(differences) if differences else None)
    ratios = [v for v in (d["tpr_ratio"], d["fpr_ratio"]) if v is not None]
    assert d["eo_ratio"] == (min(ratios) if ratios else None)


@st.composite
def classification_case(draw):
    n = draw(st.integers(8, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_features = draw(st.integers(1, 3))
    features = []
    for f in range(n_features):
        k = draw(st.integers(1, 4))
        values = rng.choice([f"v{i}" for i in range(k)], n).astype(object)
        if draw(st.booleans()):
            values[rng.uniform(size=n) < 0.1] = None
        features.append(encode_column(f"f{f}", values))
    prevalence = draw(st.sampled_from([0.0, 0.05, 0.5, 0.95]))
    y = (rng.uniform(size=n) < prevalence).astype(int)
    scores = np.round(rng.uniform(size=n), draw(st.integers(1, 3)))  # rounding makes ties
    threshold = draw(st.sampled_from([0.3, 0.5, 0.8]))
    min_group_size = draw(st.integers(1, 40))
    return y, scores, features, threshold, min_group_size


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(classification_case())
def test_binary_bias_agrees_with_fairlearn(case):
    y, scores, features, threshold, min_group_size = case
    result = bias(task="binary_classification", y_true=y, y_prob=scores, groups=features,
                  positive_class=1, threshold=threshold, min_group_size=min_group_size,
                  n_bootstrap=0)
    pred = (scores >= threshold).astype(int)
    _check_classification(result, features, y, pred, min_group_size)
    # the summary is the worst over the feature views and the intersection
    for name in ("dp_difference", "eo_difference"):
        values = [v.disparities[name].value for v in result.groupings
                  if v.disparities[name].value is not None]
        assert result.summary[name].value == (max(values) if values else None)
    ratios = [v.disparities["dp_ratio"].value for v in result.groupings
              if v.disparities["dp_ratio"].value is not None]
    assert result.summary["dp_ratio"].value == (min(ratios) if ratios else None)
    if ratios:
        assert result.four_fifths_pass == (min(ratios) >= 0.8)


def _string_labels_case(n=600, seed=5):
    rng = np.random.default_rng(seed)
    y = rng.choice(["approved", "declined"], n)
    scores = rng.uniform(size=n)
    sex = rng.choice(["female", "male", None], n, p=[0.48, 0.48, 0.04])
    age = rng.uniform(18, 90, n)
    age[rng.uniform(size=n) < 0.03] = np.nan
    return y, scores, sex, age


def test_string_labels_binned_age_and_missing_values_match_fairlearn():
    y, scores, sex, age = _string_labels_case()
    groupings = [encode_column("sex", sex), bin_column("age", age, BinSpec.of([25, 60]))]
    result = bias(task="binary_classification", y_true=y, y_prob=scores, groups=groupings,
                  positive_class="approved", threshold=0.4, min_group_size=10, n_bootstrap=0)
    assert [v.name for v in result.groupings] == ["sex", "age", "sex&age"]
    labels = [g.label for g in result.groupings[1].groups]
    assert labels == ["<25", "25 to <60", "≥60", MISSING]  # bin order, missing last
    assert [g.label for g in result.groupings[0].groups] == ["female", "male", MISSING]
    y01 = (y == "approved").astype(int)
    pred = (scores >= 0.4).astype(int)
    _check_classification(result, groupings, y01, pred, 10)


def test_small_groups_are_reported_and_flagged_but_not_judged():
    rng = np.random.default_rng(0)
    n = 400
    group = np.array(["a"] * 195 + ["b"] * 195 + ["c"] * 10)
    y = rng.integers(0, 2, n)
    scores = rng.uniform(size=n)
    scores[group == "c"] = 0.99  # a tiny group that is always selected
    result = bias(task="binary_classification", y_true=y, y_prob=scores,
                  groups=[encode_column("g", group)], positive_class=1, threshold=0.5,
                  min_group_size=30, n_bootstrap=0)
    view = result.groupings[0]
    c = next(g for g in view.groups if g.label == "c")
    assert c.small and c.count == 10 and c.metrics["selection_rate"].value == 1.0
    rates = [g.metrics["selection_rate"].value for g in view.groups if not g.small]
    assert view.disparities["dp_difference"].value == pytest.approx(max(rates) - min(rates),
                                                                    abs=TOL)
    assert result.figures()["small_groups"] == 1.0


def test_disparities_need_two_eligible_groups_and_say_why():
    y = np.array([1, 0] * 20)
    scores = np.linspace(0, 1, 40)
    group = np.array(["a"] * 35 + ["b"] * 5)
    result = bias(task="binary_classification", y_true=y, y_prob=scores,
                  groups=[encode_column("g", group)], positive_class=1, threshold=0.5,
                  min_group_size=30, n_bootstrap=0)
    assert result.summary["dp_difference"].value is None
    assert "fewer than two groups of g have at least 30 rows" in result.undefined["dp_difference"]
    assert result.four_fifths_pass is None
    assert result.figures()["four_fifths_pass"] is None


def test_a_rate_a_group_cannot_have_is_none_and_left_out():
    # group b has no favourable labels: its TPR is undefined (fairlearn would say 0)
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.2, 0.4, 0.7, 0.9, 0.1, 0.6, 0.3])
    group = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    result = bias(task="binary_classification", y_true=y, y_prob=scores,
                  groups=[encode_column("g", group)], positive_class=1, threshold=0.5,
                  min_group_size=1, n_bootstrap=0)
    b = result.groupings[0].groups[1]
    assert b.metrics["tpr"].value is None
    assert result.summary["tpr_difference"].value is None
    assert "tpr is defined in fewer than two groups" in result.undefined["tpr_difference"]
    assert result.summary["fpr_difference"].value == pytest.approx(0.5 - 0.5)


def test_multiclass_bias_is_judged_on_the_favourable_class():
    rng = np.random.default_rng(3)
    n = 500
    classes = ["approve", "review", "decline"]
    prob = rng.dirichlet([1, 1, 1], n)
    y = rng.choice(classes, n)
    region = rng.choice(["north", "south"], n)
    groupings = [encode_column("region", region)]
    result = bias(task="multiclass_classification", y_true=y, y_prob=prob, classes=classes,
                  positive_class="approve", groups=groupings, min_group_size=5, n_bootstrap=0)
    predicted = np.array(classes)[prob.argmax(axis=1)]
    y01 = (y == "approve").astype(int)
    pred01 = (predicted == "approve").astype(int)
    _check_classification(result, groupings, y01, pred01, 5, multiclass=(y, predicted))
    with pytest.raises(MetricInputError, match="favourable class"):
        bias(task="multiclass_classification", y_true=y, y_prob=prob, classes=classes,
             groups=groupings)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(5, 300), st.integers(1, 30))
def test_regression_bias_agrees_with_fairlearn(seed, n, min_group_size):
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 10, n)
    pred = y + rng.normal(0, 5, n)
    a = encode_column("a", rng.choice(["x", "y", "z"], n))
    b = bin_column("b", rng.uniform(0, 10, n), BinSpec.of([5]))
    groupings = [a, b]
    result = bias(task="regression", y_true=y, y_pred=pred, groups=groupings,
                  min_group_size=min_group_size, n_bootstrap=0)
    metrics = {"mae": mean_absolute_error, "rmse": root_mean_squared_error,
               "mean_prediction": mean_prediction}
    for view, index in _views(result, groupings):
        sensitive = _frame(groupings, index)
        frame = MetricFrame(metrics=metrics, y_true=y, y_pred=pred,
                            sensitive_features=sensitive)
        for group in view.groups:
            expected = frame.by_group.loc[_key(group, index)]
            for name in metrics:
                assert abs(group.metrics[name].value - expected[name]) <= TOL
        eligible = [g for g in view.groups if not g.small]
        if len(eligible) < 2:
            assert all(e.value is None for e in view.disparities.values())
            continue
        keys = {_key(g, index) for g in eligible}
        rows = (np.array([tuple(r) in keys for r in sensitive.itertuples(index=False)])
                if index is None else sensitive.isin(keys).to_numpy())
        sub = MetricFrame(metrics=metrics, y_true=y[rows], y_pred=pred[rows],
                          sensitive_features=sensitive[rows]).difference()
        for name in metrics:
            assert abs(view.disparities[f"{name}_difference"].value - sub[name]) <= TOL


def test_bootstrap_intervals_are_seeded_and_contain_the_estimate():
    y, scores, sex, age = _string_labels_case(n=3000, seed=9)
    groupings = [encode_column("sex", sex), bin_column("age", age, BinSpec.of([25, 60]))]
    kwargs = {"task": "binary_classification", "y_true": y, "y_prob": scores,
              "groups": groupings, "positive_class": "approved", "threshold": 0.5,
              "n_bootstrap": 100}
    first, again = bias(seed=3, **kwargs), bias(seed=3, **kwargs)
    assert first == again
    assert bias(seed=4, **kwargs) != first
    for view in first.groupings:
        for group in view.groups:
            if group.small:
                continue
            for estimate in group.metrics.values():
                if estimate.value is not None:
                    assert estimate.ci_low <= estimate.value <= estimate.ci_high
    figures = first.figures()
    assert figures["dp_difference_ci_low"] <= figures["dp_difference_ci_high"]


def test_tallies_of_two_chunks_merge_into_the_tally_of_all_rows():
    y, scores, sex, age = _string_labels_case(n=1000, seed=2)
    data = binary_data(y, scores, positive_class="approved", threshold=0.5)
    groupings = [encode_column("sex", sex), bin_column("age", age, BinSpec.of([25, 60]))]
    cells = intersect(groupings)
    spec = BootstrapSpec(replicates=20, seed=11)
    whole = bias_tally(data, cells, spec)
    k = 377
    parts = []
    for start, stop in ((0, k), (k, len(y))):
        chunk = binary_data(y[start:stop], scores[start:stop], positive_class="approved",
                            threshold=0.5)
        chunk_cells = intersect([encode_column("sex", sex[start:stop],
                                               categories=["female", "male"]),
                                 bin_column("age", age[start:stop], BinSpec.of([25, 60]))])
        parts.append(bias_tally(chunk, chunk_cells, spec, first_row=start))
    merged = parts[0].merge(parts[1])
    assert np.array_equal(merged.sums, whole.sums)
    assert bias_result(merged, groupings, cells, 30) == bias_result(whole, groupings, cells, 30)


@pytest.mark.parametrize("kwargs, message", [
    ({"groups": []}, "at least one sensitive feature"),
    ({"min_group_size": 0}, "min_group_size"),
    ({"n_bootstrap": -1}, "n_bootstrap"),
    ({"seed": -5}, "seed"),
    ({"confidence": 1.5}, "confidence"),
])
def test_bad_options_are_clear_errors(kwargs, message):
    args = {"task": "binary_classification", "y_true": [0, 1, 1], "y_prob": [0.1, 0.8, 0.6],
            "positive_class": 1, "threshold": 0.5,
            "groups": [encode_column("g", ["a", "b", "a"])]}
    with pytest.raises(MetricInputError, match=message):
        bias(**{**args, **kwargs})


def test_groups_must_be_encoded_and_named_once():
    args = {"task": "binary_classification", "y_true": [0, 1], "y_prob": [0.1, 0.8],
            "positive_class": 1, "threshold": 0.5}
    with pytest.raises(MetricInputError, match="encoded first"):
        bias(groups=[["a", "b"]], **args)
    with pytest.raises(MetricInputError, match="different names"):
        bias(groups=[encode_column("g", ["a", "b"]), encode_column("g", ["c", "d"])], **args)


def test_groups_of_another_length_are_refused():
    with pytest.raises(MetricInputError, match="has 2 rows but the labels have 3"):
        bias(task="binary_classification", y_true=[0, 1, 1], y_prob=[0.1, 0.8, 0.6],
             positive_class=1, threshold=0.5, groups=[encode_column("g", ["a", "b"])])
