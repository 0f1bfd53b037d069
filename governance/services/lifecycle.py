"""The version lifecycle: the ``TRANSITIONS`` table and one function, ``version_transition``.

Every other lifecycle service (assigning a validator, concluding a review, signing) records what it
adds and then moves the version through ``version_transition``, so each state change is checked
the same way and audited exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import Role, User
from core.permissions import Refusal
from governance.gates import GATE_KINDS, SUBMISSION_KINDS, Case, blocking_items, case_for
from governance.models import (
    Conclusion,
    Decision,
    NotificationKind,
    PolicyVersion,
    SignOff,
    ValidationReview,
    VersionGovernance,
    workflow_url,
)
from governance.policy import add_months
from governance.services.common import S
from governance.services.notifications import notify
from governance.services.signatures import approval_sign
from registry.models import ModelVersion, RegisteredModel


@dataclass(frozen=True)
class Rule:
    """One edge of the lifecycle: who may take it, what must hold, what it does on the way.

    ``action`` is the name people take the edge by (a button on the workflow page, a POST action
    of the API); empty for edges that only another service takes (concluding the review, a
    rejecting sign-off).
    """

    name: str
    may: Callable[[User | None, Case], str]          # refusal reason, "" when allowed
    check: Callable[[ModelVersion, Case], list[str]] = lambda v, c: []
    needs_reason: bool = False
    effect: Callable[[ModelVersion, User | None, Case], dict[str, Any]] | None = None
    action: str = ""


def _may_submit(actor: User | None, case: Case) -> str:
    if actor is not None and permissions.can_submit_version(actor, case):
        return ""
    return Refusal("Only the model's team, its owner and developers can submit its versions.",
                   permissions.NOT_MODEL_TEAM)


def _submission_problems(version: ModelVersion, case: Case) -> list[str]:
    return [b.message for b in blocking_items(version, case) if b.kind in SUBMISSION_KINDS]


def _bind_policy(version: ModelVersion, actor: User | None, case: Case) -> dict[str, Any]:
    """Open the case at the first submission and bind the policy current at that moment and the
    tier in force; at every (re)submission, add the model's owner and developers and the
    submitter to the people independence is judged against. A resubmission keeps the bound tier
    (``case.tier`` reads it): only an approved tier override changes it."""
    gov, created = VersionGovernance.objects.get_or_create(version=version, defaults={
        "policy_version": case.policy_version, "submitted_by": actor,
        "submitted_artifact_sha256": version.artifact_sha256})
    gov.record_people(owner_id=case.owner_id, developer_ids=case.developer_ids,
                      submitter_id=actor.pk if actor else None)
    gov.tier = case.tier
    gov.save(update_fields=["people_at_submission", "tier"])
    return {"policy_bound": created, "artifact_sha256": gov.submitted_artifact_sha256,
            "people_at_submission": gov.people_at_submission}


def _may_start_validation(actor: User | None, case: Case) -> str:
    if actor is not None and permissions.can_start_validation(actor, case):
        return ""
    return Refusal("Only the assigned validator or a risk officer can start the validation.",
                   permissions.NOT_ASSIGNED)


def _has_validator(version: ModelVersion, case: Case) -> list[str]:
    return [] if case.validator_id else ["Assign a validator first."]


def _may_review(actor: User | None, case: Case) -> str:
    return Refusal("Only the assigned validator can do this.", permissions.NOT_ASSIGNED) \
        if actor is None else \
        permissions.reason_cannot_review(actor, case)


def concluded_review(version: ModelVersion) -> ValidationReview | None:
    return ValidationReview.objects.filter(version=version).first()


def _review_approves_and_gate_clear(version: ModelVersion, case: Case) -> list[str]:
    review = concluded_review(version)
    if review is None or not review.approves:
        return ["The validation review must conclude with an approval first."]
    return [b.message for b in blocking_items(version, case) if b.kind in GATE_KINDS]


def _review_rejects(version: ModelVersion, case: Case) -> list[str]:
    review = concluded_review(version)
    return [] if review is not None and review.conclusion == Conclusion.REJECT else [
        "Only a review concluding 'reject' rejects a version in validation."]


def _may_complete_approval(actor: User | None, case: Case) -> str:
    # Assay itself (actor None) completes an approval when the last block clears.
    if actor is None or actor.pk in case.signer_ids:
        return ""
    return Refusal("Approval follows the sign-offs: sign the version off instead.",
                   permissions.NOT_A_SIGNER)


def _nothing_blocks(version: ModelVersion, case: Case) -> list[str]:
    return [b.message for b in blocking_items(version, case)]


def _nothing_blocks_reinstating(version: ModelVersion, case: Case) -> list[str]:
    """A suspended version serves again only once what would stop its approval is resolved or
    waived (a waiver that expired or was revoked put its block back)."""
    problems = _nothing_blocks(version, case)
    if problems:
        problems.append("Resolve these (or have a risk officer waive them) before reinstating.")
    return problems


def _may_reject_by_signoff(actor: User | None, case: Case) -> str:
    if actor is not None and actor.pk in case.signer_ids:
        return ""
    return Refusal("A version pending approval is rejected by a required signer's sign-off.",
                   permissions.NOT_A_SIGNER)


def _has_rejecting_signoff(version: ModelVersion, case: Case) -> list[str]:
    if version.signoffs.standing().filter(decision=Decision.REJECT).exists():
        return []
    return ["No required signer has rejected this version."]


def _decided(version: ModelVersion, actor: User | None, case: Case) -> dict[str, Any]:
    """Record the decision and bind the tier it was taken at."""
    VersionGovernance.objects.filter(version=version).update(decided_at=timezone.now(),
                                                             tier=case.tier)
    return {}


def _approved(version: ModelVersion, actor: User | None, case: Case) -> dict[str, Any]:
    """Record the decision and schedule the first periodic review, from the tier's interval in the
    policy bound at submission."""
    now = timezone.now()
    due = review_due_after(case, now.date())
    VersionGovernance.objects.filter(version=version).update(decided_at=now, next_review_due=due,
                                                             tier=case.tier)
    return {"next_review_due": due.isoformat() if due else None}


def review_due_after(case: Case, day: dt.date,
                     cadence: PolicyVersion | None = None) -> dt.date | None:
    """``day`` plus the revalidation interval of the version's tier under its bound policy, or
    under ``cadence``: the policy its reviews were re-scheduled under
    (VersionGovernance.review_policy_version)."""
    rules = (cadence.tier_rules(case.tier) if cadence is not None and case.tier is not None
             else case.rules)
    return add_months(day, rules.revalidation_months) if rules is not None else None


def _may_decide_servability(actor: User | None, case: Case) -> str:
    if actor is not None and permissions.can_decide_servability(actor, case):
        return ""
    return Refusal("Only risk officers suspend or reinstate an approved version.",
                   permissions.WRONG_ROLE)


def _may_reinstate(actor: User | None, case: Case) -> str:
    if actor is None:
        return Refusal("Only risk officers suspend or reinstate an approved version.",
                       permissions.WRONG_ROLE)
    return permissions.reason_cannot_reinstate(actor, case)


def _may_suspend(actor: User | None, case: Case) -> str:
    # Assay itself (actor None) suspends when a waiver expires or is revoked under a policy that
    # says so.
    return "" if actor is None else _may_decide_servability(actor, case)


def _may_retire(actor: User | None, case: Case) -> str:
    # Assay itself (actor None) retires a version on a periodic review's "retire" conclusion,
    # which the review's own event attributes to its reviewer.
    if actor is None or permissions.can_retire(actor, case):
        return ""
    return Refusal("Only risk officers and the model's owner retire a version.",
                   permissions.WRONG_ROLE)


TRANSITIONS: dict[tuple[str, str], Rule] = {
    (S.DRAFT, S.SUBMITTED): Rule("submit", _may_submit, _submission_problems,
                                 effect=_bind_policy, action="submit"),
    (S.CHANGES_REQUESTED, S.SUBMITTED): Rule("resubmit", _may_submit, _submission_problems,
                                             effect=_bind_policy, action="submit"),
    (S.SUBMITTED, S.IN_VALIDATION): Rule("start_validation", _may_start_validation,
                                         _has_validator, action="start_validation"),
    (S.IN_VALIDATION, S.CHANGES_REQUESTED): Rule("request_changes", _may_review,
                                                 needs_reason=True, action="request_changes"),
    (S.IN_VALIDATION, S.PENDING_APPROVAL): Rule("conclude_validation", _may_review,
                                                _review_approves_and_gate_clear),
    (S.IN_VALIDATION, S.REJECTED): Rule("reject_in_validation", _may_review, _review_rejects,
                                        effect=_decided),
    (S.PENDING_APPROVAL, S.APPROVED): Rule("approve", _may_complete_approval, _nothing_blocks,
                                           effect=_approved, action="complete_approval"),
    (S.PENDING_APPROVAL, S.REJECTED): Rule("reject", _may_reject_by_signoff,
                                           _has_rejecting_signoff, effect=_decided),
    (S.APPROVED, S.SUSPENDED): Rule("suspend", _may_suspend, needs_reason=True,
                                    action="suspend"),
    (S.SUSPENDED, S.APPROVED): Rule("reinstate", _may_reinstate,
                                    _nothing_blocks_reinstating, needs_reason=True,
                                    action="reinstate"),
    (S.APPROVED, S.RETIRED): Rule("retire", _may_retire, needs_reason=True, action="retire"),
    (S.SUSPENDED, S.RETIRED): Rule("retire", _may_retire, needs_reason=True, action="retire"),
}
# Each action's edges lead to one state: the state an action name asks for, whatever the state
# the version is in now (a wrong one is refused by version_transition, saying what is possible).
ACTION_TARGETS: dict[str, str] = {rule.action: to for (_, to), rule in TRANSITIONS.items()
                                  if rule.action}


@dataclass(frozen=True)
class Step:
    """Work on a version in one state that its own service records and page takes, and that then
    moves the version along an edge: assigning the validator starts the validation, the review
    concludes it, the last sign-off approves."""

    name: str
    state: str
    may: Callable[[User, Case], bool]


STEPS = (
    Step("assign_validator", S.SUBMITTED, permissions.can_assign_validator),
    Step("review", S.IN_VALIDATION, permissions.can_review),
    Step("sign_off", S.PENDING_APPROVAL, permissions.can_sign_off),
)


def next_states(state: str) -> list[str]:
    return [to for (frm, to) in TRANSITIONS if frm == state]


def available_actions(user: User, version: ModelVersion, case: Case | None = None) -> list[str]:
    """What the user may do to the version now, by name (the workflow page's buttons, the API's
    ``actions``): the steps open to them in its state, then every edge from its state that has an
    action and whose rule lets them take it now — their permission and its preconditions."""
    case = case or case_for(version)
    names = [step.name for step in STEPS
             if step.state == version.state and step.may(user, case)]
    for (frm, _to), rule in TRANSITIONS.items():
        if frm == version.state and rule.action and not rule.may(user, case) \
                and not rule.check(version, case):
            names.append(rule.action)
    return names


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


class TransitionListener(Protocol):
    def __call__(self, *, version: ModelVersion, frm: str, to: str, actor: User | None,
                 reason: str) -> None: ...


# Apps above governance that must act when a version changes state add a function here from their
# AppConfig.ready() (imports point one way, so governance cannot call them by name): serving
# tells the owners of the endpoints that serve a version suspended or reinstated. Each is called
# inside the transition's transaction, after governance's own notifications.
_transition_listeners: list[TransitionListener] = []


def on_version_transition(listener: TransitionListener) -> None:
    """Call ``listener(version=, frm=, to=, actor=, reason=)`` after every state change."""
    if listener not in _transition_listeners:
        _transition_listeners.append(listener)


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
        refuse(actor, refusal, attempted=f"version.{rule.name}", target=version)
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
        if to == S.APPROVED:  # every way into approved: sign-off, last blocker cleared, reinstate
            approval_sign(version=locked, actor=actor, occasion=rule.name)
        _notify_transition(locked, seen_state, to, case, reason)
        for listener in _transition_listeners:
            listener(version=locked, frm=seen_state, to=to, actor=actor, reason=reason)
    version.state = to
    return locked


def _notify_transition(version: ModelVersion, frm: str, to: str, case: Case,
                       reason: str) -> None:
    """Ask the signers for their sign-off when a version reaches pending approval; tell the
    model's people and the validator about a decision, a suspension and a reinstatement."""
    url = workflow_url(version)
    moment = timezone.now().strftime("%Y%m%d%H%M%S")  # each round of changes is news again
    if to == S.SUBMITTED and case.validator_id is None:
        # Nobody validates it yet: the risk officers assign, independent validators may take it.
        deciders = [u for u in User.objects.filter(
            is_active=True, role_grants__role__in=[Role.RISK_OFFICER, Role.VALIDATOR]
        ).distinct().order_by("pk") if permissions.can_assign_validator(u, case)]
        notify(users=deciders, kind=NotificationKind.SUBMITTED, obj=version,
               period=f"submitted-{moment}", title=f"{version} was submitted for validation",
               url=url, body=f"{version} waits for a validator. Risk officers assign one; an "
                             "independent validator may take it from its workflow page.")
    elif to == S.SUBMITTED and case.validator_id is not None:
        notify(users=list(User.objects.filter(pk=case.validator_id)),
               kind=NotificationKind.ASSIGNMENT, obj=version, period=f"resubmitted-{moment}",
               title=f"{version} was resubmitted to you", url=url,
               body=f"{version} answers the changes you requested. Start the validation again "
                    "from its workflow page (or the API's start-validation action).")
    elif to == S.CHANGES_REQUESTED:
        notify(users=[u for u in _people_of(version, case) if u.pk != case.validator_id],
               kind=NotificationKind.DECISION, obj=version, period=f"changes-{moment}",
               title=f"Changes requested on {version}", url=url,
               body=f"{reason}\n\n{CHANGES_REQUESTED_HELP}")
    elif to == S.PENDING_APPROVAL:
        candidates = User.objects.filter(is_active=True,
                                         role_grants__role__in=list(case.required_roles)
                                         ).distinct().order_by("pk")
        signers = [u for u in candidates if permissions.can_sign_off(u, case)]
        notify(users=signers, kind=NotificationKind.SIGNOFF_REQUESTED, obj=version,
               title=f"Sign-off requested: {version}", url=url, period="pending",
               body=f"{version} passed validation and waits for your sign-off "
                    f"(tier {case.tier}, {case.policy_version}).")
    elif (frm, to) in ((S.APPROVED, S.SUSPENDED), (S.SUSPENDED, S.APPROVED)):
        # Each suspension and reinstatement is news again, so the period carries the moment.
        verb = "suspended" if to == S.SUSPENDED else "reinstated"
        notify(users=_people_of(version, case), kind=NotificationKind.DECISION, obj=version,
               period=f"{verb}-{moment}", title=f"{version} was {verb}", url=url,
               body=f"{reason}\n\n{version} is {'no longer' if to == S.SUSPENDED else 'again'} "
                    "served.")
    elif to in (S.APPROVED, S.REJECTED):
        people = _people_of(version, case)
        notify(users=people, kind=NotificationKind.DECISION, obj=version, period=to,
               title=f"{version} was {S(to).label.lower()}", url=url,
               body=reason or f"{version} is now {S(to).label.lower()}.")


