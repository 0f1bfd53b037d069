"""Issue 11, items 1-3: the tier and policy that decide a version are fixed at its submission,
assignment to validate grants no editing, and independence covers who authored a version, the
model's team (by policy) and who waived its blocks.

Each test is written as the attack observed (or the careless path) and pins the refusal.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Sum
from django.utils import timezone

from core import permissions
from core.errors import Conflict, PermissionRefused
from core.models import AuditEvent
from core.models.audit import SecurityEventCounter
from governance import services
from governance.gates import case_for
from governance.models import ModelIntake, SignOff, VersionGovernance
from governance.policy import Definition
from governance.worklists import my_signoffs
from registry import services as registry
from registry.models import ModelVersion, RegisteredModel, VersionAuthor, VersionState
from tests.conftest import PASSWORD, approve_policy
from tests.governance.conftest import (
    ALL_HIGH,
    ALL_LOW,
    MEDIUM,
    counting_evidence,
    required_figures,
    review_fields,
)

pytestmark = pytest.mark.django_db
S = VersionState


def not_independent_refusals(username: str) -> int:
    """Refusals of the user recorded with the reason code ``not_independent``."""
    return SecurityEventCounter.objects.filter(
        action="governance.refused", principal=username, reason=permissions.NOT_INDEPENDENT
    ).aggregate(n=Sum("count"))["n"] or 0


def sign(user, version, decision: str = "approve"):
    return services.signoff_record(actor=user, version=version, decision=decision,
                                   comment=f"{user.username} {decision}s", password=PASSWORD)


def state_of(version) -> str:
    return ModelVersion.objects.get(pk=version.pk).state


@pytest.fixture
def rita(make_user):
    """A second risk officer: the four eyes of a tier change."""
    return make_user("rita", "risk_officer")


@pytest.fixture
def tier_one_pending(walk, draft, rhea):
    """The observed set-up: a tier-1 version (review board + risk officer must sign), pending
    approval."""
    services.intake_record(actor=rhea, model=draft.model, is_model=True, answers=ALL_HIGH)
    walk.to_pending(draft)
    assert case_for(draft).required_roles == {"review_board": 1, "risk_officer": 1}
    return draft


# --- 1. The tier and policy are fixed at submission -----------------------------------------------

class TestTierFixedAtSubmission:
    def test_a_risk_officer_cannot_lower_the_tier_and_approve_alone(self, tier_one_pending, rhea):
        """Observed: rhea signs (1 of 2), re-answers the intake to tier 3, completes the
        approval. Re-answering now cannot change the tier of a version in flight."""
        version = tier_one_pending
        sign(rhea, version)
        with pytest.raises(Conflict, match="tier override"):
            services.intake_record(actor=rhea, model=version.model, is_model=True,
                                   answers=ALL_LOW)
        assert ModelIntake.objects.get(model=version.model).tier == 1
        with pytest.raises(Conflict, match="review board"):
            services.version_complete_approval(actor=rhea, version=version)
        assert state_of(version) == S.PENDING_APPROVAL

    def test_the_quorum_reads_the_tier_bound_at_submission(self, tier_one_pending, rhea):
        """Even if the model's tier moves by some other path, the case keeps the bound tier."""
        version = tier_one_pending
        ModelIntake.objects.filter(model=version.model).update(computed_tier=3)
        case = case_for(version)
        assert case.tier == 1 and case.required_roles == {"review_board": 1, "risk_officer": 1}
        sign(rhea, version)
        assert state_of(version) == S.PENDING_APPROVAL

    def test_re_answering_without_changing_the_tier_is_still_allowed(self, walk, draft, rhea):
        walk.submit(draft)
        # MEDIUM with a different data-sensitivity answer still scores tier 2
        answers = {**MEDIUM, "data_sensitivity": "low"}
        intake = services.intake_record(actor=rhea, model=draft.model, is_model=True,
                                        answers=answers)
        assert intake.tier == 2 and case_for(draft).tier == 2

    def test_a_tier_change_in_flight_needs_a_second_risk_officer_and_restarts_the_signoffs(
            self, tier_one_pending, rhea, rita, boris):
        version = tier_one_pending
        sign(rhea, version)
        services.tier_override_request(actor=rhea, model=version.model, tier=3,
                                       justification="Only used for marketing mail-outs.")
        with pytest.raises(PermissionRefused, match="another risk officer"):
            services.tier_override_decide(actor=rhea, model=version.model, approve=True)
        assert case_for(version).tier == 1
        services.tier_override_decide(actor=rita, model=version.model, approve=True,
                                      comment="Agreed.")
        gov = VersionGovernance.objects.get(version=version)
        assert gov.tier == 3
        # rhea's tier-1 signature no longer counts: the version is not approved by it
        assert state_of(version) == S.PENDING_APPROVAL
        assert SignOff.objects.get(version=version, signer=rhea).invalidated_at is not None
        case = case_for(version)
        assert case.tier == 3 and case.signer_ids == frozenset()
        event = AuditEvent.objects.get(action="version.tier_change")
        assert event.actor_username == "rita"
        assert event.payload["tier"] == {"before": 1, "after": 3}
        assert event.payload["requested_by"] == "rhea"
        assert [s["signer"] for s in event.payload["invalidated_signoffs"]] == ["rhea"]
        # she signs again, at tier 3, and that approves
        sign(rhea, version)
        assert state_of(version) == S.APPROVED
        assert AuditEvent.objects.get(action="version.approve").payload["tier"] == 3

    def test_a_resubmission_keeps_the_tier_of_the_first_submission(self, walk, draft, rhea):
        walk.submit(draft)
        walk.assign(draft)
        services.version_transition(version=draft, to=S.CHANGES_REQUESTED,
                                    actor=walk.p["victor"], reason="More data.")
        with pytest.raises(Conflict, match="tier override"):
            services.intake_record(actor=rhea, model=draft.model, is_model=True,
                                   answers=ALL_LOW)
        walk.submit(draft)
        assert VersionGovernance.objects.get(version=draft).tier == 2


