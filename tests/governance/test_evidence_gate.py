"""Evidence that decides (issue 12): the gate counts only evidence bound to the version's
artifact, from a run launched by someone independent of the model (or an outside tool where the
policy allows it), fails closed on a missing or non-numeric metric, and shows "warn" items as
warnings; a check failing again after its finding was closed raises a new finding; outside tools
record evidence through the API; the shipped templates' revision 2 and the Required evidence
table."""

from __future__ import annotations

import copy
import math

import pytest

from core.errors import Conflict
from governance import services
from governance.gates import blocking_items, check_verdict, evidence_standings, evidence_warnings
from governance.models import Evidence, Finding, FindingStatus, PolicyVersion, workflow_url
from governance.policy import SHIPPED, TASKS, TEMPLATES, definition_errors
from registry.models import Task, VersionState
from tests.conftest import approve_policy
from tests.governance.conftest import counting_evidence, digest

pytestmark = pytest.mark.django_db


def evidence_blockers(version) -> dict[str, str]:
    return {b.key: b.message for b in blocking_items(version) if b.kind == "evidence"}


def one_check_policy(adam, requirement: dict, tiers=("1", "2", "3")) -> PolicyVersion:
    """SR 11-7 whose tiers require only ``requirement``, made current."""
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    for name in tiers:
        definition["tiers"][name]["required_evidence"] = [requirement]
    pv = services.policy_version_create(actor=adam, policy_slug="one-check", name="One check",
                                        definition=definition)
    return approve_policy(pv)


@pytest.fixture
def auc_policy(policy, adam) -> PolicyVersion:
    return one_check_policy(adam, {"check": "performance", "metric": "roc_auc",
                                   "comparator": ">=", "threshold": 0.7})


@pytest.fixture
def in_validation(walk, draft, auc_policy):
    walk.submit(draft)
    walk.assign(draft)
    draft.refresh_from_db()
    return draft


class TestBoundToDigests:
    def test_evidence_computed_on_another_artifact_does_not_count(self, in_validation, victor):
        version = in_validation
        counting_evidence(version, "performance", figures={"roc_auc": 0.9},
                          launched_by=victor, artifact_digest=digest("another artifact"))
        message = evidence_blockers(version)["performance"]
        assert "computed on another artifact" in message
        assert digest("another artifact")[:12] in message
        assert version.artifact_sha256[:12] in message
        counting_evidence(version, "performance", figures={"roc_auc": 0.9}, launched_by=victor)
        assert evidence_blockers(version) == {}

    def test_legacy_evidence_without_an_artifact_digest_does_not_count(self, in_validation,
                                                                       victor):
        counting_evidence(in_validation, "performance", figures={"roc_auc": 0.9},
                          launched_by=victor, artifact_digest="")
        assert "names no artifact digest" in evidence_blockers(in_validation)["performance"]

    def test_newer_evidence_that_does_not_count_leaves_the_counting_one_in_force(
            self, in_validation, victor, dana):
        counting_evidence(in_validation, "performance", figures={"roc_auc": 0.9},
                          launched_by=victor)
        counting_evidence(in_validation, "performance", figures={"roc_auc": 0.5},
                          launched_by=dana)  # exploratory, and newer
        counting_evidence(in_validation, "performance", figures={"roc_auc": 0.5},
                          launched_by=victor, artifact_digest=digest("other"))
        assert evidence_blockers(in_validation) == {}
        [standing] = evidence_standings(in_validation)
        assert standing.counts and standing.value == 0.9


