"""Writes of governance: policies, intake and tier, the version lifecycle, reviews, sign-offs and
evidence.

The lifecycle is the ``TRANSITIONS`` table below and one function, ``version_transition``. Every
other lifecycle service (assigning a validator, concluding a review, signing) records what it adds
and then moves the version through ``version_transition``, so each state change is checked the same
way and audited exactly once.

Permission refusals are recorded with ``core.audit.record_security`` before any transaction of the
service opens, so they stay in the trail although the request fails (``Refused``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core import audit, permissions
from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import Role, User
from governance.gates import (
    GATE_KINDS,
    SUBMISSION_KINDS,
    Case,
    blocking_items,
    case_for,
    signoff_counts,
)
from governance.models import (
    Conclusion,
    Decision,
    Evidence,
    EvidenceStatus,
    Finding,
    ModelIntake,
    NotificationKind,
    OverrideStatus,
    Policy,
    PolicyVersion,
    SignOff,
    ValidationReview,
    VersionGovernance,
)
from governance.notify import notify
from governance.policy import DEFAULT_TEMPLATE, TEMPLATES, add_months, definition_errors
from registry.models import ModelVersion, RegisteredModel, VersionState

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
S = VersionState
IN_FLIGHT = (S.SUBMITTED, S.IN_VALIDATION, S.CHANGES_REQUESTED, S.PENDING_APPROVAL)


class Refused(PermissionRefused):
    """A permission refusal already written to the audit trail (pages do not record it again)."""

    recorded = True


def _refuse(actor: User | None, reason: str, *, attempted: str, target: Any = None) -> NoReturn:
    audit.record_security(
        action="governance.refused", reason="permission_denied", actor=actor,
        principal=getattr(actor, "username", "") or "system",
        payload={"attempted": attempted, "message": reason,
                 "object": str(target) if target is not None else "",
                 "model_id": getattr(target, "audit_model_id", None)})
    raise Refused(reason)


def _require_text(values: dict[str, str], hints: dict[str, str]) -> None:
    missing = {f: [hints[f]] for f in hints if not (values.get(f) or "").strip()}
    if missing:
        raise ValidationFailed(" ".join(m[0] for m in missing.values()), fields=missing)


# ---------------------------------------------------------------------------------------------
# Policies

def ensure_policy_templates() -> list[PolicyVersion]:
    """Create the shipped policy templates if they are missing, and make SR 11-7 current when
    no policy is. Idempotent: the demo loader and migrations may call it any number of times."""
    created = []
    with transaction.atomic():
        for slug, (name, description, definition) in TEMPLATES.items():
            policy, made = Policy.objects.get_or_create(
                slug=slug, defaults={"name": name, "description": description})
            if made or not policy.versions.exists():
                pv = PolicyVersion.objects.create(policy=policy, number=1, definition=definition,
                                                  notes="Template shipped with Assay.",
                                                  validated_at=timezone.now())
                audit.record(action="policy.version_create", obj=pv, payload={
                    "policy": slug, "number": 1, "definition": definition})
                created.append(pv)
        if PolicyVersion.objects.current() is None:
            pv = PolicyVersion.objects.filter(policy__slug=DEFAULT_TEMPLATE).order_by(
                "-number").first()
            _make_current(pv, actor=None)
    return created


def policy_version_create(*, actor: User, policy_slug: str, definition: Any, notes: str = "",
                          name: str = "") -> PolicyVersion:
    """Store a new, validated version of a policy (a new policy when the slug is new: it then
    needs a name). Versions never change afterwards; edit by creating another."""
    if not permissions.can_manage_policies(actor):
        _refuse(actor, "Only administrators edit governance policies.",
                attempted="policy.version_create")
    errors = definition_errors(definition)
    if errors:
        raise ValidationFailed("The policy definition is invalid: " + " ".join(errors),
                               fields={"definition": errors})
    policy = Policy.objects.filter(slug=policy_slug).first()
    if policy is None and not name.strip():
        raise ValidationFailed(f"There is no policy {policy_slug!r}; give a name to create it.",
                               field="name")
    if policy is None and not re.match(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", policy_slug or ""):
        raise ValidationFailed("Policy slugs use lowercase letters, digits and hyphens.",
                               field="policy")
    try:
        with transaction.atomic():
            if policy is None:
                policy = Policy.objects.create(slug=policy_slug, name=name.strip())
            policy = Policy.objects.select_for_update().get(pk=policy.pk)
            number = (policy.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            pv = PolicyVersion.objects.create(policy=policy, number=number, definition=definition,
                                              notes=notes, created_by=actor,
                                              validated_at=timezone.now())
            audit.record(action="policy.version_create", actor=actor, obj=pv, payload={
                "policy": policy.slug, "number": number, "notes": notes,
                "definition": definition})
    except IntegrityError as exc:
        raise Conflict(f"A policy named {name!r} already exists; choose another name.",
                       field="name") from exc
    return pv


def _make_current(pv: PolicyVersion, *, actor: User | None) -> None:
    previous = PolicyVersion.objects.select_for_update().filter(is_current=True).first()
    if previous is not None:
        previous.is_current = False
        previous.save(update_fields=["is_current"])
    pv.is_current = True
    pv.made_current_at = timezone.now()
    pv.save(update_fields=["is_current", "made_current_at"])
    audit.record(action="policy.make_current", actor=actor, obj=pv, payload={
        "policy": pv.policy.slug, "number": pv.number,
        "previous": str(previous) if previous else None})


def policy_version_make_current(*, actor: User, policy_version: PolicyVersion) -> PolicyVersion:
    """Make this version the one bound to submissions from now on (after validating it again)."""
    if not permissions.can_manage_policies(actor):
        _refuse(actor, "Only administrators choose the current governance policy.",
                attempted="policy.make_current", target=policy_version)
    errors = definition_errors(policy_version.definition)
    if errors:
        raise Conflict("This policy version does not validate and cannot be made current: "
                       + " ".join(errors))
    with transaction.atomic():
        pv = PolicyVersion.objects.select_for_update().get(pk=policy_version.pk)
        if pv.is_current:
            raise Conflict(f"{pv} is already the current policy.")
        pv.validated_at = timezone.now()
        pv.save(update_fields=["validated_at"])
        _make_current(pv, actor=actor)
    return pv


def current_policy() -> PolicyVersion:
    pv = PolicyVersion.objects.current()
    if pv is None:
        raise Conflict("No governance policy is current; an administrator must make one current.")
    return pv


# ---------------------------------------------------------------------------------------------
# Intake and tier

def _requirements(policy: PolicyVersion | None, tier: int | None) -> dict[str, Any] | None:
    if policy is None or tier is None:
        return None
    return policy.tier_rules(tier).as_dict()


def _intake_guard(actor: User, model: RegisteredModel, attempted: str) -> None:
    if not permissions.can_edit_intake(actor, model):
        _refuse(actor, "Only the model's team, its owner and developers, and risk officers can "
                       "change its intake and tier." if not permissions.is_auditor_only(actor)
                else "Auditors have read-only access.", attempted=attempted, target=model)
    busy = model.versions.filter(state__in=IN_FLIGHT).exists()
    if busy and not actor.has_role(Role.RISK_OFFICER):
        _refuse(actor, "A version of this model is going through validation; only a risk officer "
                       "can change its intake or tier now.", attempted=attempted, target=model)


def intake_record(*, actor: User, model: RegisteredModel, is_model: Any, rationale: str = "",
                  answers: Any = None) -> ModelIntake:
    """Record whether this is a model and, for models, score the tiering questionnaire under the
    current policy. New answers replace any tier override (it justified the old answers)."""
    _intake_guard(actor, model, "intake.record")
    if not isinstance(is_model, bool):
        raise ValidationFailed("Say whether this is a model: true or false.", field="is_model")
    answers = answers or {}
    policy = scoring = None
    if not is_model:
        _require_text({"rationale": rationale}, {"rationale": "Say why this is not a model (a "
                                                              "rule, report or spreadsheet)."})
        if answers:
            raise ValidationFailed("Non-models skip the tiering questionnaire; leave the answers "
                                   "empty.", field="answers")
    else:
        policy = current_policy()
        errors = policy.rules.answer_errors(answers)
        if errors:
            raise ValidationFailed("The questionnaire is incomplete or has invalid answers: "
                                   + " ".join(errors.values()),
                                   fields={k: [v] for k, v in errors.items()})
        scoring = policy.rules.score(answers)
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        intake = ModelIntake.objects.filter(model=model).first()
        tier_before = intake.tier if intake else None
        if intake is None:
            intake = ModelIntake(model=model, is_model=is_model, completed_by=actor)
        had_override = intake.override_status != OverrideStatus.NONE
        intake.is_model = is_model
        intake.rationale = rationale
        intake.answers = answers
        intake.scoring = scoring.as_dict() if scoring else {}
        intake.computed_tier = scoring.tier if scoring else None
        intake.policy_version = policy
        intake.override_tier = None
        intake.override_justification = intake.override_comment = ""
        intake.override_status = OverrideStatus.NONE
        intake.override_requested_by = intake.override_decided_by = None
        intake.override_decided_at = None
        intake.completed_by = actor
        intake.completed_at = timezone.now()
        intake.save()
        audit.record(action="intake.record", actor=actor, obj=intake, payload={
            "is_model": is_model, "rationale": rationale, "answers": answers,
            "score": scoring.total if scoring else None,
            "policy_version": str(policy) if policy else None,
            "tier": {"before": tier_before, "after": intake.tier},
            "override_cleared": had_override,
            "requirements": _requirements(policy, intake.tier),
        })
    return intake


def _intake_for_override(model: RegisteredModel) -> ModelIntake:
    intake = ModelIntake.objects.filter(model=model).first()
    if intake is None or not intake.is_model or intake.computed_tier is None:
        raise Conflict("Complete the intake questionnaire before asking for a tier override.")
    return intake


def tier_override_request(*, actor: User, model: RegisteredModel, tier: Any,
                          justification: str) -> ModelIntake:
    """Ask for a tier other than the computed one; it applies once a risk officer approves."""
    _intake_guard(actor, model, "intake.override_request")
    if tier not in (1, 2, 3) or isinstance(tier, bool):
        raise ValidationFailed("The tier is 1 (highest risk), 2 or 3.", field="tier")
    _require_text({"justification": justification},
                  {"justification": "Justify the override: why the questionnaire's tier is "
                                    "wrong for this model."})
    intake = _intake_for_override(model)
    if tier == intake.computed_tier:
        raise ValidationFailed(f"Tier {tier} is what the questionnaire computed; no override is "
                               "needed.", field="tier")
    with transaction.atomic():
        intake = ModelIntake.objects.select_for_update().get(pk=intake.pk)
        intake.override_tier = tier
        intake.override_justification = justification
        intake.override_status = OverrideStatus.PENDING
        intake.override_requested_by = actor
        intake.override_decided_by = None
        intake.override_decided_at = None
        intake.override_comment = ""
        intake.save()
        audit.record(action="intake.override_request", actor=actor, obj=intake, payload={
            "computed_tier": intake.computed_tier, "requested_tier": tier,
            "justification": justification})
    return intake


def tier_override_decide(*, actor: User, model: RegisteredModel, approve: Any,
                         comment: str = "") -> ModelIntake:
    """A risk officer's sign-off on a requested tier override; approving changes the tier."""
    intake = _intake_for_override(model)
    reason = permissions.reason_cannot_decide_tier_override(actor, model,
                                                            intake.override_requested_by_id)
    if reason:
        _refuse(actor, reason, attempted="intake.override_decide", target=model)
    if not isinstance(approve, bool):
        raise ValidationFailed("Say whether you approve the override: true or false.",
                               field="approve")
    if not approve:
        _require_text({"comment": comment}, {"comment": "Say why the override is rejected."})
    with transaction.atomic():
        intake = ModelIntake.objects.select_for_update().get(pk=intake.pk)
        if intake.override_status != OverrideStatus.PENDING:
            raise Conflict("No tier override is awaiting a decision.")
        before = intake.tier
        intake.override_status = OverrideStatus.APPROVED if approve else OverrideStatus.REJECTED
        intake.override_decided_by = actor
        intake.override_decided_at = timezone.now()
        intake.override_comment = comment
        intake.save()
        audit.record(action="intake.override_" + ("approve" if approve else "reject"),
                     actor=actor, obj=intake, payload={
                         "tier": {"before": before, "after": intake.tier},
                         "requested_tier": intake.override_tier, "comment": comment,
                         "justification": intake.override_justification,
                         "requirements": _requirements(PolicyVersion.objects.current(),
                                                       intake.tier)})
    return intake