# --- 2. Assignment does not grant editing ---------------------------------------------------------

class TestAssignmentGrantsNoEditing:
    @pytest.fixture
    def vera(self, make_user):
        """A validator who also holds the data-scientist role, in the validation team."""
        return make_user("vera", "validator", "data_scientist", team="validation")

    def test_an_assigned_validator_who_is_also_a_data_scientist_cannot_edit(
            self, walk, draft, rhea, vera, onnx_file):
        walk.submit(draft)
        services.validator_assign(actor=rhea, version=draft, validator=vera)
        model = RegisteredModel.objects.get(pk=draft.model_id)
        assert permissions.can_view(vera, model) and not permissions.can_edit_model(vera, model)
        with pytest.raises(PermissionRefused):
            registry.model_update(actor=vera, model=model, name="Mine now")
        with pytest.raises(PermissionRefused):
            registry.model_update(actor=vera, model=model, developers=[vera])
        with pytest.raises(PermissionRefused):
            registry.version_create(actor=vera, model=model, artifact=onnx_file())
        model.refresh_from_db()
        assert model.name != "Mine now"
        assert vera.pk not in model.developer_ids and model.versions.count() == 1

    def test_the_assigned_validator_still_reads_and_validates(self, walk, draft, rhea, vera):
        walk.submit(draft)
        services.validator_assign(actor=rhea, version=draft, validator=vera)
        for check, figures in required_figures(draft).items():
            counting_evidence(draft, check, figures=figures, launched_by=vera)
        services.review_conclude(actor=vera, version=draft, **review_fields(draft))
        assert state_of(draft) == S.PENDING_APPROVAL


# --- 3. Independence covers authorship, the model's team and waivers -------------------------------

