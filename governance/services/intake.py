"""The intake ("is it a model?"), the tiering questionnaire and tier overrides."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import Role, User
from governance.gates import former_people_of
from governance.models import (
    IN_FLIGHT,
    ModelIntake,
    OverrideStatus,
    PolicyVersion,
    TierOverride,
    Tool,
    VersionGovernance,
)
from governance.services.common import limit_text, require_text
from governance.services.policies import current_policy
from registry.models import EntryKind, RegisteredModel


def _requirements(policy: PolicyVersion | None, tier: int | None) -> dict[str, Any] | None:
    if policy is None or tier is None:
        return None
    return policy.tier_rules(tier).as_dict()


def _answer_field(key: str) -> str:
    """The input field an answer error belongs to, as the client sent it: ``answers.<question>``
    (or ``answers`` itself when it is not an object)."""
    return key if key == "answers" else f"answers.{key}"


def _intake_guard(actor: User, model: RegisteredModel, attempted: str) -> None:
    if not permissions.can_edit_intake(actor, model):
        auditor = permissions.is_auditor_only(actor)
        refuse(actor, "Auditors have read-only access." if auditor else
               "Only the model's team, its owner and developers, and risk officers can change "
               "its intake and tier.", attempted=attempted, target=model,
               code=permissions.READ_ONLY if auditor else permissions.NOT_MODEL_TEAM)
    busy = model.versions.filter(state__in=IN_FLIGHT).exists()
    if busy and not actor.has_role(Role.RISK_OFFICER):
        refuse(actor, "A version of this model is going through validation; only a risk officer "
                      "can change its intake or tier now.", attempted=attempted, target=model,
               code=permissions.IN_FLIGHT)


def intake_record(*, actor: User, model: RegisteredModel, is_model: Any, rationale: str = "",
                  answers: Any = None) -> ModelIntake:
    """Record whether this is a model and, for models, score the tiering questionnaire under the
    current policy.

    New answers change the computed tier, not an approved override: a risk officer approved that
    tier for this model, and it stays in force (the event and the intake show the new computed
    tier beside it) until a risk officer decides a new request. Otherwise whoever may answer the
    questionnaire could undo a risk officer's decision by re-answering it. A pending request
    stays pending; the risk officer deciding it sees the new computed tier.

    While a version of the model is in flight, new answers may not change the tier in force:
    that version was submitted at that tier, and its tier changes only through a tier override,
    which a second risk officer decides (four eyes) and which restarts its sign-offs.
    """
    _intake_guard(actor, model, "intake.record")
    if not isinstance(is_model, bool):
        raise ValidationFailed("Say whether this is a model: true or false.", field="is_model")
    answers = answers or {}
    limit_text({"rationale": rationale})
    policy = scoring = None
    if not is_model:
        require_text({"rationale": rationale}, {"rationale": "Say why this is not a model (a "
                                                              "rule, report or spreadsheet)."})
        if answers:
            raise ValidationFailed("Non-models skip the tiering questionnaire; leave the answers "
                                   "empty.", field="answers")
    else:
        policy = current_policy(model)
        errors = policy.rules.answer_errors(answers)
        if errors:
            raise ValidationFailed("The questionnaire is incomplete or has invalid answers: "
                                   + " ".join(errors.values()),
                                   fields={_answer_field(k): [v] for k, v in errors.items()})
        scoring = policy.rules.score(answers)
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        intake = ModelIntake.objects.filter(model=model).first()
        tier_before = intake.tier if intake else None
        override = intake.override_tier if intake else None
        tier_after = (override or scoring.tier) if scoring else None
        if tier_after is not None and intake is not None and intake.use_case_tier is not None:
            tier_after = min(tier_after, intake.use_case_tier)  # a more critical use governs
        if is_model and Tool.objects.filter(model=model, retired_at__isnull=True).exists():
            raise Conflict(f"{model.name} is in the register of tools that are not models; "
                           "retire it there (its periodic review, \"no longer in use\") before "
                           "recording it as a model.")
        if tier_after != tier_before:
            _refuse_tier_change_in_flight(model, tier_before, tier_after)
        if intake is None:
            intake = ModelIntake(model=model, is_model=is_model, completed_by=actor)
        intake.is_model = is_model
        intake.rationale = rationale
        intake.answers = answers
        intake.scoring = scoring.as_dict() if scoring else {}
        intake.computed_tier = scoring.tier if scoring else None
        intake.policy_version = policy
        intake.completed_by = actor
        intake.completed_at = timezone.now()
        intake.save()
        kind = EntryKind.MODEL if is_model else EntryKind.TOOL
        if model.kind != kind:
            RegisteredModel.objects.filter(pk=model.pk).update(kind=kind)
            model.kind = kind
        audit.record(action="intake.record", actor=actor, obj=intake, payload={
            "is_model": is_model, "rationale": rationale, "answers": answers,
            "score": scoring.total if scoring else None,
            "policy_version": str(policy) if policy else None,
            "computed_tier": intake.computed_tier,
            "tier": {"before": tier_before, "after": intake.tier},
            "override_in_force": intake.override_tier,
            "requirements": _requirements(policy, intake.tier),
        })
    return intake


def _refuse_tier_change_in_flight(model: RegisteredModel, before: int | None,
                                  after: int | None) -> None:
    """New answers that would change the tier of a version in flight: ask for an override."""
    busy = (VersionGovernance.objects.filter(version__model=model, version__state__in=IN_FLIGHT)
            .select_related("version").order_by("version__number").first())
    if busy is None:
        return
    version = busy.version
    wanted = f"tier {after}" if after is not None else "no tier (not a model)"
    raise Conflict(
        f"Version {version.number} is {version.get_state_display().lower()} at tier "
        f"{busy.tier}, the tier it was submitted at; these answers would make it {wanted}. "
        "While a version is in flight its tier changes only through a tier override, which "
        "another risk officer approves and which restarts its sign-offs: ask for a tier override "
        "instead. The answers were not recorded.")


def _rebind_versions_in_flight(*, actor: User, intake: ModelIntake, row: TierOverride) -> None:
    """An approved override changed the tier in force: the model's versions in flight take it,
    and the sign-offs they were given at the old tier stop counting (each signer may sign again).
    One event per version, attributed to the deciding risk officer."""
    now = timezone.now()
    for gov in (VersionGovernance.objects.select_for_update()
                .filter(version__model_id=intake.model_id, version__state__in=IN_FLIGHT)
                .exclude(tier=intake.tier).select_related("version", "policy_version")):
        standing = gov.version.signoffs.standing().select_related("signer")
        invalidated = [{"signer": s.signer.username, "role": s.role, "decision": s.decision,
                        "tier": s.tier, "signed_at": s.signed_at} for s in standing]
        standing.update(invalidated_at=now)
        before, gov.tier = gov.tier, intake.tier
        gov.save(update_fields=["tier"])
        audit.record(action="version.tier_change", actor=actor, obj=gov.version, payload={
            "number": gov.version.number, "state": gov.version.state,
            "tier": {"before": before, "after": gov.tier}, "override_id": row.pk,
            "requested_by": row.requested_by.username, "decided_by": actor.username,
            "justification": row.justification, "policy_version": str(gov.policy_version),
            "requirements": _requirements(gov.policy_version, gov.tier),
            "invalidated_signoffs": invalidated})


def _intake_for_override(model: RegisteredModel) -> ModelIntake:
    intake = ModelIntake.objects.filter(model=model).first()
    if intake is None or not intake.is_model or intake.computed_tier is None:
        raise Conflict("Complete the intake questionnaire before asking for a tier override.")
    return intake


def tier_override_request(*, actor: User, model: RegisteredModel, tier: Any,
                          justification: str) -> TierOverride:
    """Ask for a tier other than the computed one (or, while an override is in force, for the
    computed one again). It applies once a risk officer approves; until then the tier in force,
    including an approved override, does not change."""
    _intake_guard(actor, model, "intake.override_request")
    if tier not in (1, 2, 3) or isinstance(tier, bool):
        raise ValidationFailed("The tier is 1 (highest risk), 2 or 3.", field="tier")
    require_text({"justification": justification},
                 {"justification": "Justify the override: why the questionnaire's tier is "
                                   "wrong for this model."})
    intake = _intake_for_override(model)
    if tier == intake.tier:
        raise ValidationFailed(f"Tier {tier} is the tier in force already; no override is "
                               "needed.", field="tier")
    with transaction.atomic():
        intake = ModelIntake.objects.select_for_update().get(pk=intake.pk)
        pending = intake.pending_override
        if pending is not None:
            raise Conflict(f"{pending.requested_by.username}'s request for tier {pending.tier} "
                           "is awaiting a risk officer; ask again once it is decided.")
        # An override is asked of a completed intake, which has its computed tier.
        row = TierOverride.objects.create(intake=intake, tier=tier,  # type: ignore[misc]
                                          computed_tier=intake.computed_tier,
                                          justification=justification, requested_by=actor)
        audit.record(action="intake.override_request", actor=actor, obj=row, payload={
            "computed_tier": intake.computed_tier, "requested_tier": tier,
            "justification": justification,
            # Asking changes nothing yet: the tier in force stays until a risk officer decides.
            "tier": {"before": intake.tier, "after": intake.tier}})
    return row


def tier_override_decide(*, actor: User, model: RegisteredModel, approve: Any,
                         comment: str = "") -> TierOverride:
    """A risk officer's sign-off on the pending tier override request: approving puts it in
    force (replacing any earlier override, or going back to the computed tier); rejecting leaves
    the tier in force as it was. Approving also moves the model's versions in flight to the new
    tier and restarts their sign-offs (``version.tier_change``): this is the only way the tier
    of a submitted, undecided version changes, and it takes two risk officers."""
    intake = _intake_for_override(model)
    pending = intake.pending_override
    reason = permissions.reason_cannot_decide_tier_override(
        actor, model, pending.requested_by_id if pending else None, former_people_of(model))
    if reason:
        refuse(actor, reason, attempted="intake.override_decide", target=model)
    if not isinstance(approve, bool):
        raise ValidationFailed("Say whether you approve the override: true or false.",
                               field="approve")
    if not approve:
        require_text({"comment": comment}, {"comment": "Say why the override is rejected."})
    limit_text({"comment": comment})
    with transaction.atomic():
        intake = ModelIntake.objects.select_for_update().get(pk=intake.pk)
        row = intake.pending_override
        if row is None or (pending is not None and row.pk != pending.pk):
            raise Conflict("No tier override is awaiting a decision.")
        before = intake.tier
        row.status = OverrideStatus.APPROVED if approve else OverrideStatus.REJECTED
        row.decided_by = actor
        row.decided_at = timezone.now()
        row.comment = comment
        row.save()
        replaced = intake.override_id
        if approve:
            back_to_computed = row.tier == intake.computed_tier
            intake.override = None if back_to_computed else row
            intake.override_tier = None if back_to_computed else row.tier
            intake.save(update_fields=["override", "override_tier"])
        if approve:
            _rebind_versions_in_flight(actor=actor, intake=intake, row=row)
        audit.record(action="intake.override_" + ("approve" if approve else "reject"),
                     actor=actor, obj=row, payload={
                         "tier": {"before": before, "after": intake.tier},
                         "computed_tier": intake.computed_tier, "requested_tier": row.tier,
                         "comment": comment, "justification": row.justification,
                         "replaced_override_id": replaced if approve else None,
                         "requirements": _requirements(
                             PolicyVersion.objects.current_for(model), intake.tier)})
    return row