# ---------------------------------------------------------------------------------------------
# The lifecycle: one table, one function.

@dataclass(frozen=True)
class Rule:
    """One edge of the lifecycle: who may take it, what must hold, what it does on the way."""

    name: str
    may: Callable[[User | None, Case], str]          # refusal reason, "" when allowed
    check: Callable[[ModelVersion, Case], list[str]] = lambda v, c: []
    needs_reason: bool = False
    effect: Callable[[ModelVersion, User | None, Case], dict[str, Any]] | None = None


def _may_submit(actor: User | None, case: Case) -> str:
    if actor is not None and permissions.can_submit_version(actor, case):
        return ""
    return "Only the model's team, its owner and developers can submit its versions."


def _submission_problems(version: ModelVersion, case: Case) -> list[str]:
    return [b.message for b in blocking_items(version, case) if b.kind in SUBMISSION_KINDS]


def _bind_policy(version: ModelVersion, actor: User | None, case: Case) -> dict[str, Any]:
    """Open the case at the first submission and bind the policy current at that moment."""
    gov, created = VersionGovernance.objects.get_or_create(version=version, defaults={
        "policy_version": case.policy_version, "submitted_by": actor,
        "submitted_artifact_sha256": version.artifact_sha256})
    return {"policy_bound": created, "artifact_sha256": gov.submitted_artifact_sha256}