class TestIndependenceCoversAuthorship:
    @pytest.fixture
    def dora(self, make_user):
        """A data scientist of the credit team (not the model's owner or developer) who is also
        a risk officer."""
        return make_user("dora", "data_scientist", "risk_officer", team="credit")

    @pytest.fixture
    def tier_three(self, policy, credit_model, rhea):
        """Tier 3: one risk officer signs, and the model's team is not excluded by default."""
        services.intake_record(actor=rhea, model=credit_model, is_model=True, answers=ALL_LOW)
        return credit_model

    def test_who_built_the_version_and_uploaded_its_artifact_cannot_sign_it(
            self, walk, tier_three, dora, onnx_file):
        """Observed: a team data scientist built a version, uploaded its artifact, then signed it
        off as risk officer and it was approved."""
        version = registry.version_create(actor=dora, model=tier_three)
        registry.artifact_upload(actor=dora, version=version, artifact=onnx_file())
        assert set(VersionAuthor.objects.filter(version=version).values_list(
            "user__username", "kind")) == {("dora", "created"), ("dora", "artifact")}
        walk.to_pending(version)
        before = not_independent_refusals("dora")
        with pytest.raises(PermissionRefused, match="authored"):
            sign(dora, version)
        assert not_independent_refusals("dora") == before + 1
        assert state_of(version) == S.PENDING_APPROVAL

    def test_who_edited_the_documentation_cannot_validate_it(self, walk, tier_three, dana,
                                                             make_user, onnx_file):
        vic = make_user("vic", "validator", "data_scientist", team="credit")
        version = registry.version_create(actor=dana, model=tier_three, artifact=onnx_file())
        registry.version_update(actor=vic, version=version, changelog="Retrained on 2024.")
        walk.submit(version)
        with pytest.raises(PermissionRefused, match="authored"):
            services.validator_assign(actor=walk.p["rhea"], version=version, validator=vic)
        assert not_independent_refusals("rhea") >= 1

    def test_who_recorded_counting_evidence_cannot_sign(self, walk, strict_policy, credit_model,
                                                        rhea, rita, onnx_file):
        services.intake_record(actor=rhea, model=credit_model, is_model=True, answers=ALL_LOW)
        version = registry.version_create(actor=walk.p["dana"], model=credit_model,
                                          artifact=onnx_file())
        walk.submit(version)
        walk.assign(version)
        for check, figures in required_figures(version).items():
            counting_evidence(version, check, figures=figures, launched_by=rita)
        walk.review(version)
        with pytest.raises(PermissionRefused, match="authored"):
            sign(rita, version)
        sign(rhea, version)
        assert state_of(version) == S.APPROVED

    def test_the_validators_own_evidence_does_not_make_them_an_author(
            self, walk, strict_policy, credit_model, rhea, victor, onnx_file):
        services.intake_record(actor=rhea, model=credit_model, is_model=True, answers=ALL_LOW)
        version = registry.version_create(actor=walk.p["dana"], model=credit_model,
                                          artifact=onnx_file())
        walk.submit(version)
        walk.assign(version)
        for check, figures in required_figures(version).items():
            counting_evidence(version, check, figures=figures, launched_by=victor)
        walk.review(version)
        assert state_of(version) == S.PENDING_APPROVAL
        assert not VersionAuthor.objects.filter(version=version, user=victor).exists()

    def test_a_team_mate_cannot_validate_a_tier_one_or_two_version(self, walk, draft, make_user):
        """Observed: a validator validated a team-mate's version."""
        vic = make_user("vic", "validator", team="credit")
        walk.submit(draft)  # tier 2
        with pytest.raises(PermissionRefused, match="model's team"):
            services.validator_assign(actor=vic, version=draft, validator=vic,
                                      independence_attested=True)
        assert not_independent_refusals("vic") == 1

    def test_a_team_mate_may_validate_a_tier_three_version_by_default(
            self, walk, tier_three, dana, make_user, onnx_file):
        vic = make_user("vic", "validator", team="credit")
        version = registry.version_create(actor=dana, model=tier_three, artifact=onnx_file())
        walk.submit(version)
        services.validator_assign(actor=vic, version=version, validator=vic,
                                  independence_attested=True)
        assert state_of(version) == S.IN_VALIDATION

    def test_the_policy_can_exclude_the_team_at_tier_three_too(
            self, walk, policy, adam, credit_model, dana, rhea, make_user, onnx_file):
        definition = policy.definition
        definition["tiers"]["3"]["exclude_model_team"] = True
        pv = services.policy_version_create(actor=adam, policy_slug="sr-11-7",
                                            definition=definition)
        approve_policy(pv)
        services.intake_record(actor=rhea, model=credit_model, is_model=True, answers=ALL_LOW)
        vic = make_user("vic", "validator", team="credit")
        version = registry.version_create(actor=dana, model=credit_model, artifact=onnx_file())
        walk.submit(version)
        with pytest.raises(PermissionRefused, match="model's team"):
            services.validator_assign(actor=vic, version=version, validator=vic,
                                      independence_attested=True)

    def test_who_granted_a_waiver_on_the_version_cannot_sign_it(
            self, walk, strict_policy, credit_model, rhea, rita, boris, onnx_file):
        services.intake_record(actor=rhea, model=credit_model, is_model=True, answers=MEDIUM)
        version = registry.version_create(actor=walk.p["dana"], model=credit_model,
                                          artifact=onnx_file())
        walk.submit(version)
        walk.assign(version)
        counting_evidence(version, "performance", figures={"auc": 0.8},
                          launched_by=walk.p["victor"])
        counting_evidence(version, "fairness", status="failed", launched_by=walk.p["victor"])
        services.waiver_grant(actor=rhea, version=version, check="fairness", reason="r",
                              compensating_controls="c", limits_of_use="l",
                              expires_at=timezone.now() + dt.timedelta(days=30))
        walk.review(version)
        sign(boris, version)
        assert version not in my_signoffs(rhea) and version in my_signoffs(rita)
        before = not_independent_refusals("rhea")
        with pytest.raises(PermissionRefused, match="waiver"):
            sign(rhea, version)
        assert not_independent_refusals("rhea") == before + 1
        sign(rita, version)
        assert state_of(version) == S.APPROVED


