"""Comparisons: two runs side by side, and a version against the previous approved version.

The runs are real: the part 1 engine scores the German-credit demo model as version 1 (approved
through the whole workflow), then as version 2 after the model's decision threshold was raised
from 0.5 to 0.8 — the same scores, so ROC AUC and calibration do not move, while every figure
read at the threshold (accuracy, recall, selection rates) does.
"""

from __future__ import annotations

import io
from html import unescape

import pandas as pd
import pytest

from evaluation import compare
from evaluation import services as evaluation
from evaluation.models import Run
from governance.gates import case_for
from governance.policy import EvidenceRequirement
from registry import services as registry
from registry.models import ModelVersion, VersionState
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE, upload
from tests.governance.conftest import Walk
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.django_db
OPTIONS = {"n_bootstrap": 50, "seed": 0}


# ---------------------------------------------------------------------------------------------
# The arithmetic, on results shaped as runs store them


def results(**checks: dict) -> dict:
    return {"checks": {name: {"figures": figures} for name, figures in checks.items()}}


ROC_FLOOR = EvidenceRequirement(check="performance", metric="roc_auc", comparator=">=",
                                threshold=0.7)


def one(changes: list[compare.CheckChange], check: str, figure: str) -> compare.FigureChange:
    found = next(c for c in changes if c.name == check)
    return next(f for f in found.figures if f.name == figure)


def test_directions_come_from_the_policy_templates_and_the_table():
    assert compare.direction("roc_auc") == compare.HIGHER  # a floor in the templates (>=)
    assert compare.direction("ece") == compare.LOWER  # a ceiling (<=)
    assert compare.direction("eo_difference[sex]") == compare.LOWER  # per grouping
    assert compare.direction("max_metric_drop") == compare.LOWER  # part 2: robustness
    assert compare.direction("flip_rate_noise_high") == compare.LOWER
    assert compare.direction("max_psi") == compare.LOWER  # part 2: drift
    assert compare.direction("n") == compare.NEUTRAL
    assert compare.direction("something_new") == compare.NEUTRAL


def test_overlapping_intervals_are_noise_disjoint_ones_a_regression():
    left = results(performance={"accuracy": 0.80, "accuracy_ci_low": 0.77,
                                "accuracy_ci_high": 0.83})
    overlapping = results(performance={"accuracy": 0.78, "accuracy_ci_low": 0.75,
                                       "accuracy_ci_high": 0.81})
    disjoint = results(performance={"accuracy": 0.70, "accuracy_ci_low": 0.67,
                                    "accuracy_ci_high": 0.73})
    f = one(compare.compare_checks(left, overlapping), "performance", "accuracy")
    assert (f.change, f.regression) == ("worse", False)
    assert f.left.has_interval and f.difference == pytest.approx(-0.02)
    f = one(compare.compare_checks(left, disjoint), "performance", "accuracy")
    assert (f.change, f.regression) == ("worse", True)
    assert f.reason == "the confidence intervals do not overlap"
    # Better is never a regression, however far.
    f = one(compare.compare_checks(disjoint, left), "performance", "accuracy")
    assert (f.change, f.regression) == ("better", False)


def test_crossing_a_policy_threshold_is_a_regression_even_within_the_noise():
    left = results(performance={"roc_auc": 0.705, "roc_auc_ci_low": 0.66,
                                "roc_auc_ci_high": 0.75})
    right = results(performance={"roc_auc": 0.695, "roc_auc_ci_low": 0.65,
                                 "roc_auc_ci_high": 0.74})
    f = one(compare.compare_checks(left, right, requirements=[ROC_FLOOR]), "performance",
            "roc_auc")
    assert f.regression and f.reason == "now misses performance (roc_auc >= 0.7)"
    assert [(t.left_passes, t.right_passes) for t in f.thresholds] == [(True, False)]
    # Without the policy the same change is within the intervals.
    f = one(compare.compare_checks(left, right), "performance", "roc_auc")
    assert (f.change, f.regression, f.thresholds) == ("worse", False, ())


