"""The lifecycle through the services: the happy path, preconditions, and one audit event per
transition."""

from __future__ import annotations

import re

import pytest

from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent
from governance import services
from governance.models import Notification, VersionGovernance
from registry import services as registry
from registry.models import ModelVersion, VersionState
from tests.conftest import PASSWORD
from tests.governance.conftest import ALL_HIGH, digest, last_refusal, refusals, shipped

pytestmark = pytest.mark.django_db


def transitions(version) -> list[str]:
    return list(AuditEvent.objects.filter(object_type="registry.modelversion",
                                          object_id=str(version.pk),
                                          action__startswith="version.")
                .exclude(action__in=["version.create", "version.update",
                                     "version.artifact_upload"])
                .order_by("seq").values_list("action", flat=True))


def test_happy_path_reaches_approved_with_one_event_per_transition(walk, draft, policy):
    walk.to_pending(draft)
    assert draft.state == VersionState.PENDING_APPROVAL
    walk.sign(draft, "boris")
    draft.refresh_from_db()
    assert draft.state == VersionState.PENDING_APPROVAL
    walk.sign(draft, "rhea")
    draft.refresh_from_db()
    assert draft.state == VersionState.APPROVED and draft.is_servable()
    assert draft.model.__class__.objects.get(pk=draft.model_id).status == VersionState.APPROVED
    assert transitions(draft) == ["version.submit", "version.start_validation",
                                  "version.conclude_validation", "version.approve"]
    approve = AuditEvent.objects.get(action="version.approve")
    assert approve.payload["policy_version_id"] == policy.pk and approve.payload["tier"] == 2
    assert approve.payload["signers"] == ["boris", "rhea"]
    assert VersionGovernance.objects.get(version=draft).policy_version == policy


def test_submission_needs_an_artifact(dana, tiered_model, policy):
    version = registry.version_create(actor=dana, model=tiered_model)
    with pytest.raises(Conflict, match="Upload the version's ONNX artifact"):
        services.version_submit(actor=dana, version=version)
    version.refresh_from_db()
    assert version.state == VersionState.DRAFT
    assert not VersionGovernance.objects.exists()


def test_submission_needs_a_completed_intake(dana, credit_model, onnx_file, policy):
    version = registry.version_create(actor=dana, model=credit_model, artifact=onnx_file())
    with pytest.raises(Conflict, match="intake"):
        services.version_submit(actor=dana, version=version)
    assert transitions(version) == []


def test_non_models_are_recorded_and_skip_validation(dana, credit_model, onnx_file, policy):
    services.intake_record(actor=dana, model=credit_model, is_model=False,
                           rationale="A reporting spreadsheet, no estimation.")
    version = registry.version_create(actor=dana, model=credit_model, artifact=onnx_file())
    with pytest.raises(Conflict, match="not a model"):
        services.version_submit(actor=dana, version=version)


def test_an_invalid_transition_is_a_conflict_with_the_reason(draft, rhea):
    with pytest.raises(Conflict) as exc:
        services.version_transition(version=draft, to=VersionState.APPROVED, actor=rhea)
    assert exc.value.status == 409
    assert exc.value.message == ("Version 1 is draft; it cannot go to approved. From draft it "
                                 "can go to: submitted.")


def test_approval_cannot_be_forced_through_the_transition_function(walk, draft, boris):
    walk.to_pending(draft)
    walk.sign(draft, "boris")
    with pytest.raises(Conflict, match="more sign-off"):
        services.version_transition(version=draft, to=VersionState.APPROVED, actor=boris)
    draft.refresh_from_db()
    assert draft.state == VersionState.PENDING_APPROVAL


def test_submission_binds_the_current_policy_and_later_changes_do_not_rebind(
        walk, draft, policy, adam):
    walk.submit(draft)
    sr262 = shipped("sr-26-2")
    services.policy_version_make_current(actor=adam, policy_version=sr262)
    draft.refresh_from_db()
    assert VersionGovernance.objects.get(version=draft).policy_version == policy
    walk.assign(draft)
    assert AuditEvent.objects.get(action="version.start_validation").payload[
        "policy_version_id"] == policy.pk