class TestFailsClosed:
    @pytest.mark.parametrize(("figures", "says"), [
        ({}, "roc_auc is missing"),
        ({"roc_auc": None}, "roc_auc is null"),
        ({"roc_auc": "0.9"}, "roc_auc = '0.9' is not a number"),
        ({"roc_auc": True}, "roc_auc = True is not a number"),
    ])
    def test_a_passed_row_without_its_metric_blocks_and_says_why(self, in_validation, victor,
                                                                 figures, says):
        counting_evidence(in_validation, "performance", figures=figures, launched_by=victor)
        message = evidence_blockers(in_validation)["performance"]
        assert says in message and "cannot be judged" in message

    @pytest.mark.parametrize(("figures", "reason"), [
        ({}, "roc_auc is missing"),
        ({"roc_auc": math.nan}, "roc_auc = nan is not a number"),
        ({"roc_auc": math.inf}, "roc_auc = inf is not a number"),
        ({"roc_auc": None}, "roc_auc is null"),
    ])
    def test_the_verdict_a_run_records_fails_closed(self, in_validation, figures, reason):
        verdict = check_verdict(in_validation, "performance", figures)
        assert (verdict.status, verdict.reasons) == ("failed", (reason,))

    def test_the_threshold_still_decides_when_the_metric_is_there(self, in_validation, victor):
        counting_evidence(in_validation, "performance", figures={"roc_auc": 0.65},
                          launched_by=victor)
        assert "roc_auc = 0.65, which misses >= 0.7" in evidence_blockers(
            in_validation)["performance"]


class TestWarnLevel:
    @pytest.fixture
    def warn_policy(self, policy, adam) -> PolicyVersion:
        definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
        for tier in definition["tiers"].values():
            tier["required_evidence"] = [
                {"check": "performance", "metric": "roc_auc", "comparator": ">=",
                 "threshold": 0.7},
                {"check": "robustness", "metric": "max_metric_drop", "comparator": "<=",
                 "threshold": 0.05, "level": "warn"}]
        pv = services.policy_version_create(actor=adam, policy_slug="warn", name="Warn",
                                            definition=definition)
        return approve_policy(pv)

    def test_a_missed_warning_blocks_nothing_and_is_shown_as_a_warning(
            self, walk, draft, warn_policy, victor, api, dana, client):
        walk.submit(draft)
        walk.assign(draft)
        counting_evidence(draft, "performance", figures={"roc_auc": 0.8}, launched_by=victor)
        counting_evidence(draft, "robustness", figures={"max_metric_drop": 0.2},
                          launched_by=victor)
        assert evidence_blockers(draft) == {}
        [warning] = evidence_warnings(draft)
        assert warning.key == "robustness" and "max_metric_drop = 0.2" in warning.message
        walk.review(draft)
        draft.refresh_from_db()
        assert draft.state == VersionState.PENDING_APPROVAL
        body = api.as_(dana).get(f"/api/v1/versions/{draft.pk}/governance/").json()
        assert [w["key"] for w in body["warnings"]] == ["robustness"]
        assert all(b["kind"] != "evidence" for b in body["blockers"])
        client.force_login(dana)
        for url in (workflow_url(draft), f"/models/{draft.model.slug}/versions/1/"):
            page = client.get(url).content.decode()
            assert "max_metric_drop = 0.2" in page, url

    def test_the_verdict_is_warn_when_only_a_warning_is_missed(self, walk, draft, warn_policy):
        verdict = check_verdict(draft, "robustness", {"max_metric_drop": 0.2})
        assert verdict.status == "warn"
        assert verdict.reasons == ("max_metric_drop = 0.2 misses <= 0.05 (warning only)",)
        assert check_verdict(draft, "robustness", {"max_metric_drop": 0.01}).status == "passed"

    @pytest.mark.parametrize(("change", "message"), [
        ({"level": "advisory"}, "level: one of block, warn"),
        ({"external_allowed": "yes"}, "external_allowed: must be true or false"),
        ({"tasks": ["ranking"]}, "tasks: a non-empty list"),
        ({"tasks": []}, "tasks: a non-empty list"),
        ({"weight": 2}, "unknown keys weight"),
        ({"threshold": math.nan}, "a threshold needs"),
    ])
    def test_the_policy_validates_a_requirements_level_and_options(self, change, message):
        definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
        definition["tiers"]["1"]["required_evidence"] = [
            {"check": "performance", "metric": "roc_auc", "comparator": ">=", "threshold": 0.7,
             **change}]
        assert any(message in e for e in definition_errors(definition)), \
            definition_errors(definition)

    def test_a_check_may_carry_several_metrics_but_each_once_per_task(self):
        definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
        bias = [{"check": "bias", "metric": "dp_ratio", "comparator": ">=", "threshold": 0.8},
                {"check": "bias", "metric": "eo_difference", "comparator": "<=",
                 "threshold": 0.1}]
        definition["tiers"]["1"]["required_evidence"] = bias
        assert definition_errors(definition) == []
        definition["tiers"]["1"]["required_evidence"] = [*bias, bias[0]]
        assert any("'bias' with metric 'dp_ratio' appears twice" in e
                   for e in definition_errors(definition))