def test_without_intervals_the_tolerance_decides():
    left = results(drift={"max_psi": 0.10, "features_drifted": 0},
                   bias={"small_groups": 0})
    right = results(drift={"max_psi": 0.105, "features_drifted": 2},
                    bias={"small_groups": 3})
    changes = compare.compare_checks(left, right)
    assert not one(changes, "drift", "max_psi").regression  # 0.005 < max(0.01, 2% of 0.1)
    drifted = one(changes, "drift", "features_drifted")
    assert drifted.regression and "more than the tolerance 0.01" in drifted.reason
    rows = one(changes, "bias", "small_groups")  # a neutral figure changes, never regresses
    assert (rows.change, rows.regression) == ("changed", False)


def test_figures_and_checks_in_one_run_only_are_shown_not_dropped():
    left = results(performance={"roc_auc": 0.8, "accuracy": 0.7},
                   calibration={"ece": 0.03})
    right = results(performance={"roc_auc": 0.8, "f1": 0.6},
                    robustness={"max_flip_rate": 0.02})
    changes = compare.compare_checks(left, right, left_verdicts={"calibration":
                                                                 {"status": "passed"}})
    assert [c.name for c in changes] == ["performance", "calibration", "robustness"]
    assert [(f.name, f.change) for f in changes[0].figures] == [
        ("accuracy", "only_left"), ("f1", "only_right"), ("roc_auc", "same")]
    assert (changes[1].only_in, changes[1].left_status, changes[1].right_status) == (
        "left", "passed", None)
    assert changes[2].only_in == "right"
    assert one(changes, "robustness", "max_flip_rate").left is None


def test_a_figure_that_becomes_undefined_is_said_so():
    changes = compare.compare_checks(results(bias={"dp_ratio": 0.9}),
                                     results(bias={"dp_ratio": None}))
    f = one(changes, "bias", "dp_ratio")
    assert (f.change, f.difference, f.regression) == ("undefined", None, False)


# ---------------------------------------------------------------------------------------------
# Real runs


def launch_and_run(version: ModelVersion, dataset, actor, queued_runs, capture,
                   checks=("performance", "bias", "calibration")) -> Run:
    with capture(execute=True):
        run = evaluation.run_launch(actor=actor, version=version, dataset=dataset,
                                    checks=list(checks), options=OPTIONS)
    assert queued_runs.run() == ["succeeded"]
    run.refresh_from_db()
    return run


def approve(version: ModelVersion, people) -> None:
    """Review and sign the version off (its evidence comes from the runs already recorded)."""
    walk = Walk(people)
    walk.review(version)
    roles = case_for(version).required_roles
    for who, role in (("boris", "review_board"), ("rhea", "risk_officer")):
        if role in roles:
            walk.sign(version, who)
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED


@pytest.fixture
def two_versions(german_data, people, demo_onnx, queued_runs,
                 django_capture_on_commit_callbacks):
    """v1 approved with a validator's run; v2 (threshold raised to 0.8) run by its team."""
    v1 = german_data.model.versions.get(number=1)
    run1 = launch_and_run(v1, german_data, people["victor"], queued_runs,
                          django_capture_on_commit_callbacks)
    approve(v1, people)
    model = registry.model_update(actor=people["dana"], model=v1.model, decision_threshold=0.8)
    artifact = io.BytesIO(demo_onnx)
    artifact.name = "german_credit.onnx"
    v2 = registry.version_create(actor=people["dana"], model=model, artifact=artifact,
                                 changelog="Decline more: threshold 0.8.")
    run2 = launch_and_run(v2, german_data, people["dana"], queued_runs,
                          django_capture_on_commit_callbacks)
    return v1, v2, run1, run2


def test_two_real_runs_side_by_side(two_versions):
    _v1, _v2, run1, run2 = two_versions
    comparison = compare.compare_runs(run1, run2)
    assert comparison.same_model and comparison.same_data
    assert comparison.notes == ("The decision thresholds differ (0.5 and 0.8).",)
    assert [c.name for c in comparison.checks] == ["performance", "bias", "calibration"]
    # The same scores: threshold-free figures do not move.
    for check, figure in (("performance", "roc_auc"), ("calibration", "ece"),
                          ("performance", "log_loss")):
        f = one(list(comparison.checks), check, figure)
        assert (f.change, f.difference) == ("same", 0.0), figure
    # Figures at the threshold do, and the drop in recall is far outside the noise.
    recall = one(list(comparison.checks), "performance", "recall")
    assert recall.change == "worse" and recall.regression
    assert recall.difference == pytest.approx(recall.right.value - recall.left.value)
    assert recall.reason == "the confidence intervals do not overlap"
    auc = one(list(comparison.checks), "performance", "roc_auc")
    assert [t.text for t in auc.thresholds] == ["performance (roc_auc >= 0.7)"]
    assert (auc.thresholds[0].left_passes, auc.thresholds[0].right_passes) == (True, True)
    # Every figure of either run is there, interval bounds folded into their figure.
    names = {f.name for c in comparison.checks for f in c.figures}
    assert names == {n for r in (run1, run2) for check in r.results["checks"].values()
                     for n in check["figures"] if not n.endswith(("_ci_low", "_ci_high"))}