def _people_of(version: ModelVersion, case: Case) -> list[User]:
    """The model's owner and developers, the version's submitter and validator."""
    ids = {case.owner_id, *case.developer_ids, case.submitter_id, case.validator_id} - {None}
    return list(User.objects.filter(pk__in=ids).order_by("pk"))


# What "changes requested" lets the developer do (SR 11-7: the developer answers the validator's
# challenge; what was submitted stays what is validated).
CHANGES_REQUESTED_HELP = (
    "Answer the validator, then resubmit this version: respond to the findings, record the "
    "missing evidence and complete the model's documentation. The submitted artifact and the "
    "version's fields stay frozen, because the validation verifies exactly what was submitted; "
    "if the model itself must change (a new artifact or training data), register it as a new "
    "version and submit that one.")


def version_submit(*, actor: User, version: ModelVersion) -> ModelVersion:
    """Submit a draft (or resubmit after changes were requested) for validation."""
    return version_transition(version=version, to=S.SUBMITTED, actor=actor)


def approve_if_ready(version: ModelVersion, *, actor: User | None,
                      signoff: SignOff | None = None) -> bool:
    """Complete the approval when the quorum is met and nothing blocks (inside the caller's
    transaction, which holds the version's lock)."""
    if version.state != S.PENDING_APPROVAL or blocking_items(version):
        return False
    case = case_for(version)
    version_transition(version=version, to=S.APPROVED, actor=actor, details={
        "signers": sorted(version.signoffs.standing().values_list("signer__username",
                                                                   flat=True)),
        "quorum": case.required_roles, "final_signoff_id": signoff.pk if signoff else None})
    return True
