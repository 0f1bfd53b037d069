"""Live performance and fairness from mergeable outcome sums (monitoring.outcomes): the sums of
two windows merge into the sums of both, and the figures agree with the evaluation engine's
(binary, regression) or scikit-learn's (multiclass macro F1) on the same outcomes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from evaluation.metrics.performance import performance
from monitoring import outcomes
from monitoring.outcomes import Joined, OutcomeSums


def binary_rows(n: int, seed: int = 0, groups: tuple[str, ...] = ()) -> list[Joined]:
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    labels = (rng.random(n) < scores).astype(int)
    return [Joined(outcome=int(y), score=float(s), label=None,
                   sensitive={"sex": groups[i % len(groups)]} if groups else {})
            for i, (y, s) in enumerate(zip(labels, scores, strict=True))]


def test_binary_sums_merge_and_match_the_engine():
    rows = binary_rows(3000, seed=4)
    whole = outcomes.tally("binary_classification", rows, favourable="1", threshold=0.5)
    halves = [outcomes.tally("binary_classification", part, favourable="1", threshold=0.5)
              for part in (rows[:1234], rows[1234:])]
    stored = [OutcomeSums.from_dict(h.as_dict()) for h in halves]  # as the windows keep them
    merged = outcomes.merged(stored)
    assert merged.as_dict() == whole.as_dict()
    live = outcomes.live_figures(merged)
    engine = performance(task="binary_classification",
                         y_true=np.array([r.outcome for r in rows]),
                         y_prob=np.array([r.score for r in rows]), positive_class=1,
                         threshold=0.5, n_bootstrap=0).figures()
    assert live["accuracy"] == pytest.approx(engine["accuracy"], abs=1e-12)
    # ROC AUC from 200 score bins: within a bin's ties of the exact figure.
    assert live["roc_auc"] == pytest.approx(engine["roc_auc"], abs=0.005)
    drop, metric = outcomes.performance_drop("binary_classification", live,
                                             {"roc_auc": live["roc_auc"] + 0.1})
    assert metric == "roc_auc" and drop == pytest.approx(0.1)


def test_labels_that_are_not_the_classes_are_left_out_and_few_outcomes_give_no_figure():
    rows = [Joined(outcome="maybe", score=0.3, label=None, sensitive={}),
            Joined(outcome=True, score=None, label=None, sensitive={}),
            *binary_rows(10)]
    sums = outcomes.tally("binary_classification", rows, favourable="1", threshold=0.5)
    assert sums.n == 10
    assert outcomes.live_figures(sums) == {}  # fewer than MIN_ROWS


def test_multiclass_accuracy_and_macro_f1_from_the_confusion_matrix():
    rng = np.random.default_rng(7)
    classes = ["a", "b", "c"]
    y = rng.choice(classes, 900)
    pred = np.where(rng.random(900) < 0.7, y, rng.choice(classes, 900))
    rows = [Joined(outcome=str(t), score=None, label=str(p), sensitive={})
            for t, p in zip(y, pred, strict=True)]
    merged = outcomes.merged([
        outcomes.tally("multiclass_classification", rows[:400], favourable="a", threshold=0.5),
        outcomes.tally("multiclass_classification", rows[400:], favourable="a", threshold=0.5)])
    live = outcomes.live_figures(merged)
    assert live["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert live["f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    drop, metric = outcomes.performance_drop("multiclass_classification", live,
                                             {"f1": 0.9, "accuracy": 0.9})
    assert metric == "f1" and drop == pytest.approx(0.9 - live["f1"])


def test_regression_mae_and_rmse_match_the_engine_and_the_drop_is_relative():
    rng = np.random.default_rng(9)
    y = rng.normal(100, 20, 500)
    pred = y + rng.normal(0, 5, 500)
    rows = [Joined(outcome=float(t), score=float(p), label=None, sensitive={})
            for t, p in zip(y, pred, strict=True)]
    merged = outcomes.merged([outcomes.tally("regression", rows[i:i + 100], favourable="",
                                             threshold=0.5) for i in range(0, 500, 100)])
    live = outcomes.live_figures(merged)
    engine = performance(task="regression", y_true=y, y_pred=pred, n_bootstrap=0).figures()
    assert live["rmse"] == pytest.approx(engine["rmse"])
    assert live["mae"] == pytest.approx(engine["mae"])
    drop, metric = outcomes.performance_drop("regression", live, {"rmse": live["rmse"] / 2})
    assert metric == "rmse" and drop == pytest.approx(1.0)  # twice the validated error


def test_fairness_per_group_with_small_groups_left_out():
    # Group "f" is predicted favourable far less often than group "m"; group "x" is too small.
    rows = []
    for i in range(400):
        group = "f" if i % 2 else "m"
        score = 0.9 if (group == "m" or i % 10 == 1) else 0.1
        rows.append(Joined(outcome=int(i % 3 == 0), score=score, label=None,
                           sensitive={"sex": group}))
    rows += [Joined(outcome=1, score=0.0, label=None, sensitive={"sex": "x"})] * 5
    merged = outcomes.merged([
        outcomes.tally("binary_classification", rows[:150], favourable="1", threshold=0.5),
        outcomes.tally("binary_classification", rows[150:], favourable="1", threshold=0.5)])
    statistics, details = outcomes.fairness(merged)
    groups = {g["value"]: g for g in details["sex"]["groups"]}
    assert groups["x"]["small"] and not groups["f"]["small"]
    selection = {v: groups[v]["selection_rate"] for v in ("f", "m")}
    assert selection["m"] == 1.0 and selection["f"] == pytest.approx(40 / 200)
    assert statistics["dp_ratio_shortfall"] == pytest.approx(1 - selection["f"] / selection["m"])
    tpr = {v: groups[v]["tpr"] for v in ("f", "m")}
    fpr = {v: groups[v]["fpr"] for v in ("f", "m")}
    assert statistics["eo_difference"] == pytest.approx(max(abs(tpr["m"] - tpr["f"]),
                                                            abs(fpr["m"] - fpr["f"])))


def test_regression_fairness_is_the_spread_of_mae():
    rows = [Joined(outcome=10.0, score=10.0 + (4.0 if i % 2 else 1.0), label=None,
                   sensitive={"region": "north" if i % 2 else "south"}) for i in range(100)]
    statistics, details = outcomes.fairness(
        outcomes.tally("regression", rows, favourable="", threshold=0.5))
    assert statistics == {"mae_difference": pytest.approx(3.0)}
    assert {g["value"]: g["mae"] for g in details["region"]["groups"]} == {
        "north": pytest.approx(4.0), "south": pytest.approx(1.0)}