def test_the_previous_approved_version_is_the_one_in_use(two_versions, people):
    v1, v2, run1, run2 = two_versions
    assert compare.previous_approved(v2) == v1
    assert compare.previous_approved(v1) is None  # nothing approved before it
    result = compare.version_comparison(v2)
    assert result.baseline == v1 and not result.datasets_differ
    assert [p.checks for p in result.pairings] == [("performance", "bias", "calibration")]
    assert (result.pairings[0].comparison.left, result.pairings[0].comparison.right) == (
        run1, run2)
    regressed = {f.name for f in result.regressions}
    assert {"recall", "accuracy"} <= regressed and "roc_auc" not in regressed
    # Suspended, v1 is no longer in use: nothing to compare against.
    from governance import services as governance
    governance.version_transition(version=v1, to=VersionState.SUSPENDED, actor=people["rhea"],
                                  reason="Found a data problem.")
    assert compare.previous_approved(v2) is None
    assert compare.version_comparison(v2).pairings == ()


def test_other_data_is_flagged_not_hidden(two_versions, people, queued_runs,
                                          django_capture_on_commit_callbacks):
    _v1, v2, _run1, _run2 = two_versions
    frame = pd.read_csv(GERMAN_CSV).iloc[:600]
    other = evaluation.dataset_upload(actor=people["victor"], model=v2.model,
                                      file=upload(frame.to_csv(index=False).encode(), "h.csv"),
                                      filename="h.csv", label_column="good_credit",
                                      sensitive_features=SENSITIVE)
    run3 = launch_and_run(v2, other, people["dana"], queued_runs,
                          django_capture_on_commit_callbacks, checks=("performance",))
    result = compare.version_comparison(v2)
    by_checks = {p.checks: p for p in result.pairings}
    # performance: v2's latest run is on the other data, which v1 never ran on.
    assert by_checks[("performance",)].datasets_differ
    assert by_checks[("performance",)].comparison.right == run3
    assert any("different data" in n for n in by_checks[("performance",)].comparison.notes)
    # bias and calibration: v2's latest is still run2, on v1's data.
    assert not by_checks[("bias", "calibration")].datasets_differ
    assert result.datasets_differ


# ---------------------------------------------------------------------------------------------
# Pages


def test_the_compare_page_shows_differences_in_words(client, two_versions, people):
    v1, _v2, run1, run2 = two_versions
    client.force_login(people["victor"])
    html = client.get(f"/evaluation/compare/?model={v1.model.slug}").content.decode()
    assert f'<option value="{run1.pk}"' in html and f'<option value="{run2.pk}"' in html
    answer = client.get(f"/evaluation/compare/?left={run1.pk}&right={run2.pk}")
    assert answer.status_code == 200
    html = answer.content.decode()
    recall = html.split("<code>recall</code>")[1].split("</tr>")[0]
    assert "⚠ regression" in recall and "the confidence intervals do not overlap" in recall
    roc_auc = html.split("<code>roc_auc</code>")[1].split("</tr>")[0]
    assert "= same" in roc_auc and "higher" in roc_auc
    assert "The decision thresholds differ" in html and "⚠" in html.split("compare-summary")[1]
    assert "performance (roc_auc &gt;= 0.7): baseline ✓ meets, compared ✓ meets" in html
    for title in ("ROC curves compared", "Selection rate by sex, compared",
                  "Reliability diagrams compared"):
        assert title in html, title
    assert html.count('role="img"') >= 5  # ROC, PR, 2 group bars, reliability