def _may_start_validation(actor: User | None, case: Case) -> str:
    if actor is not None and (actor.has_role(Role.RISK_OFFICER) or (
            actor.pk == case.validator_id and actor.has_role(Role.VALIDATOR))):
        return ""
    return "Only the assigned validator or a risk officer can start the validation."


def _has_validator(version: ModelVersion, case: Case) -> list[str]:
    return [] if case.validator_id else ["Assign a validator first."]


def _may_review(actor: User | None, case: Case) -> str:
    return "Only the assigned validator can do this." if actor is None else \
        permissions.reason_cannot_review(actor, case)


def _review(version: ModelVersion) -> ValidationReview | None:
    return ValidationReview.objects.filter(version=version).first()


def _review_approves_and_gate_clear(version: ModelVersion, case: Case) -> list[str]:
    review = _review(version)
    if review is None or not review.approves:
        return ["The validation review must conclude with an approval first."]
    return [b.message for b in blocking_items(version, case) if b.kind in GATE_KINDS]


def _review_rejects(version: ModelVersion, case: Case) -> list[str]:
    review = _review(version)
    return [] if review is not None and review.conclusion == Conclusion.REJECT else [
        "Only a review concluding 'reject' rejects a version in validation."]


def _may_complete_approval(actor: User | None, case: Case) -> str:
    # Assay itself (actor None) completes an approval when the last block clears.
    if actor is None or actor.pk in case.signer_ids:
        return ""
    return "Approval follows the sign-offs: sign the version off instead."


