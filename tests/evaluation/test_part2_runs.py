"""Part 2's checks in runs: robustness, explainability, drift and the mitigation what-if become
evidence bound to what they computed on, failing thresholds raise findings, the run page draws
them and explains single rows, and what cannot run is refused at launch with the reason.

Runs here are carried out in-process (the task's own function, through Celery's ``apply``);
tests/evaluation/test_part2_worker.py runs them on a real worker over RabbitMQ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rest_framework.test import APIClient

from core import services as accounts
from core.errors import ValidationFailed
from evaluation import engine
from evaluation import services as evaluation
from evaluation.metrics.explain import BACKGROUND_SIZE
from evaluation.models import Dataset, Run
from governance import services as governance
from governance.gates import blocking_items, case_for
from governance.models import Evidence, Finding
from governance.policy import SHIPPED
from registry import services as registry
from registry.models import RegisteredModel
from tests.conftest import approve_policy
from tests.evaluation.conftest import GERMAN_CSV, REQUIRED, SENSITIVE, policy_definition, upload
from tests.governance.conftest import ALL_HIGH
from tests.registry.conftest import model_fields

# Thresholds the demo model misses on the drifted data below, one per part-2 check. The demo
# model's own figures: max_metric_drop 0.025, shap_top_feature_share about 0.18; PSI of the
# tripled duration far above 0.25. The mitigation what-if's figures are analysis, not a pass mark;
# a policy may still bound them, and then a miss is a finding like any other.
PART2_REQUIRED = [
    *REQUIRED,
    {"check": "robustness", "metric": "max_metric_drop", "comparator": "<=", "threshold": 0.001},
    {"check": "explainability", "metric": "shap_sample_rows", "comparator": ">=", "threshold": 1},
    {"check": "explainability", "metric": "shap_top_feature_share", "comparator": "<=",
     "threshold": 0.05},
    {"check": "drift", "metric": "max_psi", "comparator": "<=", "threshold": 0.25},
    {"check": "mitigation", "metric": "mitigation_accuracy_cost", "comparator": "<=",
     "threshold": -0.5},
]
PART2 = ["robustness", "explainability", "drift", "mitigation"]
FAST = {"n_bootstrap": 0, "shap_rows": 20}


@pytest.fixture
def evaluation_policy(db, adam):
    """This module's policy: part 1's thresholds and one the demo model misses per part-2
    check (it replaces the conftest's, so the versions below are submitted under it)."""
    governance.ensure_policy_templates()
    pv = governance.policy_version_create(actor=adam, policy_slug="evaluated-2",
                                          name="Evaluated, part 2",
                                          definition=policy_definition(PART2_REQUIRED))
    return approve_policy(pv)


def german_frame() -> pd.DataFrame:
    return pd.read_csv(GERMAN_CSV)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def reference_and_drifted(model, actor) -> tuple[Dataset, Dataset]:
    """The German credit data as the reference (no labels needed), and an evaluation data set
    naming it whose loans last three times as long: duration drifts, nothing else does."""
    frame = german_frame()
    reference = evaluation.dataset_upload(
        actor=actor, model=model, file=upload(csv_bytes(frame.drop(columns=["good_credit"]))),
        filename="training.csv", is_reference=True)
    drifted = frame.assign(duration=frame["duration"] * 3)
    data = evaluation.dataset_upload(
        actor=actor, model=model, file=upload(csv_bytes(drifted)), filename="drifted.csv",
        label_column="good_credit", sensitive_features=SENSITIVE, reference=reference)
    return reference, data


@pytest.fixture(autouse=True)
def long_lease(settings):
    """Runs here take seconds in the test's own transaction, which the lease's heartbeat thread
    (a connection of its own) cannot see: a lease this long is not renewed during a run."""
    settings.EVALUATION_LEASE_S = 900


def run_now(queued_runs, capture, **launch) -> Run:
    with capture(execute=True):
        run = evaluation.run_launch(**launch)
    assert queued_runs.run() == ["succeeded"], Run.objects.get(pk=run.pk).error
    run.refresh_from_db()
    return run


@pytest.fixture
def api_for():
    """``api_for(user)``: an API client with ``user``'s token (one token per person)."""
    tokens: dict[str, str] = {}

    def client(user) -> APIClient:
        if user.username not in tokens:
            _, tokens[user.username] = accounts.token_create(actor=user, name="notebook",
                                                             expires_in_days=30)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {tokens[user.username]}")
        return api
    return client


# --- evidence and findings ----------------------------------------------------------------------


def test_each_part2_check_records_evidence_bound_to_its_inputs_and_a_finding_when_it_fails(
        validating, victor, queued_runs, django_capture_on_commit_callbacks):
    reference, data = reference_and_drifted(validating.model, victor)
    run = run_now(queued_runs, django_capture_on_commit_callbacks, actor=victor,
                  version=validating, dataset=data, checks=["performance", *PART2],
                  options=FAST)
    assert run.checks == ["performance", *PART2]
    assert run.dataset_digests == [data.sha256, reference.sha256]
    figures = {name: run.results["checks"][name]["figures"] for name in PART2}
    assert figures["robustness"]["max_metric_drop"] > 0.001
    assert figures["explainability"]["shap_sample_rows"] == 20
    assert figures["drift"]["max_psi"] > 0.25 and figures["drift"]["features_drifted"] >= 1
    assert figures["mitigation"]["mitigation_accuracy_cost"] > -0.5

    for name in PART2:
        row = Evidence.objects.get(version=validating, check_name=name)
        assert row.status == "failed", name
        assert row.artifact_digest == validating.artifact_sha256
        assert row.dataset_digests == [data.sha256, reference.sha256]
        assert row.digest == run.results["checks"][name]["digest"]
        assert row.figures == figures[name]
        assert run.verdicts[name]["status"] == "failed"
        finding = Finding.objects.get(version=validating, source_key=f"check:{name}")
        assert finding.title == f"The {name} check failed" and finding.severity == "high"
    assert "max_psi" in Finding.objects.get(source_key="check:drift").description
    blocked = {b.key for b in blocking_items(validating) if b.kind == "evidence"}
    assert set(PART2) <= blocked

    drift = run.results["checks"]["drift"]["result"]
    assert {f["column"]: f["band"] for f in drift["features"]}["duration"] == "significant"
    assert {f["column"]: f["band"] for f in drift["features"]}["age"] == "stable"
    mitigation = run.results["checks"]["mitigation"]["result"]
    assert mitigation["applied"] is False and "Equal Credit Opportunity Act" \
        in mitigation["caveat"]
    # The policy bounds eo_difference (REQUIRED has none; the what-if then uses demographic
    # parity without a limit).
    assert (mitigation["constraint"], mitigation["disparity_limit"]) == (
        "demographic_parity", None)
    assert run.results["part2"]["reference_rows"] == 1000
    # The what-if for every sensitive feature, its figures per feature as bias's are.
    assert [f["feature"] for f in mitigation["features"]] == ["sex", "age"]
    assert mitigation["sample"] == {"rows": 1000, "analysed": 1000, "drawn": "all rows",
                                    "seed": 0, "gathered": "one pass"}
    assert {"mitigation_accuracy_cost[sex]", "mitigation_accuracy_cost[age]"} <= set(
        figures["mitigation"])
    assert figures["mitigation"]["mitigation_disparity_before"] == max(
        figures["mitigation"]["mitigation_disparity_before[sex]"],
        figures["mitigation"]["mitigation_disparity_before[age]"])


def test_the_engine_reports_progress_at_every_check():
    from tests.evaluation.part2_models import demo_model

    built = demo_model()
    frame = german_frame()
    steps: list[tuple[int, str]] = []
    engine.evaluate(task="binary_classification", model_bytes=built.onnx_bytes,
                    input_specs=built.specs, frame=frame, label_column="good_credit",
                    favourable_class="1", threshold=0.5, checks=["performance", *PART2],
                    sensitive_features=SENSITIVE, options=FAST,
                    reference=frame.drop(columns=["good_credit"]),
                    report=lambda percent, step: steps.append((percent, step)))
    percents = [p for p, _ in steps]
    assert percents == sorted(percents)
    assert [s for _, s in steps if s.endswith(" check")] == [
        f"Computing the {name} check" for name in ["performance", *PART2]]


def test_the_robustness_curve_runs_through_the_noise_levels_in_order():
    """Stored results sort their keys (noise_high before noise_low): the curve must not."""
    from evaluation.charts import run_charts

    perturbations = [{"name": name, "flip_rate": rate, "metric_drop": rate / 2}
                     for name, rate in (("noise_high", 0.3), ("noise_low", 0.1),
                                        ("noise_medium", 0.2), ("missing", 0.05))]
    results = {"checks": {"robustness": {"figures": {}, "result": {
        "task": "classification", "perturbations": perturbations,
        "settings": {"noise_levels": {"noise_high": 0.25, "noise_low": 0.05,
                                      "noise_medium": 0.1}}}}}}
    curve = run_charts(results)[0].svg
    flips = [row[1:] for row in curve.data.rows if row[0] == "Flip rate"]
    assert flips == [("0", "0%"), ("0.05", "10%"), ("0.1", "20%"), ("0.25", "30%")]


def test_a_regressor_gets_robustness_explanations_and_drift():
    """The gradient-boosting regressor of the credit amount: robustness's metric drop is the
    RMSE's rise, TreeSHAP explains the raw value, drift compares with the reference."""
    from tests.evaluation.part2_models import tree_model

    built = tree_model("gbr")
    frame = german_frame().drop(columns=["good_credit"])
    outcome = engine.evaluate(
        task="regression", model_bytes=built.onnx_bytes, input_specs=built.specs, frame=frame,
        label_column="credit_amount", favourable_class="", threshold=None,
        checks=["performance", "robustness", "explainability", "drift"],
        sensitive_features=SENSITIVE, options=FAST, reference=frame.iloc[:500])
    checks = outcome.results["checks"]
    assert checks["robustness"]["result"]["metric"] == "rmse"
    assert checks["robustness"]["figures"]["max_flip_rate"] is None  # no threshold to flip
    assert checks["robustness"]["figures"]["max_metric_drop"] > 0
    assert checks["explainability"]["result"]["method"] == "tree"
    assert checks["explainability"]["result"]["output_space"] == "raw_value"
    assert checks["drift"]["figures"]["prediction_psi"] is not None


def test_robustness_tests_the_versions_monotone_features(
        german_model, dana, victor, demo_onnx, queued_runs, django_capture_on_commit_callbacks):
    version = registry.version_create(
        actor=dana, model=german_model, artifact=upload(demo_onnx, "m.onnx"),
        monotone_features={"duration": "decreasing", "credit_amount": "decreasing"})
    data = evaluation.dataset_upload(actor=dana, model=german_model, file=upload(GERMAN_CSV),
                                     filename="g.csv", label_column="good_credit")
    run = run_now(queued_runs, django_capture_on_commit_callbacks, actor=dana, version=version,
                  dataset=data, checks=["robustness"], options=FAST)
    result = run.results["checks"]["robustness"]["result"]
    assert {(m["column"], m["direction"]) for m in result["monotonicity"]} == {
        ("duration", -1), ("credit_amount", -1)}
    assert "monotonicity_violations" in run.results["checks"]["robustness"]["figures"]
    assert run.results["part2"]["monotone"] == {"duration": "decreasing",
                                                "credit_amount": "decreasing"}


def test_stored_tree_importance_sums_one_hot_columns_back_to_raw_columns(
        german_model, dana, queued_runs, django_capture_on_commit_callbacks):
    """The gradient-boosting pipeline: its trees read one-hot and scaled columns; the run stores
    one importance per raw input, equal to TreeExplainer's per-one-hot-column values on the
    scikit-learn model summed per raw column, averaged in absolute value over the same rows."""
    from tests.evaluation.part2_models import tree_model
    from tests.evaluation.test_explain import (
        TOLERANCE,
        graph_matrix,
        raw_column_of_each_transformed_column,
        reference_explainer,
    )

    built = tree_model("gbc")
    version = registry.version_create(actor=dana, model=german_model,
                                      artifact=upload(built.onnx_bytes, "gbc.onnx"))
    data = evaluation.dataset_upload(actor=dana, model=german_model, file=upload(GERMAN_CSV),
                                     filename="g.csv", label_column="good_credit",
                                     sensitive_features=SENSITIVE)
    seed, rows = 3, 200
    run = run_now(queued_runs, django_capture_on_commit_callbacks, actor=dana, version=version,
                  dataset=data, checks=["explainability"],
                  options={"seed": seed, "shap_rows": rows})
    result = run.results["checks"]["explainability"]["result"]
    assert result["method"] == "tree" and result["output_space"] == "log_odds"
    assert sorted(result["importance"]) == sorted(built.columns)  # raw columns, no one-hot ones

    frame = german_frame()
    sample = np.sort(np.random.default_rng(seed).choice(len(frame), size=rows, replace=False))
    background = np.sort(np.random.default_rng([seed, 1]).choice(
        len(frame), size=BACKGROUND_SIZE, replace=False))
    matrix = graph_matrix(built, frame.iloc[sample])
    explainer = reference_explainer(built.pipeline[-1],
                                    graph_matrix(built, frame.iloc[background]))
    per_one_hot = explainer.shap_values(matrix, check_additivity=False)
    owners = raw_column_of_each_transformed_column(built.pipeline)
    assert len(set(owners)) < len(owners)  # one-hot columns share their raw column
    by_raw = pd.DataFrame(per_one_hot, columns=owners).T.groupby(level=0).sum().T
    expected = by_raw.abs().mean()
    stored = pd.Series(result["importance"])
    assert (stored[expected.index] - expected).abs().max() < TOLERANCE
    assert set(result["group_importance"]) == {"sex", "age"}  # every sensitive feature
    for feature, groups in result["group_importance"].items():
        for group, importance in groups.items():
            assert sorted(importance) == sorted(built.columns), (feature, group)
    figures = run.results["checks"]["explainability"]["figures"]
    assert figures["shap_max_group_divergence"] == max(
        figures["shap_max_group_divergence[sex]"], figures["shap_max_group_divergence[age]"])


# --- the tier 1 gate ----------------------------------------------------------------------------


def test_tier_1_of_the_shipped_template_requires_robustness_and_explanations(
        db, people, demo_onnx, queued_runs, django_capture_on_commit_callbacks):
    governance.ensure_policy_templates()
    dana, victor = people["dana"], people["victor"]
    model = registry.model_create(actor=dana, team=dana.teams.first(),
                                  **model_fields(name="Credit decisions"))
    governance.intake_record(actor=dana, model=model, is_model=True, answers=ALL_HIGH,
                             rationale="Decides credit automatically.")
    version = registry.version_create(actor=dana, model=model, artifact=upload(demo_onnx, "m.onnx"))
    governance.version_submit(actor=dana, version=version)
    governance.validator_assign(actor=people["rhea"], version=version, validator=victor)
    version.refresh_from_db()
    assert version.governance.policy_version.definition == SHIPPED["sr-11-7"].latest
    assert case_for(version).tier == 1

    def evidence_blockers() -> dict[str, str]:
        return {b.key: b.message for b in blocking_items(version) if b.kind == "evidence"}

    before = evidence_blockers()
    assert {"robustness", "explainability"} <= set(before)
    data = evaluation.dataset_upload(actor=victor, model=model, file=upload(GERMAN_CSV),
                                     filename="g.csv", label_column="good_credit",
                                     sensitive_features=SENSITIVE)
    run = run_now(queued_runs, django_capture_on_commit_callbacks, actor=victor,
                  version=version, dataset=data, checks=["robustness", "explainability"],
                  options=FAST)
    assert run.verdicts["robustness"]["status"] == "passed"  # 0.025 <= 0.05
    assert run.verdicts["explainability"]["status"] == "passed"
    after = evidence_blockers()
    assert "robustness" not in after and "explainability" not in after
    assert "performance" in after  # part 1's evidence is still missing


# --- what cannot run is refused at launch ----------------------------------------------------------


def test_launch_refuses_part2_checks_that_cannot_run_with_the_reason(
        validating, german_data, victor, api_for):
    api = api_for(victor)

    def refused(checks: list[str], dataset=german_data) -> str:
        answer = api.post("/api/v1/runs/", {"version": validating.pk, "dataset": dataset.pk,
                                            "checks": checks}, format="json")
        assert answer.status_code == 400, answer.json()
        return answer.json()["fields"]["checks"][0]

    assert "has none. Upload the reference data set" in refused(["drift"])
    no_groups = evaluation.dataset_upload(actor=victor, model=validating.model,
                                          file=upload(GERMAN_CSV), filename="plain.csv",
                                          label_column="good_credit")
    assert "names none" in refused(["mitigation"], no_groups)
    assert "Choose among" not in refused(["shap"]) and "Unknown checks: shap" in refused(["shap"])
    assert not Run.objects.exists()
    answer = api.post("/api/v1/runs/", {"version": validating.pk, "dataset": german_data.pk,
                                        "checks": ["mitigation", "robustness", "explainability"],
                                        "options": {"shap_rows": 50}}, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["checks"] == ["robustness", "explainability", "mitigation"]
    assert answer.json()["options"]["shap_rows"] == 50
    answer = api.post("/api/v1/runs/", {"version": validating.pk, "dataset": german_data.pk,
                                        "checks": ["explainability"],
                                        "options": {"shap_rows": 0}}, format="json")
    assert answer.status_code == 400 and "shap_rows is a whole number from 1 to 5000" in \
        answer.json()["fields"]["options"][0]


def test_part2_checks_need_the_tasks_they_support(validating, german_data, victor):
    RegisteredModel.objects.filter(pk=validating.model_id).update(
        task="multiclass_classification")
    validating.model.refresh_from_db()
    for check in ("robustness", "explainability", "mitigation"):
        with pytest.raises(ValidationFailed, match=f"The {check} check is computed for binary "
                                                   "classification"):
            evaluation.run_launch(actor=victor, version=validating, dataset=german_data,
                                  checks=[check])


def test_a_run_page_shows_part2_charts_and_the_caveat_per_sensitive_feature(
        validating, victor, client, queued_runs, django_capture_on_commit_callbacks, api_for):
    _reference, data = reference_and_drifted(validating.model, victor)
    run = run_now(queued_runs, django_capture_on_commit_callbacks, actor=victor,
                  version=validating, dataset=data, checks=PART2, options=FAST)
    client.force_login(victor)
    page = client.get(f"/evaluation/runs/{run.pk}/").content.decode()
    for text in ("Robustness under Gaussian noise", "Global importance over 20 rows",
                 "Importance per group", "Population stability index per feature",
                 "Significant drift", "Selection rate per group of",
                 "Equal Credit Opportunity Act", 'id="mitigation-rules-', "Explain one row"):
        assert text in page, text
    assert page.count("<svg") >= 6

    api = api_for(victor)
    detail = api.get(f"/api/v1/runs/{run.pk}/").json()
    assert set(detail["figures"]) == set(PART2)
    assert detail["figures"]["drift"]["max_psi"] > 0.25


# --- monotone features: declared on the version, checked against its inputs ------------------


def test_monotone_features_are_checked_against_the_input_schema(german_model, dana, demo_onnx,
                                                                api_for, client):
    version = registry.version_create(actor=dana, model=german_model,
                                      artifact=upload(demo_onnx, "m.onnx"))
    api = api_for(dana)
    url = f"/api/v1/versions/{version.pk}/"
    for features, message in (
            ({"income": "increasing"}, "'income' is not an input of the model"),
            ({"housing": "increasing"}, "'housing' is a string input; only numeric inputs"),
            ({"duration": "up"}, "the direction of 'duration' is 'up'; use increasing or "
                                 "decreasing")):
        answer = api.patch(url, {"monotone_features": features}, format="json")
        assert answer.status_code == 400, features
        assert message in answer.json()["fields"]["monotone_features"][0], answer.json()
    version.refresh_from_db()
    assert version.monotone_features == {}

    answer = api.patch(url, {"monotone_features": {"duration": "decreasing"}}, format="json")
    assert answer.status_code == 200 and answer.json()["monotone_features"] == {
        "duration": "decreasing"}

    client.force_login(dana)
    page_url = f"/models/{german_model.slug}/versions/{version.number}/monotone/"
    answer = client.post(page_url, {"monotone_features": "age: increasing\nincome: increasing"})
    assert answer.status_code == 400 and "not an input of the model" in answer.content.decode()
    answer = client.post(page_url, {"monotone_features": "age increasing"})
    assert answer.status_code == 400 and "feature: increasing" in answer.content.decode()
    answer = client.post(page_url, {"monotone_features": "age: increasing\n"})
    assert answer.status_code == 302
    version.refresh_from_db()
    assert version.monotone_features == {"age": "increasing"}
    detail = client.get(f"/models/{german_model.slug}/versions/{version.number}/").content
    assert b"<code>age</code> increasing" in detail

    with pytest.raises(ValidationFailed, match="Upload the version's artifact first"):
        registry.version_create(actor=dana, model=german_model,
                                monotone_features={"age": "increasing"})