class TestEvidenceGate:
    def test_a_digest_is_exactly_64_hex_characters(self, draft, dana):
        """A trailing newline (sha256sum output pasted whole) is refused as bad input, not
        stored into the 64-character column (a 500 once)."""
        for bad in (digest() + "\n", digest()[:63], digest() + "0"):
            with pytest.raises(ValidationFailed) as refused:
                services.evidence_record(version=draft, check="performance", status="passed",
                                         digest=bad, actor=dana)
            assert "digest" in refused.value.fields
        assert not draft.evidence.exists()

    def test_evidence_records_what_it_was_computed_on_and_who_asked(self, draft, dana, victor):
        row = services.evidence_record(
            version=draft, check="performance", status="passed", figures={"auc": 0.8},
            digest=digest("result"), actor=None, launched_by=victor,
            artifact_digest=digest("artifact").upper(),
            dataset_digests=[digest("eval"), digest("reference")])
        row.refresh_from_db()
        assert (row.origin, row.artifact_digest, row.dataset_digests, row.launched_by) == (
            "run", digest("artifact"), [digest("eval"), digest("reference")], victor)
        payload = AuditEvent.objects.get(action="evidence.record").payload
        assert payload["artifact_digest"] == digest("artifact")
        assert payload["launched_by"] == "victor"

    def test_evidence_bound_to_a_malformed_digest_or_unknown_origin_is_refused(self, draft,
                                                                              dana):
        for bad in ({"artifact_digest": "abc"}, {"dataset_digests": [digest(), "x"]},
                    {"origin": "notebook"}):
            with pytest.raises(ValidationFailed) as refused:
                services.evidence_record(version=draft, check="performance", status="passed",
                                         digest=digest(), actor=dana, **bad)
            assert set(bad) <= set(refused.value.fields)
        assert not draft.evidence.exists()

    def test_the_bound_policy_judges_a_checks_figures(self, walk, draft, strict_policy):
        from governance.gates import check_verdict
        walk.submit(draft)
        assert check_verdict(draft, "performance", {"auc": 0.8}).status == "passed"
        verdict = check_verdict(draft, "performance", {"auc": 0.65})
        assert verdict.status == "failed"
        assert verdict.reasons == ("auc = 0.65 misses >= 0.7",)
        assert check_verdict(draft, "a check the policy does not name", {}).status == "passed"

    def test_missing_evidence_blocks_pending_approval(self, walk, draft, strict_policy):
        walk.submit(draft)
        walk.assign(draft)
        with pytest.raises(Conflict, match=re.escape("'performance (auc >= 0.7)' is missing")):
            walk.review(draft)
        draft.refresh_from_db()
        assert draft.state == VersionState.IN_VALIDATION
        assert not hasattr(draft, "validation_review") or draft.validation_review is None

    def test_failing_evidence_blocks_and_passing_evidence_lets_it_through(
            self, walk, draft, strict_policy):
        walk.submit(draft)
        walk.assign(draft)
        walk.evidence(draft, status="failed")
        with pytest.raises(Conflict, match="failed"):
            walk.review(draft)
        walk.evidence(draft, status="passed", auc=0.65)  # passed, but below the threshold
        with pytest.raises(Conflict, match=re.escape("auc = 0.65, which misses >= 0.7")):
            walk.review(draft)
        walk.evidence(draft, status="passed", auc=0.8)
        walk.review(draft)
        draft.refresh_from_db()
        assert draft.state == VersionState.PENDING_APPROVAL

    def test_evidence_failing_after_the_quorum_holds_the_approval_until_it_passes(
            self, walk, draft, strict_policy, dana):
        walk.submit(draft)
        walk.assign(draft)
        walk.evidence(draft)
        walk.review(draft)
        draft.refresh_from_db()
        walk.evidence(draft, status="failed")
        walk.sign(draft, "boris")
        walk.sign(draft, "rhea")
        draft.refresh_from_db()
        assert draft.state == VersionState.PENDING_APPROVAL
        walk.evidence(draft, status="passed")  # the re-run passes: Assay completes the approval
        draft.refresh_from_db()
        assert draft.state == VersionState.APPROVED
        assert AuditEvent.objects.get(action="version.approve").actor_id is None


