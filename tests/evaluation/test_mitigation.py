"""Mitigation what-if: fairlearn's ThresholdOptimizer reduces a known disparity; the report is
honest about randomised rules, never applied, and carries the legal caveat."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluation.metrics.mitigation import (
    CAVEAT,
    sample_positions,
    threshold_what_if,
    what_if_per_feature,
)

LABELS = ["group a", "group b"]


def synthetic(n: int = 6000, seed: int = 0):
    """Two groups with the same outcomes, but the model scores group b lower: a disparity."""
    rng = np.random.default_rng(seed)
    codes = (rng.random(n) < 0.4).astype(int)
    y = (rng.random(n) < 0.6).astype(int)
    signal = np.where(y == 1, 0.65, 0.35) + rng.normal(0, 0.15, size=n)
    scores = np.clip(signal - 0.15 * codes, 0, 1)
    return scores, y, codes


def test_demographic_parity_thresholds_remove_most_of_a_known_disparity():
    scores, y, codes = synthetic()
    result = threshold_what_if(scores, y, codes, LABELS, disparity_limit=0.05)
    rate = [np.mean(scores[codes == g] >= 0.5) for g in (0, 1)]
    assert result.disparity_before == pytest.approx(abs(rate[0] - rate[1]))
    assert result.disparity_before > 0.2
    assert result.disparity_after < 0.02
    assert result.as_dict()["meets_limit_before"] is False
    assert result.as_dict()["meets_limit_after"] is True
    assert result.accuracy_before == pytest.approx(np.mean((scores >= 0.5) == y))
    a, b = result.groups
    assert (a.group, b.group, a.rows + b.rows) == ("group a", "group b", len(scores))
    # the lowered group gets the lower threshold
    threshold = {g.group: min(part["threshold"] for part in g.rule if part["probability"] > 0)
                 for g in result.groups}
    assert threshold["group b"] < threshold["group a"]


def test_the_report_is_never_applied_and_carries_the_caveat():
    scores, y, codes = synthetic()
    result = threshold_what_if(scores, y, codes, LABELS)
    report = result.as_dict()
    assert report["applied"] is False and result.applied is False
    assert report["caveat"] == CAVEAT
    assert "Equal Credit Opportunity Act" in CAVEAT and "unlawful" in CAVEAT
    assert report["meets_limit_after"] is None  # no limit given
    json.dumps(report, allow_nan=False)
    figures = result.figures()
    assert figures["mitigation_accuracy_cost"] == pytest.approx(
        result.accuracy_before - result.accuracy_after)
    assert figures["mitigation_disparity_after"] == result.disparity_after


def test_the_rates_after_follow_from_the_reported_rules():
    """Recompute each group's expected selection rate from the rule as reported."""
    scores, y, codes = synthetic()
    result = threshold_what_if(scores, y, codes, LABELS)
    for code, group in enumerate(result.groups):
        s = scores[codes == code]
        p = sum(part["probability"] * (s > part["threshold"] if part["operation"] == ">"
                                       else s < part["threshold"]) for part in group.rule)
        assert group.selection_rate_after == pytest.approx(float(np.mean(p)))
        assert sum(part["probability"] for part in group.rule) == pytest.approx(1.0)
    assert result.randomised == any(g.randomised for g in result.groups)


def test_equalized_odds_reduces_the_gap_in_error_rates():
    scores, y, codes = synthetic(seed=1)
    result = threshold_what_if(scores, y, codes, LABELS, constraint="equalized_odds")
    a, b = result.groups
    gap = max(abs(a.true_positive_rate_before - b.true_positive_rate_before),
              abs(a.false_positive_rate_before - b.false_positive_rate_before))
    assert result.disparity_before == pytest.approx(gap)
    assert result.disparity_after < result.disparity_before / 3
    assert all(g.ignore is not None for g in result.groups)


def test_rows_without_a_group_are_left_out():
    scores, y, codes = synthetic()
    codes = codes.copy()
    codes[:100] = -1
    result = threshold_what_if(scores, y, codes, LABELS)
    assert result.rows == len(scores) - 100