def test_the_version_page_flags_regressions_and_links_the_comparison(client, two_versions,
                                                                     people):
    v1, v2, _run1, _run2 = two_versions
    client.force_login(people["victor"])
    html = client.get(f"/models/{v2.model.slug}/versions/2/").content.decode()
    banner = html.split('id="version-regressions"')[1].split("</div>")[0]
    assert "regression" in banner and "against v1" in banner and "recall" in banner
    assert f"/evaluation/models/{v2.model.slug}/versions/2/compare/" in banner
    html = client.get(f"/evaluation/models/{v2.model.slug}/versions/2/compare/").content.decode()
    assert "against the previous approved version" in html and "same evaluation data" in html
    assert 'id="regressions"' in html and "recall" in html.split('id="regressions"')[1]
    # v1 has no earlier approved version.
    html = client.get(f"/evaluation/models/{v1.model.slug}/versions/1/compare/").content.decode()
    assert "There is no earlier approved version" in html
    html = client.get(f"/models/{v1.model.slug}/versions/1/").content.decode()
    assert 'id="version-regressions"' not in html


@pytest.fixture
def fraud_run(two_versions, people, teams, demo_onnx, queued_runs,
              django_capture_on_commit_callbacks) -> Run:
    """A run of another team's model (the fraud team's, frank's), on its own copy of the data."""
    frank = people["frank"]
    model = registry.model_create(actor=frank, team=teams["fraud"],
                                  **model_fields(name="Fraud copy of the scorecard"))
    artifact = io.BytesIO(demo_onnx)
    artifact.name = "german_credit.onnx"
    version = registry.version_create(actor=frank, model=model, artifact=artifact)
    data = evaluation.dataset_upload(actor=frank, model=model, file=upload(GERMAN_CSV),
                                     filename="german_credit.csv", label_column="good_credit",
                                     sensitive_features=SENSITIVE)
    return launch_and_run(version, data, frank, queued_runs, django_capture_on_commit_callbacks)