class TestIndependence:
    """Evidence counts only from a run its validator or a risk officer launched, independent of
    the model; external evidence only where the policy allows it."""

    @pytest.mark.parametrize(("launcher", "counts", "why"), [
        ("victor", True, ""),
        ("rhea", True, ""),
        ("dana", False, "dana launched it, who is neither the version's validator nor a risk "
                        "officer: an exploratory run"),
        ("other_validator", False, "neither the version's validator nor a risk officer"),
        ("dev_officer", False, "dev_officer launched it, who develops this model"),
        (None, False, "names nobody who launched it"),
    ])
    def test_who_launched_the_run_decides_whether_it_counts(
            self, in_validation, make_user, dana, launcher, counts, why, people):
        others = {"other_validator": make_user("other_validator", "validator",
                                               team="validation"),
                  "dev_officer": make_user("dev_officer", "risk_officer")}
        # Named a developer as a data scientist of the team; a risk officer since.
        in_validation.model.developers.add(others["dev_officer"])
        person = {**people, **others}.get(launcher)
        counting_evidence(in_validation, "performance", figures={"roc_auc": 0.9},
                          launched_by=person)
        [standing] = evidence_standings(in_validation)
        assert standing.counts is counts
        assert why in standing.why_not
        assert ("performance" in evidence_blockers(in_validation)) is not counts

    def test_external_evidence_counts_only_where_the_policy_allows_it(
            self, draft, policy, adam, dana):
        """A draft is judged under the current policy (it binds at submission)."""
        need = {"check": "performance", "metric": "roc_auc", "comparator": ">=",
                "threshold": 0.7}
        one_check_policy(adam, need)
        services.evidence_record(version=draft, check="performance", status="passed",
                                 figures={"roc_auc": 0.9}, digest=digest("ci"), actor=dana,
                                 origin="external", artifact_digest=draft.artifact_sha256)
        assert "does not accept external evidence for 'performance'" in evidence_blockers(
            draft)["performance"]
        definition = copy.deepcopy(PolicyVersion.objects.current().definition)
        for tier in definition["tiers"].values():
            tier["required_evidence"] = [{**need, "external_allowed": True}]
        pv = services.policy_version_create(actor=adam, policy_slug="one-check",
                                            definition=definition)
        approve_policy(pv)
        assert evidence_blockers(draft) == {}
        [standing] = evidence_standings(draft)
        assert standing.counts and standing.evidence.origin == "external"


class TestFindingsReRaised:
    KW = {"check": "bias", "severity": "high", "title": "Selection-rate gap",
          "description": "dp_ratio 0.62 < 0.8", "figures": {"dp_ratio": 0.62}}

    def test_a_repeat_failure_returns_the_open_finding(self, in_validation):
        first = services.finding_raise_from_check(version=in_validation, **self.KW)
        again = services.finding_raise_from_check(version=in_validation, **self.KW)
        assert again.pk == first.pk
        assert Finding.objects.filter(version=in_validation).count() == 1

    def test_failing_again_after_the_finding_was_closed_raises_a_new_one(self, in_validation,
                                                                         dana, victor):
        first = services.finding_raise_from_check(version=in_validation, **self.KW)
        services.finding_transition(actor=dana, finding=first, to=FindingStatus.REMEDIATION_PROPOSED,
                                    text="Re-weighted the training data.")
        services.finding_transition(actor=victor, finding=first, to=FindingStatus.CLOSED,
                                    text="Re-ran bias: dp_ratio 0.86.")
        second = services.finding_raise_from_check(version=in_validation, **self.KW)
        assert second.pk != first.pk and second.status == FindingStatus.OPEN
        assert services.finding_raise_from_check(version=in_validation, **self.KW).pk == \
            second.pk
        first.refresh_from_db()
        assert first.status == FindingStatus.CLOSED
        assert ("finding", str(second.pk)) in {(b.kind, b.key)
                                               for b in blocking_items(in_validation)}

    def test_a_risk_accepted_stays_the_finding_of_its_check(self, in_validation, rhea):
        first = services.finding_raise_from_check(version=in_validation, **self.KW)
        services.finding_transition(actor=rhea, finding=first, to=FindingStatus.ACCEPTED_AS_RISK,
                                    text="Accepted: monitored monthly.")
        assert services.finding_raise_from_check(version=in_validation, **self.KW).pk == \
            first.pk