class TestValidation:
    def test_a_rejecting_review_rejects_the_version(self, walk, draft):
        walk.submit(draft)
        walk.assign(draft)
        walk.review(draft, conclusion="reject")
        draft.refresh_from_db()
        assert draft.state == VersionState.REJECTED
        assert transitions(draft)[-1] == "version.reject_in_validation"

    def test_conditions_of_use_are_recorded(self, walk, draft):
        walk.submit(draft)
        walk.assign(draft)
        walk.evidence(draft)
        review = walk.review(draft, conclusion="approve_with_conditions")
        assert review.conditions == "Refer every decline to a credit officer."
        event = AuditEvent.objects.get(action="version.conclude_validation")
        assert event.payload["conditions"] == review.conditions

    def test_tier_one_does_not_allow_conditional_approval(self, walk, draft, rhea):
        services.intake_record(actor=rhea, model=draft.model, is_model=True,
                               answers=ALL_HIGH)
        walk.submit(draft)
        walk.assign(draft)
        walk.evidence(draft)
        with pytest.raises(Conflict, match="does not allow conditional approval"):
            walk.review(draft, conclusion="approve_with_conditions")

    def test_the_reviewed_digest_must_be_the_submitted_one(self, walk, draft):
        walk.submit(draft)
        walk.assign(draft)
        walk.evidence(draft)
        with pytest.raises(ValidationFailed, match="not the submitted one") as exc:
            walk.review(draft, artifact_sha256="a" * 64)
        assert "artifact_sha256" in exc.value.fields

    def test_changes_requested_then_resubmitted_keeps_the_binding(self, walk, draft, victor):
        walk.submit(draft)
        walk.assign(draft)
        with pytest.raises(ValidationFailed, match="reason"):
            services.version_transition(version=draft, to=VersionState.CHANGES_REQUESTED,
                                        actor=victor)
        services.version_transition(version=draft, to=VersionState.CHANGES_REQUESTED,
                                    actor=victor, reason="Add the benchmark.")
        walk.submit(draft)
        walk.assign(draft)
        walk.evidence(draft)
        walk.review(draft)
        draft.refresh_from_db()
        assert draft.state == VersionState.PENDING_APPROVAL
        assert transitions(draft) == [
            "version.submit", "version.start_validation", "version.request_changes",
            "version.resubmit", "version.start_validation", "version.conclude_validation"]

    def test_the_validator_is_added_to_the_assignees_and_sees_the_model(self, walk, draft,
                                                                       victor):
        walk.submit(draft)
        walk.assign(draft)
        assert victor.pk in draft.model.__class__.objects.get(pk=draft.model_id).assignee_ids
        assert ModelVersion.objects.visible_to(victor).filter(pk=draft.pk).exists()


class TestSignoffs:
    def test_a_rejection_by_a_required_signer_rejects(self, walk, draft):
        walk.to_pending(draft)
        walk.sign(draft, "boris", "reject")
        draft.refresh_from_db()
        assert draft.state == VersionState.REJECTED
        assert transitions(draft)[-1] == "version.reject"

    def test_a_wrong_password_is_refused_and_audited(self, walk, draft, boris):
        walk.to_pending(draft)
        before = refusals("boris")
        with pytest.raises(PermissionRefused, match="password"):
            services.signoff_record(actor=boris, version=draft, decision="approve",
                                    comment="ok", password="guess")
        assert not draft.signoffs.exists()
        assert refusals("boris") == before + 1
        assert "password" in last_refusal("boris")

    def test_a_user_holding_several_roles_counts_once(self, walk, draft, make_user):
        both = make_user("bea", "review_board", "risk_officer")
        walk.p["bea"] = both
        walk.to_pending(draft)
        walk.sign(draft, "bea")
        with pytest.raises(PermissionRefused, match="already signed"):
            walk.sign(draft, "bea")
        draft.refresh_from_db()
        assert draft.state == VersionState.PENDING_APPROVAL
        assert draft.signoffs.count() == 1

    def test_signing_records_policy_tier_and_digest(self, walk, draft, policy):
        walk.to_pending(draft)
        signoff = walk.sign(draft, "boris")
        assert (signoff.policy_version, signoff.tier, signoff.role) == (policy, 2, "review_board")
        assert signoff.artifact_sha256 == draft.artifact_sha256


def test_a_new_version_goes_through_the_lifecycle_while_the_previous_stays_servable(
        walk, draft, dana, onnx_file):
    walk.to_pending(draft)
    walk.sign(draft, "boris")
    walk.sign(draft, "rhea")
    second = registry.version_create(actor=dana, model=draft.model, artifact=onnx_file())
    walk.to_pending(second)
    draft.refresh_from_db()
    assert draft.is_servable() and second.state == VersionState.PENDING_APPROVAL
    walk.sign(second, "boris")
    walk.sign(second, "rhea")
    draft.refresh_from_db()
    second.refresh_from_db()
    assert draft.is_servable() and second.is_servable()


def test_suspend_reinstate_and_retire_need_a_risk_officer_and_a_reason(walk, draft, rhea, dana,
                                                                        victor):
    walk.to_pending(draft)
    walk.sign(draft, "boris")
    walk.sign(draft, "rhea")
    with pytest.raises(PermissionRefused, match="risk officers"):
        services.version_transition(version=draft, to=VersionState.SUSPENDED, actor=dana,
                                    reason="x")
    services.version_transition(version=draft, to=VersionState.SUSPENDED, actor=rhea,
                                reason="Drift alert.")
    assert not draft.is_servable()
    services.version_transition(version=draft, to=VersionState.APPROVED, actor=rhea,
                                reason="Drift explained.")
    with pytest.raises(PermissionRefused):
        services.version_transition(version=draft, to=VersionState.RETIRED, actor=victor,
                                    reason="x")
    services.version_transition(version=draft, to=VersionState.RETIRED, actor=dana,
                                reason="Replaced.")
    assert transitions(draft)[-3:] == ["version.suspend", "version.reinstate", "version.retire"]
    draft.refresh_from_db()
    assert draft.model.__class__.objects.get(pk=draft.model_id).status == VersionState.RETIRED