def _nothing_blocks(version: ModelVersion, case: Case) -> list[str]:
    return [b.message for b in blocking_items(version, case)]


def _may_reject_by_signoff(actor: User | None, case: Case) -> str:
    if actor is not None and actor.pk in case.signer_ids:
        return ""
    return "A version pending approval is rejected by a required signer's sign-off."


def _has_rejecting_signoff(version: ModelVersion, case: Case) -> list[str]:
    if version.signoffs.filter(decision=Decision.REJECT).exists():
        return []
    return ["No required signer has rejected this version."]


def _decided(version: ModelVersion, actor: User | None, case: Case) -> dict[str, Any]:
    VersionGovernance.objects.filter(version=version).update(decided_at=timezone.now())
    return {}


def _approved(version: ModelVersion, actor: User | None, case: Case) -> dict[str, Any]:
    """Record the decision and schedule the first periodic review, from the tier's interval in the
    policy bound at submission."""
    now = timezone.now()
    due = review_due_after(case, now.date())
    VersionGovernance.objects.filter(version=version).update(decided_at=now, next_review_due=due)
    return {"next_review_due": due.isoformat() if due else None}


def review_due_after(case: Case, day: dt.date) -> dt.date | None:
    """``day`` plus the revalidation interval of the version's tier under its bound policy."""
    rules = case.rules
    return add_months(day, rules.revalidation_months) if rules is not None else None


def _may_decide_servability(actor: User | None, case: Case) -> str:
    if actor is not None and permissions.can_decide_servability(actor, case):
        return ""
    return "Only risk officers suspend or reinstate an approved version."


def _may_suspend(actor: User | None, case: Case) -> str:
    # Assay itself (actor None) suspends when a waiver expires under a policy that says so.
    return "" if actor is None else _may_decide_servability(actor, case)


def _may_retire(actor: User | None, case: Case) -> str:
    # Assay itself (actor None) retires a version on a periodic review's "retire" conclusion,
    # which the review's own event attributes to its reviewer.
    if actor is None or permissions.can_retire(actor, case):
        return ""
    return "Only risk officers and the model's owner retire a version."