def test_same_data_gives_the_same_report():
    scores, y, codes = synthetic()
    assert threshold_what_if(scores, y, codes, LABELS).as_dict() == \
        threshold_what_if(scores, y, codes, LABELS).as_dict()


@pytest.mark.parametrize(("change", "message"), [
    (lambda s, y, c: (s, y + 1, c), "Labels must be 0 or 1"),
    (lambda s, y, c: (s[:-1], y, c), "one score, one label and one group code per row"),
    (lambda s, y, c: (s, y, np.zeros_like(c)), "at least two groups"),
    (lambda s, y, c: (s, y, c + 1), "only 2 group labels"),
])
def test_bad_input_is_refused_with_a_message(change, message):
    with pytest.raises(ValueError, match=message):
        threshold_what_if(*change(*synthetic(600)), LABELS)


def test_an_unknown_constraint_is_refused():
    with pytest.raises(ValueError, match="demographic_parity, equalized_odds"):
        threshold_what_if(*synthetic(600), LABELS, constraint="parity")


def test_equalized_odds_needs_both_outcomes_in_every_group():
    scores, y, codes = synthetic(600)
    y = np.where(codes == 1, 1, y)
    with pytest.raises(ValueError, match="'group b' has only one outcome"):
        threshold_what_if(scores, y, codes, LABELS, constraint="equalized_odds")


# --- every sensitive feature ------------------------------------------------------------------


def test_every_sensitive_feature_gets_its_own_rules_and_suffixed_figures():
    """The run's what-if: one per feature on the same rows, figures ``[feature]`` as the bias
    check's, the unsuffixed ones the worst over the features; a feature it cannot be computed
    for keeps its reason instead of failing the others."""
    scores, y, codes = synthetic()
    rng = np.random.default_rng(7)
    region = (rng.random(len(scores)) < 0.5).astype(int)  # unrelated to the scores
    single = np.zeros(len(scores), dtype=int)  # one group only: no what-if for it
    result = what_if_per_feature(
        scores, y, [("group", codes, LABELS), ("region", region, ["north", "south"]),
                    ("site", single, ["only"])],
        disparity_limit=0.05,
        sample={"rows": len(scores), "analysed": len(scores), "drawn": "all rows", "seed": 0})
    by_feature = {f.feature: f for f in result.features}
    alone = {name: threshold_what_if(scores, y, c, labels, disparity_limit=0.05)
             for name, c, labels in (("group", codes, LABELS),
                                     ("region", region, ["north", "south"]))}
    figures = result.figures()
    for name, expected in alone.items():
        assert by_feature[name].result == expected
        for figure, value in expected.figures().items():
            assert figures[f"{figure}[{name}]"] == value
    assert by_feature["site"].result is None and "at least two groups" in by_feature["site"].reason
    assert figures["mitigation_disparity_before"] == max(
        a.disparity_before for a in alone.values()) == alone["group"].disparity_before
    assert figures["mitigation_accuracy_cost"] == max(
        a.accuracy_before - a.accuracy_after for a in alone.values())
    assert figures["mitigation_rows"] == len(scores)
    report = result.as_dict()
    assert report["applied"] is False and report["caveat"] == CAVEAT
    assert [f["feature"] for f in report["features"]] == ["group", "region", "site"]
    assert report["features"][0]["groups"][0]["group"] == "group a"
    json.dumps(report, allow_nan=False)

    with pytest.raises(ValueError, match="any sensitive feature: site: "):
        what_if_per_feature(scores, y, [("site", single, ["only"])], sample={})


def test_above_the_sample_size_a_seeded_sample_is_analysed():
    assert list(sample_positions(5, seed=1, size=10)) == [0, 1, 2, 3, 4]
    drawn = sample_positions(1000, seed=1, size=100)
    assert len(drawn) == len(set(drawn)) == 100 and list(drawn) == sorted(drawn)
    assert list(drawn) == list(sample_positions(1000, seed=1, size=100))
    assert list(drawn) != list(sample_positions(1000, seed=2, size=100))