class TestExternalEvidenceApi:
    def body(self, version, **change) -> dict:
        return {"check": "performance", "status": "passed", "figures": {"roc_auc": 0.91},
                "digest": digest("ci result"), "artifact_digest": version.artifact_sha256,
                "dataset_digests": [digest("holdout")],
                "source_url": "https://ci.example/run/42", **change}

    def test_a_ci_pipeline_records_external_evidence_with_a_token(self, in_validation, dana,
                                                                   api):
        from core import services as core_services
        _row, token = core_services.token_create(actor=dana, name="CI", expires_in_days=30)
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = api.post(f"/api/v1/versions/{in_validation.pk}/evidence/",
                            self.body(in_validation), format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert (body["origin"], body["recorded_by"], body["artifact_digest"]) == (
            "external", "dana", in_validation.artifact_sha256)
        row = Evidence.objects.get(pk=body["id"])
        assert row.origin == "external" and row.dataset_digests == [digest("holdout")]
        listed = api.get(f"/api/v1/versions/{in_validation.pk}/evidence/").json()
        assert [r["id"] for r in listed["results"]] == [row.pk]
        # Stored and shown as external, but the policy does not accept it for the gate.
        status = api.get(f"/api/v1/versions/{in_validation.pk}/governance/").json()
        [required] = status["required_evidence"]
        assert required["evidence"]["origin"] == "external" and required["counts"] is False
        assert "external" in required["why_not"]

    @pytest.mark.parametrize(("change", "field"), [
        ({"digest": "abc"}, "digest"),
        ({"artifact_digest": ""}, "artifact_digest"),
        ({"artifact_digest": None}, "artifact_digest"),
        ({"dataset_digests": ["nope"]}, "dataset_digests"),
        ({"status": "great"}, "status"),
        ({"figures": [1, 2]}, "figures"),
        ({"check": ""}, "check"),
        ({"source_url": "javascript:alert(1)"}, "source_url"),
        ({"origin": "run"}, "origin"),  # not settable: always external
        ({"launched_by": "victor"}, "launched_by"),
    ])
    def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
            self, in_validation, dana, api, change, field):
        response = api.as_(dana).post(f"/api/v1/versions/{in_validation.pk}/evidence/",
                                      self.body(in_validation, **change), format="json")
        assert response.status_code == 400, response.content
        assert field in response.json()["fields"], response.json()
        assert not Evidence.objects.exists()

    def test_a_body_that_is_not_json_is_a_400(self, in_validation, dana, api):
        response = api.as_(dana).post(f"/api/v1/versions/{in_validation.pk}/evidence/",
                                      '{"check": NaN', content_type="application/json")
        assert response.status_code == 400
        assert not Evidence.objects.exists()

    @pytest.mark.parametrize(("who", "status"), [
        ("dana", 201), ("victor", 201), ("rhea", 201), ("aude", 403), ("frank", 404),
        ("boris", 403),
    ])
    def test_the_models_team_its_validator_and_risk_officers_record(
            self, in_validation, people, api, who, status):
        response = api.as_(people[who]).post(f"/api/v1/versions/{in_validation.pk}/evidence/",
                                             self.body(in_validation), format="json")
        assert response.status_code == status, response.content
        assert Evidence.objects.exists() is (status == 201)

    def test_the_endpoint_and_its_errors_are_in_the_openapi_schema(self):
        from drf_spectacular.generators import SchemaGenerator
        schema = SchemaGenerator().get_schema(request=None, public=True)
        post = schema["paths"]["/api/v1/versions/{id}/evidence/"]["post"]
        assert set(post["responses"]) >= {"201", "400", "403", "404", "409"}
        assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "ExternalEvidenceInputRequest")