SUBMIT = Rule("submit", _may_submit, _submission_problems, effect=_bind_policy)
TRANSITIONS: dict[tuple[str, str], Rule] = {
    (S.DRAFT, S.SUBMITTED): SUBMIT,
    (S.CHANGES_REQUESTED, S.SUBMITTED): Rule("resubmit", _may_submit, _submission_problems,
                                             effect=_bind_policy),
    (S.SUBMITTED, S.IN_VALIDATION): Rule("start_validation", _may_start_validation,
                                         _has_validator),
    (S.IN_VALIDATION, S.CHANGES_REQUESTED): Rule("request_changes", _may_review,
                                                 needs_reason=True),
    (S.IN_VALIDATION, S.PENDING_APPROVAL): Rule("conclude_validation", _may_review,
                                                _review_approves_and_gate_clear),
    (S.IN_VALIDATION, S.REJECTED): Rule("reject_in_validation", _may_review, _review_rejects,
                                        effect=_decided),
    (S.PENDING_APPROVAL, S.APPROVED): Rule("approve", _may_complete_approval, _nothing_blocks,
                                           effect=_approved),
    (S.PENDING_APPROVAL, S.REJECTED): Rule("reject", _may_reject_by_signoff,
                                           _has_rejecting_signoff, effect=_decided),
    (S.APPROVED, S.SUSPENDED): Rule("suspend", _may_suspend, needs_reason=True),
    (S.SUSPENDED, S.APPROVED): Rule("reinstate", _may_decide_servability, needs_reason=True),
    (S.APPROVED, S.RETIRED): Rule("retire", _may_retire, needs_reason=True),
    (S.SUSPENDED, S.RETIRED): Rule("retire", _may_retire, needs_reason=True),
}


def next_states(state: str) -> list[str]:
    return [to for (frm, to) in TRANSITIONS if frm == state]


def _rule(version: ModelVersion, to: str) -> Rule:
    rule = TRANSITIONS.get((version.state, to))
    if rule is None:
        label = S(version.state).label.lower()
        options = ", ".join(S(s).label.lower() for s in next_states(version.state)) or "nothing"
        target = S(to).label.lower() if to in S.values else repr(to)
        raise Conflict(f"Version {version.number} is {label}; it cannot go to {target}. From "
                       f"{label} it can go to: {options}.")
    return rule


def _sync_model_status(model_id: int) -> None:
    latest = ModelVersion.objects.filter(model_id=model_id).order_by("-number").first()
    if latest is not None:
        RegisteredModel.objects.filter(pk=model_id).update(status=latest.state,
                                                           updated_at=timezone.now())


def version_transition(*, version: ModelVersion, to: str, actor: User | None, reason: str = "",
                       details: dict[str, Any] | None = None) -> ModelVersion:
    """Move a version along one edge of TRANSITIONS: check the edge, the actor, segregation of
    duties and the preconditions, save, keep the model's status in step and record one event.

    Invalid edges and unmet preconditions answer Conflict (409) with the reason; a refused actor
    answers 403 and the refusal is audited.
    """
    rule = _rule(version, to)
    refusal = rule.may(actor, case_for(version))
    if refusal:
        _refuse(actor, refusal, attempted=f"version.{rule.name}", target=version)
    if rule.needs_reason and not (reason or "").strip():
        raise ValidationFailed(f"Give a reason to {rule.name.replace('_', ' ')} this version.",
                               field="reason")
    seen_state = version.state
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        if locked.state != seen_state:
            raise Conflict(f"Version {locked.number} changed meanwhile: it is now "
                           f"{locked.get_state_display().lower()}. Reload and try again.")
        case = case_for(locked)
        problems = rule.check(locked, case)
        if problems:
            raise Conflict(f"Version {locked.number} cannot {rule.name.replace('_', ' ')}: "
                           + " ".join(problems))
        extra = rule.effect(locked, actor, case) if rule.effect else {}
        case = case_for(locked)
        locked.state = to
        locked.save(update_fields=["state"])
        _sync_model_status(locked.model_id)
        audit.record(action=f"version.{rule.name}", actor=actor, obj=locked, payload={
            "from": seen_state, "to": to, "reason": reason, "number": locked.number,
            "policy_version": str(case.policy_version) if case.policy_version else None,
            "policy_version_id": case.policy_version.pk if case.policy_version else None,
            "tier": case.tier, **extra, **(details or {})})
        _notify_transition(locked, to, case, reason)
    version.state = to
    return locked