class TestChangesRequested:
    """After changes are requested the developer answers and resubmits the same artifact; the
    version goes back to its validator, who starts the validation again."""

    def request_changes(self, walk, draft, victor) -> None:
        walk.submit(draft)
        walk.assign(draft)
        services.version_transition(version=draft, to=VersionState.CHANGES_REQUESTED,
                                    actor=victor, reason="Add the benchmark against the "
                                                         "scorecard.")

    def test_the_developer_is_told_what_to_do(self, api, walk, draft, victor, dana):
        self.request_changes(walk, draft, victor)
        body = api.as_(dana).get(f"/api/v1/versions/{draft.pk}/governance/").json()
        assert body["actions"] == ["submit"]
        assert body["note"].startswith("Changes requested: Add the benchmark")
        assert "register it as a new version" in body["note"]
        note = Notification.objects.get(user=dana, kind="decision")
        assert "Add the benchmark" in note.body and "resubmit" in note.body

    def test_a_resubmission_goes_back_to_its_validator(self, api, walk, draft, victor, dana,
                                                       rhea):
        self.request_changes(walk, draft, victor)
        walk.submit(draft)
        assert Notification.objects.filter(user=victor, kind="assignment",
                                           title__contains="resubmitted").count() == 1
        body = api.as_(victor).get(f"/api/v1/versions/{draft.pk}/governance/").json()
        assert body["validator"] == "victor" and "start_validation" in body["actions"]
        assert "start_validation" not in api.as_(dana).get(
            f"/api/v1/versions/{draft.pk}/governance/").json()["actions"]
        refused = api.as_(dana).post(f"/api/v1/versions/{draft.pk}/start-validation/",
                                     format="json")
        assert refused.status_code == 403
        response = api.as_(victor).post(f"/api/v1/versions/{draft.pk}/start-validation/",
                                        format="json")
        assert response.status_code == 200 and response.json()["state"] == "in_validation"
        walk.evidence(draft)
        walk.review(draft)
        draft.refresh_from_db()
        assert draft.state == VersionState.PENDING_APPROVAL

    def test_the_page_offers_to_start_again(self, client, walk, draft, victor):
        self.request_changes(walk, draft, victor)
        walk.submit(draft)
        client.force_login(victor)
        base = f"/models/{draft.model.slug}/versions/{draft.number}/workflow/"
        assert "Start the validation again" in client.get(base).content.decode()
        assert client.post(base + "start_validation/").status_code == 302
        draft.refresh_from_db()
        assert draft.state == VersionState.IN_VALIDATION


def test_submit_is_not_offered_while_something_stops_the_submission(api, dana, tiered_model):
    version = registry.version_create(actor=dana, model=tiered_model)  # no artifact
    body = api.as_(dana).get(f"/api/v1/versions/{version.pk}/governance/").json()
    assert "submit" not in body["actions"]
    assert [b["kind"] for b in body["blockers"] if b["kind"] == "artifact"] == ["artifact"]


def test_the_sign_off_response_says_where_the_version_went(api, walk, draft, boris, rhea):
    walk.to_pending(draft)
    url = f"/api/v1/versions/{draft.pk}/sign-off/"
    body = {"decision": "approve", "comment": "Fine.", "password": PASSWORD}
    first = api.as_(boris).post(url, body, format="json").json()
    assert first["version_state"] == "pending_approval"
    last = api.as_(rhea).post(url, body, format="json").json()
    assert last["version_state"] == "approved"


def test_a_decided_version_keeps_the_tier_it_was_decided_at(api, walk, draft, dana, rhea,
                                                            boris):
    walk.to_pending(draft)
    walk.sign(draft, "boris")
    walk.sign(draft, "rhea")
    # the model is tiered again afterwards: the approved version stays a tier-2 decision
    services.intake_record(actor=dana, model=draft.model, is_model=True, answers=ALL_HIGH)
    body = api.as_(boris).get(f"/api/v1/versions/{draft.pk}/governance/").json()
    assert body["state"] == "approved" and body["tier"] == 2
    assert body["requirements"]["revalidation_months"] == 12
    assert VersionGovernance.objects.get(version=draft).tier == 2
    services.version_transition(version=draft, to=VersionState.SUSPENDED, actor=rhea,
                                reason="Drift.")
    assert AuditEvent.objects.get(action="version.suspend").payload["tier"] == 2


def test_the_review_narrative_is_in_the_audit_event(walk, draft):
    walk.submit(draft)
    walk.assign(draft)
    walk.evidence(draft)
    review = walk.review(draft)
    payload = AuditEvent.objects.get(action="version.conclude_validation").payload
    for field in ("conceptual_soundness", "data_quality", "outcomes_analysis",
                  "implementation_verification", "limitations"):
        assert payload[field] == getattr(review, field)