def test_a_policy_version_stored_without_the_team_setting_excludes_the_team_at_tiers_1_and_2(
        policy):
    """Policy versions stored before the setting existed say nothing: the safe default."""
    definition = policy.definition
    for tier in definition["tiers"].values():
        tier.pop("exclude_model_team", None)
    rules = Definition(definition)
    assert [rules.tier_rules(t).exclude_model_team for t in (1, 2, 3)] == [True, True, False]


def test_editing_the_models_documentation_authors_its_undecided_versions_only(
        walk, draft, dana, make_user, onnx_file):
    dora = make_user("dora", "data_scientist", team="credit")
    walk.to_pending(draft)
    walk.sign(draft, "boris")
    walk.sign(draft, "rhea")  # approved: decided
    second = registry.version_create(actor=dana, model=draft.model, artifact=onnx_file())
    registry.model_update(actor=dora, model=draft.model, known_limitations="Small sample.")
    assert dora.pk in ModelVersion.objects.get(pk=second.pk).author_ids
    assert dora.pk not in ModelVersion.objects.get(pk=draft.pk).author_ids


def test_a_tier_raised_in_flight_to_one_without_conditional_approval_blocks_a_conditional_review(
        walk, draft, rhea, rita):
    walk.submit(draft)
    walk.assign(draft)
    walk.evidence(draft)
    walk.review(draft, conclusion="approve_with_conditions")  # tier 2 allows conditions
    services.tier_override_request(actor=rhea, model=draft.model, tier=1,
                                   justification="Decides every retail loan.")
    services.tier_override_decide(actor=rita, model=draft.model, approve=True)
    walk.sign(draft, "boris")
    sign(rita, draft)
    assert state_of(draft) == S.PENDING_APPROVAL
    with pytest.raises(Conflict, match="conditions"):
        services.version_complete_approval(actor=rita, version=draft)