def _notify_transition(version: ModelVersion, to: str, case: Case, reason: str) -> None:
    """Ask the signers for their sign-off when a version reaches pending approval; tell the
    model's people and the validator about a decision."""
    url = f"/models/{version.model.slug}/versions/{version.number}/workflow/"
    if to == S.PENDING_APPROVAL:
        candidates = User.objects.filter(is_active=True,
                                         role_grants__role__in=list(case.required_roles)
                                         ).distinct().order_by("pk")
        signers = [u for u in candidates if permissions.can_sign_off(u, case)]
        notify(users=signers, kind=NotificationKind.SIGNOFF_REQUESTED, obj=version,
               title=f"Sign-off requested: {version}", url=url, period="pending",
               body=f"{version} passed validation and waits for your sign-off "
                    f"(tier {case.tier}, {case.policy_version}).")
    elif to in (S.APPROVED, S.REJECTED):
        people = _people_of(version, case)
        notify(users=people, kind=NotificationKind.DECISION, obj=version, period=to,
               title=f"{version} was {S(to).label.lower()}", url=url,
               body=reason or f"{version} is now {S(to).label.lower()}.")


def _people_of(version: ModelVersion, case: Case) -> list[User]:
    """The model's owner and developers, the version's submitter and validator."""
    ids = {case.owner_id, *case.developer_ids, case.submitter_id, case.validator_id} - {None}
    return list(User.objects.filter(pk__in=ids).order_by("pk"))


def version_submit(*, actor: User, version: ModelVersion) -> ModelVersion:
    """Submit a draft (or resubmit after changes were requested) for validation."""
    return version_transition(version=version, to=S.SUBMITTED, actor=actor)


# ---------------------------------------------------------------------------------------------
# Independent validation

def validator_assign(*, actor: User, version: ModelVersion, validator: User) -> ModelVersion:
    """Assign an independent validator to a submitted version and start its validation.

    The validator joins the model's assignees, so they see it.
    """
    if version.state != S.SUBMITTED:
        raise Conflict(f"Validators are assigned to submitted versions; version {version.number} "
                       f"is {version.get_state_display().lower()}.")
    reason = permissions.reason_cannot_assign_validator(actor, case_for(version), validator)
    if reason:
        _refuse(actor, reason, attempted="version.assign_validator", target=version)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        gov = VersionGovernance.objects.select_for_update().get(version=locked)
        previous = gov.validator
        gov.validator = validator
        gov.validator_assigned_at = timezone.now()
        gov.save(update_fields=["validator", "validator_assigned_at"])
        model = locked.model
        model.assignees.add(validator)
        if previous is not None and previous.pk != validator.pk and not \
                VersionGovernance.objects.filter(version__model=model,
                                                 validator=previous).exists():
            model.assignees.remove(previous)
        version_transition(version=locked, to=S.IN_VALIDATION, actor=actor, details={
            "validator": validator.username,
            "previous_validator": previous.username if previous else None,
            "self_assigned": actor.pk == validator.pk})
        if validator.pk != actor.pk:
            notify(users=[validator], kind=NotificationKind.ASSIGNMENT, obj=locked,
                   period=str(gov.validator_assigned_at.date()),
                   title=f"You validate {locked}", url=f"/models/{model.slug}/versions/"
                                                      f"{locked.number}/workflow/",
                   body=f"{actor.username} assigned you the independent validation of "
                        f"{locked}.")
    version.state = locked.state
    return locked