def test_runs_of_two_models_only_when_both_are_visible(client, api, two_versions, fraud_run,
                                                        people):
    _v1, v2, run1, _run2 = two_versions
    query = f"?left={run1.pk}&right={fraud_run.pk}"
    # dana sees her team's model, not the fraud team's: as if the run did not exist.
    client.force_login(people["dana"])
    assert client.get(f"/evaluation/compare/{query}").status_code == 404
    answer = api.as_(people["dana"]).get(f"/api/v1/runs/compare/{query}")
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert str(fraud_run.pk) in answer.json()["detail"]
    # The auditor sees both, and is told they are two models.
    answer = api.as_(people["aude"]).get(f"/api/v1/runs/compare/{query}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["same_model"] is False and "two different models" in body["notes"][0]
    client.force_login(people["aude"])
    assert "two different models" in client.get(f"/evaluation/compare/{query}").content.decode()
    # frank may not see v2 either.
    answer = api.as_(people["frank"]).get(f"/api/v1/versions/{v2.pk}/comparison/")
    assert answer.status_code == 404


# ---------------------------------------------------------------------------------------------
# API


def test_the_api_shape(api, two_versions, people):
    v1, v2, run1, run2 = two_versions
    answer = api.as_(people["victor"]).get(f"/api/v1/runs/compare/?left={run1.pk}&right={run2.pk}")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"left", "right", "same_model", "same_data", "notes", "regressions",
                         "checks", "tolerances"}
    assert (body["left"]["id"], body["right"]["id"]) == (run1.pk, run2.pk)
    assert body["left"]["page"] == f"/evaluation/runs/{run1.pk}/"
    assert body["tolerances"] == {"absolute": compare.ABS_TOLERANCE,
                                  "relative": compare.REL_TOLERANCE}
    recall = next(f for f in body["checks"][0]["figures"] if f["figure"] == "recall")
    assert set(recall) == {"check", "figure", "left", "right", "difference", "better",
                           "change", "regression", "reason", "thresholds"}
    assert recall["better"] == "higher" and recall["regression"] is True
    assert recall["left"]["ci_low"] <= recall["left"]["value"] <= recall["left"]["ci_high"]
    assert any(f["figure"] == "recall" for f in body["regressions"])
    answer = api.as_(people["victor"]).get(f"/api/v1/versions/{v2.pk}/comparison/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["baseline"] == {"id": v1.pk, "number": 1, "state": "approved"}
    assert body["datasets_differ"] is False and body["pairings"][0]["comparison"]["right"][
        "id"] == run2.pk
    answer = api.as_(people["victor"]).get(f"/api/v1/versions/{v1.pk}/comparison/")
    assert answer.json()["baseline"] is None and answer.json()["pairings"] == []


@pytest.mark.parametrize(("query", "status", "field", "says"), [
    ("", 400, "left", "Name the left run"),
    ("?left=1", 400, "right", "Name the right run"),
    ("?left=abc&right=1", 400, "left", "a run's id (a whole number)"),
    ("?left=1&right=-3", 400, "right", "a run's id (a whole number)"),
    ("?left=999999&right=999998", 404, "left", "no run 999999"),
])
def test_bad_input_is_a_clear_4xx(api, client, people, query, status, field, says):
    answer = api.as_(people["victor"]).get(f"/api/v1/runs/compare/{query}")
    assert answer.status_code == status, answer.json()
    assert says in answer.json()["detail"] and field in answer.json()["fields"]
    client.force_login(people["victor"])
    page = client.get(f"/evaluation/compare/{query or '?left='}")
    assert page.status_code == status and says in unescape(page.content.decode())


def test_a_run_without_results_cannot_be_compared(api, two_versions, people, german_data):
    _v1, v2, run1, _run2 = two_versions
    queued = evaluation.run_launch(actor=people["dana"], version=v2, dataset=german_data)
    answer = api.as_(people["victor"]).get(f"/api/v1/runs/compare/?left={run1.pk}&right="
                                       f"{queued.pk}")
    assert answer.status_code == 400
    assert answer.json()["detail"] == (f"Run {queued.pk} (right) has no results to compare: it "
                                       "is queued. Choose a run that succeeded.")
    assert api.as_(people["victor"]).get("/api/v1/versions/999999/comparison/").status_code == 404


# ---------------------------------------------------------------------------------------------
# Part 2 checks: robustness, explanations and drift of two real models


def part2_results(built, X, y) -> dict:
    """Robustness, drift (first 500 rows as reference) and SHAP of ``built``, stored as a run
    stores each check: its canonical ``as_dict()`` and ``figures()``."""
    from evaluation.metrics import drift, explain, robustness
    from evaluation.metrics.results import canonical
    from evaluation.metrics.scoring import inputs_accepting_missing

    predict = built.predict()
    computed = {
        "robustness": robustness.robustness(
            X, predict, data_profile=robustness.profile(X, built.columns), labels=y.to_numpy(),
            missing_columns=inputs_accepting_missing(built.specs)),
        "drift": drift.drift_frames(X.iloc[:500], X.iloc[500:], built.columns,
                                    reference_scores=predict(X.iloc[:500]),
                                    evaluation_scores=predict(X.iloc[500:])),
        "explainability": explain.explain(X, predict, columns=built.columns,
                                          onnx_model=built.onnx_bytes, input_specs=built.specs,
                                          sample_size=12, background_size=40, seed=3),
    }
    return {"checks": {name: {"result": canonical(r.as_dict()), "figures": canonical(r.figures())}
                       for name, r in computed.items()}}


def test_part2_checks_of_two_models_compare_figure_by_figure_and_chart_by_chart():
    from evaluation.compare_charts import paired_charts
    from tests.evaluation.part2_models import german_credit, tree_model

    X, y = german_credit()  # two tree ensembles: exact TreeSHAP, seconds rather than a minute
    forest, boosted = part2_results(tree_model("forest"), X, y), part2_results(
        tree_model("gbc"), X, y)
    changes = compare.compare_checks(forest, boosted)
    assert [c.name for c in changes] == ["robustness", "explainability", "drift"]
    for check, figure in (("robustness", "max_flip_rate"), ("robustness", "flip_rate_noise_high"),
                          ("drift", "max_psi"), ("explainability", "shap_top_feature_share")):
        f = one(changes, check, figure)
        assert f.direction == compare.LOWER and f.left is not None and f.right is not None
        assert f.difference == pytest.approx(f.right.value - f.left.value)
        assert f.change in ("better", "worse", "same")
    charts = paired_charts(forest, boosted, left_name="Forest", right_name="Boosted")
    titles = [c.svg.split("<title")[1].split("</title>")[0] for c in charts]
    assert [c.check for c in charts] == ["robustness", "robustness", "explainability", "drift"]
    for title in ("Flip rate per perturbation, compared", "Mean |SHAP| per column, compared",
                  "PSI per feature, compared"):
        assert any(title in unescape(t) for t in titles), title
    assert all("Forest" in c.svg and "Boosted" in c.svg for c in charts)
