"""Drift: PSI computed by hand, KS against scipy's ks_2samp, chi-square against
chi2_contingency, the binning rules, exact merging of chunks, prediction drift and bad input."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.metrics import drift as dr


def hand_psi(r: list[float], e: list[float]) -> float:
    total_r, total_e = sum(r), sum(e)
    return sum((max(b / total_e, 1e-4) - max(a / total_r, 1e-4))
               * math.log(max(b / total_e, 1e-4) / max(a / total_r, 1e-4))
               for a, b in zip(r, e, strict=True))


def test_psi_of_counts_is_the_textbook_formula():
    assert dr.psi([50, 30, 20], [30, 30, 40]) == pytest.approx(
        (0.3 - 0.5) * math.log(0.3 / 0.5) + 0 + (0.4 - 0.2) * math.log(0.4 / 0.2))
    # an empty bin counts as a share of 1e-4: large but finite
    assert dr.psi([100, 0], [90, 10]) == pytest.approx(
        (0.9 - 1.0) * math.log(0.9) + (0.1 - 1e-4) * math.log(0.1 / 1e-4))
    assert dr.psi([5, 5], [5, 5]) == 0.0


def test_numeric_bins_are_the_reference_deciles_closed_on_the_right():
    reference = pd.DataFrame({"x": np.arange(1, 101)})  # deciles 10, 20, ..., 90
    evaluation = pd.DataFrame({"x": [5, 10, 11, 20, 55, 90, 91, 100, 150, -5, np.nan, np.nan]})
    result = dr.drift_frames(reference, evaluation, ["x"])
    (x,) = result.features
    assert x.bins[:3] == ("(-inf, 10]", "(10, 20]", "(20, 30]")
    assert x.bins[-2:] == ("(90, inf)", "missing")
    # by hand: (-inf,10]: 5,10,-5 | (10,20]: 11,20 | (50,60]: 55 | (80,90]: 90 |
    # (90,inf): 91,100,150 | missing: 2
    expected = [3, 2, 0, 0, 0, 1, 0, 0, 1, 3, 2]
    assert [round(s * 12) for s in x.evaluation_shares] == expected
    assert x.psi == pytest.approx(hand_psi([10] * 10 + [0], expected))
    assert x.band == "significant" and x.evaluation_rows == 12


def test_a_heavily_tied_column_gets_fewer_bins():
    reference = pd.DataFrame({"n": [1] * 70 + [2] * 20 + [3] * 10})
    bins = dr.binning(reference, ["n"])
    assert bins.numeric["n"].psi_edges == (1.0, 2.0)  # three bins: <=1, (1, 2], > 2
    assert bins.numeric["n"].ks_edges == (1.0, 2.0, 3.0)


def test_ks_of_continuous_data_is_within_its_stated_bound_of_scipys():
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"x": rng.normal(size=5000)})
    evaluation = pd.DataFrame({"x": rng.normal(0.1, 1.1, size=4000)})
    (x,) = dr.drift_frames(reference, evaluation, ["x"]).features
    exact = stats.ks_2samp(reference["x"], evaluation["x"], method="asymp")
    assert x.ks_statistic <= exact.statistic + 1e-12  # the binned statistic never exceeds D
    assert exact.statistic - x.ks_statistic <= x.ks_error_bound
    assert x.ks_error_bound < 0.005  # 1000 reference quantiles: about 1/1000 per bin
    assert x.ks_pvalue == pytest.approx(
        stats.kstwo.sf(x.ks_statistic, round(5000 * 4000 / 9000)))


def test_ks_of_data_with_few_values_is_exact():
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({"k": rng.integers(0, 12, size=3000)})
    shifted = np.minimum(rng.integers(0, 12, size=2000) + (rng.random(2000) < 0.2), 11)
    evaluation = pd.DataFrame({"k": shifted})  # every value is one the reference has
    (k,) = dr.drift_frames(reference, evaluation, ["k"]).features
    exact = stats.ks_2samp(reference["k"], evaluation["k"], method="asymp")
    assert k.ks_error_bound == 0.0
    assert k.ks_statistic == pytest.approx(exact.statistic, abs=1e-12)
    assert k.ks_pvalue == pytest.approx(exact.pvalue, rel=1e-9)


def test_categorical_drift_is_psi_and_scipys_chi_square_over_categories_unseen_and_missing():
    reference = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    evaluation = pd.DataFrame({"c": ["a"] * 40 + ["b"] * 20 + ["d"] * 5 + [None] * 5 + ["c"] * 30})
    (c,) = dr.drift_frames(reference, evaluation, ["c"]).features
    assert c.kind == "categorical" and c.bins == ("a", "b", "c", "(unseen)", "missing")
    table = np.array([[50, 30, 20, 0, 0], [40, 20, 30, 5, 5]])
    expected = stats.chi2_contingency(table, correction=False)
    assert c.chi2_statistic == pytest.approx(expected.statistic)
    assert c.chi2_pvalue == pytest.approx(expected.pvalue)
    assert c.chi2_dof == expected.dof == 4
    assert c.psi == pytest.approx(hand_psi([50, 30, 20, 0, 0], [40, 20, 30, 5, 5]))
    assert c.ks_statistic is None


def test_chi_square_of_two_categories_has_no_continuity_correction():
    reference = pd.DataFrame({"c": ["y"] * 60 + ["n"] * 40})
    evaluation = pd.DataFrame({"c": ["y"] * 45 + ["n"] * 55})
    (c,) = dr.drift_frames(reference, evaluation, ["c"]).features
    expected = stats.chi2_contingency(np.array([[40, 60], [55, 45]]), correction=False)
    assert c.chi2_statistic == pytest.approx(expected.statistic)


def german(seed: int, n: int) -> pd.DataFrame:
    from tests.evaluation.part2_models import german_credit

    X, _y = german_credit()
    return X.sample(n=n, replace=True, random_state=seed).reset_index(drop=True)


def test_chunks_count_exactly_what_one_pass_counts():
    reference, evaluation = german(1, 3000), german(2, 2500)
    columns = ["duration", "credit_amount", "age", "purpose", "housing", "sex"]
    rng = np.random.default_rng(3)
    ref_scores, ev_scores = rng.random(3000), rng.random(2500) ** 1.3
    bins = dr.binning(reference, columns, reference_scores=ref_scores)
    one_ref = dr.count(reference, bins, scores=ref_scores)
    one_ev = dr.count(evaluation, bins, scores=ev_scores)
    cuts = [0, 7, 1000, 1001, 2500]
    chunks = [dr.count(evaluation.iloc[a:b], bins, scores=ev_scores[a:b])
              for a, b in itertools.pairwise(cuts)]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged.merge(chunk)
    assert merged == one_ev
    one = dr.drift(bins, one_ref, one_ev).as_dict()
    assert dr.drift(bins, one_ref, merged).as_dict() == one


def test_prediction_drift_and_the_figures():
    reference, evaluation = german(1, 2000), german(2, 2000)
    evaluation["credit_amount"] = evaluation["credit_amount"] * 1.8  # inflation, say
    rng = np.random.default_rng(4)
    result = dr.drift_frames(reference, evaluation, ["credit_amount", "age", "purpose"],
                             reference_scores=rng.beta(5, 2, 2000),
                             evaluation_scores=rng.beta(5, 2, 2000))
    by_column = {f.column: f for f in result.features}
    assert by_column["credit_amount"].band == "significant"
    assert by_column["age"].band == "stable" and by_column["purpose"].band == "stable"
    assert result.prediction is not None and result.prediction.band == "stable"
    figures = result.figures()
    assert figures["max_psi"] == by_column["credit_amount"].psi
    assert figures["features_drifted"] == 1 and figures["features_moderate_drift"] == 0
    assert figures["prediction_psi"] == result.prediction.psi
    assert figures["prediction_ks_statistic"] == result.prediction.ks_statistic
    assert figures["max_ks_statistic"] == by_column["credit_amount"].ks_statistic
    json.dumps(result.as_dict(), allow_nan=False)


def test_identical_data_does_not_drift():
    frame = german(5, 1000)
    result = dr.drift_frames(frame, frame.copy(), ["duration", "purpose"])
    assert all(f.psi == 0 and f.band == "stable" for f in result.features)
    assert result.features[0].ks_statistic == 0 and result.features[1].chi2_statistic == 0


def test_bands_are_the_documented_defaults_and_can_be_set():
    assert [dr.band(v) for v in (0.05, 0.1, 0.25, 0.26)] == \
        ["stable", "moderate", "moderate", "significant"]
    assert dr.band(0.15, (0.2, 0.3)) == "stable"


@pytest.mark.parametrize(("call", "message"), [
    (lambda r, e: dr.drift_frames(r, e, ["nope"]), "reference data lacks the column"),
    (lambda r, e: dr.drift_frames(r, e.drop(columns=["age"]), ["age"]), "data lacks the column"),
    (lambda r, e: dr.drift_frames(r, e, ["age"], reference_scores=np.zeros(len(r))),
     "scores of both data sets, or of neither"),
    (lambda r, e: dr.drift_frames(r, e.assign(age=e["age"].astype(str)), ["age"]),
     "numeric in the reference but not in this data"),
    (lambda r, e: dr.binning(r, ["age"], psi_bins=1), "at least 2 PSI bins"),
])
def test_bad_input_is_refused_with_a_message(call, message):
    with pytest.raises(ValueError, match=message):
        call(german(1, 100), german(2, 100))