def review_conclude(
    *,
    actor: User,
    version: ModelVersion,
    conceptual_soundness: str,
    data_quality: str,
    outcomes_analysis: str,
    implementation_verification: str,
    artifact_sha256: str,
    limitations: str,
    conclusion: str,
    conditions: str = "",
) -> ValidationReview:
    """Record the validator's review and move the version on: an approval (with or without
    conditions) to pending approval — only when no required evidence is missing or failing — and
    a rejection to rejected."""
    values = {"conceptual_soundness": conceptual_soundness, "data_quality": data_quality,
              "outcomes_analysis": outcomes_analysis,
              "implementation_verification": implementation_verification,
              "limitations": limitations}
    _require_text(values, {
        "conceptual_soundness": "Assess the model's design and theory.",
        "data_quality": "Assess the data's quality and relevance.",
        "outcomes_analysis": "Describe the back-test or the benchmark against a challenger or "
                             "baseline.",
        "implementation_verification": "Say how you verified the implementation.",
        "limitations": "List the model's limitations (or say why there are none)."})
    if conclusion not in Conclusion.values:
        raise ValidationFailed(f"Conclude with one of: {', '.join(Conclusion.values)}.",
                               field="conclusion")
    if conclusion == Conclusion.APPROVE_WITH_CONDITIONS and not conditions.strip():
        raise ValidationFailed("Approving with conditions needs the conditions of use.",
                               field="conditions")
    if conclusion != Conclusion.APPROVE_WITH_CONDITIONS and conditions.strip():
        raise ValidationFailed("Conditions go with the conclusion 'approve with conditions'.",
                               field="conditions")
    digest = (artifact_sha256 or "").strip().lower()
    if not SHA256_RE.match(digest):
        raise ValidationFailed("Give the SHA-256 of the artifact you reviewed: 64 hex "
                               "characters (sha256sum output).", field="artifact_sha256")
    if version.state != S.IN_VALIDATION:
        raise Conflict(f"Only versions in validation are reviewed; version {version.number} is "
                       f"{version.get_state_display().lower()}.")
    case = case_for(version)
    reason = permissions.reason_cannot_review(actor, case)
    if reason:
        _refuse(actor, reason, attempted="review.conclude", target=version)
    gov = VersionGovernance.objects.get(version=version)
    if digest != gov.submitted_artifact_sha256:
        raise ValidationFailed(
            f"The artifact you reviewed ({digest[:12]}…) is not the submitted one "
            f"({gov.submitted_artifact_sha256[:12]}…). Download the submitted artifact and "
            "review that.", field="artifact_sha256")
    rules = case.rules
    if conclusion == Conclusion.APPROVE_WITH_CONDITIONS and rules and \
            not rules.conditional_approval:
        raise Conflict(f"Tier {case.tier} under {case.policy_version} does not allow conditional "
                       "approval: approve without conditions, request changes or reject.")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if locked.state != S.IN_VALIDATION or _review(locked) is not None:
            raise Conflict("This version's review was concluded meanwhile.")
        review = ValidationReview.objects.create(
            version=locked, validator=actor, policy_version=case.policy_version, tier=case.tier,
            artifact_sha256=digest, conclusion=conclusion, conditions=conditions, **values)
        to = S.REJECTED if conclusion == Conclusion.REJECT else S.PENDING_APPROVAL
        version_transition(version=locked, to=to, actor=actor, reason=limitations, details={
            "review_id": review.pk, "conclusion": conclusion, "conditions": conditions,
            "artifact_sha256": digest, "artifact_verified": True})
    version.state = locked.state
    return review


# ---------------------------------------------------------------------------------------------
# Sign-offs

def _choose_role(actor: User, case: Case, counts: dict[str, int], role: str) -> str:
    roles = permissions.signing_roles(actor, case)
    if role:
        if role not in roles:
            _refuse(actor, f"You cannot sign as {role!r}: the roles you may sign in here are "
                           f"{', '.join(roles)}.", attempted="signoff.record")
        return role
    open_roles = [r for r in roles if counts.get(r, 0) < case.required_roles[r]]
    return (open_roles or roles)[0]


def signoff_record(*, actor: User, version: ModelVersion, decision: str, comment: str,
                   password: str, role: str = "") -> SignOff:
    """Sign a version pending approval, re-entering one's password (an electronic signature).

    A rejection by a required signer rejects the version; the approval completes by itself when
    the quorum is met and nothing blocks. Row locks make concurrent final signatures approve once.
    """
    if decision not in Decision.values:
        raise ValidationFailed("Decide 'approve' or 'reject'.", field="decision")
    _require_text({"comment": comment, "password": password}, {
        "comment": "Comment on your decision.",
        "password": "Re-enter your password to sign."})
    if version.state != S.PENDING_APPROVAL:
        raise Conflict(f"Only versions pending approval are signed off; version "
                       f"{version.number} is {version.get_state_display().lower()}.")
    case = case_for(version)
    reason = permissions.reason_cannot_sign_off(actor, case)
    if reason:
        _refuse(actor, reason, attempted="signoff.record", target=version)
    role = _choose_role(actor, case, signoff_counts(version), role)
    if not actor.check_password(password):
        _refuse(actor, "The password is not yours: a signature needs your own password.",
                attempted="signoff.record", target=version)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        if locked.state != S.PENDING_APPROVAL:
            raise Conflict(f"Version {locked.number} was decided meanwhile: it is "
                           f"{locked.get_state_display().lower()}.")
        case = case_for(locked)
        if actor.pk in case.signer_ids:
            raise Conflict("You have already signed this version.")
        counts = signoff_counts(locked)
        if decision == Decision.APPROVE and counts.get(role, 0) >= case.required_roles[role]:
            raise Conflict(f"The {Role(role).label.lower()} sign-offs this tier needs are all in.")
        signoff = SignOff.objects.create(
            version=locked, signer=actor, role=role, decision=decision, comment=comment,
            policy_version=case.policy_version, tier=case.tier,
            artifact_sha256=locked.artifact_sha256)
        audit.record(action="signoff.record", actor=actor, obj=signoff, payload={
            "version": locked.number, "role": role, "decision": decision, "comment": comment,
            "policy_version": str(case.policy_version), "tier": case.tier,
            "artifact_sha256": locked.artifact_sha256})
        if decision == Decision.REJECT:
            version_transition(version=locked, to=S.REJECTED, actor=actor, reason=comment,
                               details={"signoff_id": signoff.pk, "role": role})
        else:
            _approve_if_ready(locked, actor=actor, signoff=signoff)
    version.state = locked.state
    return signoff