class TestTemplatesRevision2:
    def test_each_tier_requires_its_checks_with_thresholds(self):
        for template in SHIPPED.values():
            assert definition_errors(template.latest) == []
            tiers = template.latest["tiers"]
            checks = {t: {(r["check"], r.get("metric", ""), r.get("level", "block"))
                          for r in tiers[t]["required_evidence"]} for t in tiers}
            assert checks["3"] == {("performance", "roc_auc", "block"),
                                   ("performance", "", "block")}
            assert checks["2"] == checks["3"] | {
                ("bias", "dp_ratio", "block"), ("bias", "eo_difference", "block"),
                ("bias", "", "block"), ("calibration", "ece", "block")}
            # Tier 1 requires robustness and explanations (issue 13): blocking, not warnings.
            assert checks["1"] == checks["2"] | {("robustness", "max_metric_drop", "block"),
                                                 ("robustness", "", "block"),
                                                 ("explainability", "shap_sample_rows", "block")}
            tier1 = {(r["check"], r.get("metric", "")): r["tasks"]
                     for r in tiers["1"]["required_evidence"]}
            assert tier1[("robustness", "max_metric_drop")] == ["binary_classification"]
            assert tier1[("robustness", "")] == ["regression"]
            assert tier1[("explainability", "shap_sample_rows")] == ["binary_classification",
                                                                     "regression"]

    def test_revision_1_is_kept_exactly_as_shipped(self):
        """Installations hold revision 1 as policy version 1: it must stay what it was."""
        for template in SHIPPED.values():
            first = template.revisions[0]
            assert all(t["required_evidence"] == [] for t in first["tiers"].values())

    def test_task_names_are_the_registrys(self):
        assert set(TASKS) == set(Task.values)

    def test_a_binary_model_in_tier_2_needs_performance_bias_and_calibration(
            self, walk, draft, policy):
        assert policy.definition == TEMPLATES["sr-11-7"][2]
        walk.submit(draft)
        walk.assign(draft)
        blockers = evidence_blockers(draft)
        assert set(blockers) == {"performance", "bias", "calibration"}
        assert "'bias (dp_ratio >= 0.8)' is missing" in blockers["bias"]
        with pytest.raises(Conflict, match="calibration"):
            walk.review(draft)
        walk.evidence(draft)
        assert evidence_blockers(draft) == {}
        walk.review(draft)

    def test_a_regression_model_is_not_held_to_classifier_metrics(self, walk, draft, policy,
                                                                  victor):
        draft.model.task = Task.REGRESSION
        draft.model.save(update_fields=["task"])
        walk.submit(draft)
        walk.assign(draft)
        assert set(evidence_blockers(draft)) == {"performance", "bias"}
        for check in ("performance", "bias"):
            counting_evidence(draft, check, figures={"rmse": 1.2}, launched_by=victor)
        assert evidence_blockers(draft) == {}