def _approve_if_ready(version: ModelVersion, *, actor: User | None,
                      signoff: SignOff | None = None) -> bool:
    """Complete the approval when the quorum is met and nothing blocks (inside the caller's
    transaction, which holds the version's lock)."""
    if version.state != S.PENDING_APPROVAL or blocking_items(version):
        return False
    case = case_for(version)
    version_transition(version=version, to=S.APPROVED, actor=actor, details={
        "signers": sorted(version.signoffs.values_list("signer__username", flat=True)),
        "quorum": case.required_roles, "final_signoff_id": signoff.pk if signoff else None})
    return True


def version_complete_approval(*, actor: User, version: ModelVersion) -> ModelVersion:
    """Approve a version whose quorum was met while something still blocked, once it no longer
    does (e.g. the failing evidence was re-run)."""
    return version_transition(version=version, to=S.APPROVED, actor=actor)


# ---------------------------------------------------------------------------------------------
# Evidence

def evidence_record(*, version: ModelVersion, check: str, status: str, figures: Any = None,
                    digest: str, source_url: str = "", actor: User | None) -> Evidence:
    """Store what a check found about a version (the evaluation issue writes these; the approval
    gate reads the newest row per check). ``actor`` None means Assay itself (a worker)."""
    figures = {} if figures is None else figures
    errors: dict[str, list[str]] = {}
    if not isinstance(check, str) or not check.strip() or len(check) > 100:
        errors["check"] = ["Name the check (up to 100 characters)."]
    if status not in EvidenceStatus.values:
        errors["status"] = [f"The status is one of: {', '.join(EvidenceStatus.values)}."]
    if not isinstance(figures, dict) or not _json_safe(figures):
        errors["figures"] = ["Figures are a JSON object of finite numbers, text and lists."]
    if not isinstance(digest, str) or not SHA256_RE.match(digest.lower()):
        errors["digest"] = ["The digest is the SHA-256 of the full result: 64 hex characters."]
    if len(source_url or "") > 500 or (source_url and not re.match(r"^(https?://|/)",
                                                                    source_url)):
        errors["source_url"] = ["Link to the source with an http(s) URL or a path."]
    if errors:
        raise ValidationFailed("The evidence is invalid: " + " ".join(
            m for ms in errors.values() for m in ms), fields=errors)
    if actor is not None and not permissions.can_record_evidence(actor, case_for(version)):
        _refuse(actor, "Only the model's team, its validator and risk officers record evidence.",
                attempted="evidence.record", target=version)
    if version.state in (S.REJECTED, S.RETIRED):
        raise Conflict(f"Version {version.number} is {version.get_state_display().lower()}; "
                       "evidence is no longer recorded for it.")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        row = Evidence.objects.create(version=locked, check_name=check.strip(), status=status,
                                      figures=figures, digest=digest.lower(),
                                      source_url=source_url, recorded_by=actor)
        audit.record(action="evidence.record", actor=actor, obj=row, payload={
            "version": locked.number, "check": row.check_name, "status": status,
            "figures": figures, "digest": row.digest, "source_url": source_url})
        _approve_if_ready(locked, actor=None)
    version.state = locked.state
    return row


def _json_safe(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_safe(v) for v in value)
    return value is None or isinstance(value, bool | int | str)


# ---------------------------------------------------------------------------------------------
# Findings from evaluation checks (the evaluation issue calls this; governance.findings holds the
# rest of the findings' services).

def finding_raise_from_check(*, version: ModelVersion, check: str, severity: str, title: str,
                             description: str, figures: Any = None) -> Finding:
    """Raise the finding of a failed evaluation check, once per (check, version): a later call
    for the same check returns the finding already raised."""
    from governance import findings

    return findings.finding_raise_from_check(version=version, check=check, severity=severity,
                                             title=title, description=description,
                                             figures=figures)