class TestRequiredEvidenceTable:
    def test_a_risk_officer_sees_what_each_check_still_needs_and_why(
            self, walk, draft, policy, victor, dana, rhea, client, api):
        walk.submit(draft)
        walk.assign(draft)
        counting_evidence(draft, "performance", figures={"roc_auc": 0.93}, launched_by=victor,
                          source_url="/evaluations/runs/7/")
        counting_evidence(draft, "bias", figures={"dp_ratio": 0.9, "eo_difference": 0.05},
                          launched_by=dana)
        counting_evidence(draft, "calibration", figures={"ece": 0.02}, launched_by=victor,
                          artifact_digest=digest("older artifact"))
        client.force_login(rhea)
        page = client.get(workflow_url(draft)).content.decode()
        table = page[page.index('id="required-evidence"'):page.index("<h2>What you can do")]
        for text in ("roc_auc", "&gt;= 0.7", "0.93", 'href="/evaluations/runs/7/"',
                     draft.artifact_sha256[:12], "counts", "met",
                     "dana launched it, who is neither the version&#x27;s validator",
                     "computed on another artifact", digest("older artifact")[:12],
                     "ece", "&lt;= 0.1", "blocks"):
            assert text in table, text
        body = api.as_(rhea).get(f"/api/v1/versions/{draft.pk}/governance/").json()
        rows = {(r["check"], r["metric"]): r for r in body["required_evidence"]}
        perf = rows[("performance", "roc_auc")]
        assert (perf["value"], perf["counts"], perf["met"], perf["level"]) == (0.93, True, True,
                                                                               "block")
        assert perf["evidence"]["source_url"] == "/evaluations/runs/7/"
        assert perf["evidence"]["artifact_digest"] == draft.artifact_sha256
        assert perf["evidence"]["launched_by"] == "victor"
        bias = rows[("bias", "dp_ratio")]
        assert (bias["counts"], bias["met"]) == (False, False)
        assert "exploratory run" in bias["why_not"]
        # The exploratory run is stored and shown as such, on the page and in the API.
        newest = page[page.index("<h2>Evidence (newest per check)"):]
        assert newest.count(">exploratory</span>") == 1
        listed = api.get(f"/api/v1/versions/{draft.pk}/evidence/").json()["results"]
        assert {(r["check"], r["exploratory"]) for r in listed} == {
            ("performance", False), ("bias", True), ("calibration", False)}
        calibration = rows[("calibration", "ece")]
        assert "another artifact" in calibration["why_not"]
        assert calibration["problem"].startswith("Required evidence 'calibration (ece <= 0.1)' "
                                                 "is missing")


def test_what_an_evaluation_worker_records_blocks_or_clears_the_approval(walk, draft, policy,
                                                                        victor):
    """The contract the evaluation app records through: for each check, the verdict of the bound
    policy, recorded by Assay (actor None) for the validator who launched the run, bound to the
    artifact and datasets; a failed check raises its finding."""
    walk.submit(draft)
    walk.assign(draft)
    draft.refresh_from_db()

    def worker_records(check: str, figures: dict) -> str:
        verdict = check_verdict(draft, check, figures)
        services.evidence_record(version=draft, check=check, status=verdict.status,
                                 figures=figures, digest=digest(f"{check}{figures}"), actor=None,
                                 launched_by=victor, artifact_digest=draft.artifact_sha256,
                                 dataset_digests=[digest("german-credit")],
                                 source_url="/evaluations/runs/1/")
        if verdict.status == "failed":
            services.finding_raise_from_check(version=draft, check=check, severity="high",
                                              title=f"{check} failed",
                                              description="; ".join(verdict.reasons),
                                              figures=figures)
        return verdict.status

    assert worker_records("performance", {"roc_auc": 0.78, "accuracy": 0.74}) == "passed"
    assert worker_records("bias", {"dp_ratio": 0.71, "eo_difference": 0.06}) == "failed"
    assert worker_records("calibration", {"ece": 0.04}) == "passed"
    assert set(evidence_blockers(draft)) == {"bias"}
    assert {b.kind for b in blocking_items(draft)} >= {"evidence", "finding"}
    with pytest.raises(Conflict, match="Check 'bias' failed"):
        walk.review(draft)
    # After a mitigation the validator re-runs it; the finding is answered and closed.
    assert worker_records("bias", {"dp_ratio": 0.86, "eo_difference": 0.06}) == "passed"
    finding = Finding.objects.get(version=draft, status=FindingStatus.OPEN)
    services.finding_transition(actor=draft.model.owner, finding=finding,
                                to=FindingStatus.REMEDIATION_PROPOSED, text="Re-weighted.")
    services.finding_transition(actor=victor, finding=finding, to=FindingStatus.CLOSED,
                                text="Bias re-run: dp_ratio 0.86.")
    walk.review(draft)
    walk.sign(draft, "boris")
    walk.sign(draft, "rhea")
    draft.refresh_from_db()
    assert draft.state == VersionState.APPROVED
