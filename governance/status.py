"""A version's governance status, as its workflow page, the registry's version panel and
GET /api/v1/versions/{id}/governance/ show it: where it is, the policy and tier that apply, what
still blocks it, and what the user may do."""

from __future__ import annotations

from typing import Any

from core import permissions
from core.models import AuditEvent
from governance.gates import (
    Case,
    blocking_items,
    case_for,
    evidence_standings,
    evidence_warnings,
    governance_of,
    is_exploratory,
    latest_evidence,
    no_policy_message,
)
from governance.models import (
    DECIDED,
    Evidence,
    PolicyVersion,
    ValidationReview,
    VersionGovernance,
)
from governance.policy import DEFAULT_MATERIALITY, MINOR, Definition
from governance.services.lifecycle import CHANGES_REQUESTED_HELP, available_actions
from registry.models import ModelVersion, VersionState


def version_status(version: ModelVersion, user: Any) -> dict[str, Any]:
    """Everything the status shows, computed once (the API's WorkflowSerializer gives its shape)."""
    case = case_for(version)
    gov = governance_of(version)
    standings = evidence_standings(version, case)
    review = ValidationReview.objects.filter(version=version).first()
    current = PolicyVersion.objects.current_for(version.model)
    return {
        "version_id": version.pk, "model": version.model.slug, "number": version.number,
        "state": version.state, "servable": version.is_servable(),
        "policy_version": str(case.policy_version) if case.policy_version else None,
        "policy_version_id": case.policy_version.pk if case.policy_version else None,
        "policy_bound": gov is not None, "tier": case.tier,
        "current_policy_version": str(current) if current else None,
        "current_policy_version_id": current.pk if current else None,
        "review_policy_version": (str(gov.review_policy_version)
                                  if gov and gov.review_policy_version else None),
        "policy_note": policy_note(version, gov, current),
        "requirements": case.rules.as_dict() if case.rules else None,
        "submitted_by": gov.submitted_by.username if gov else None,
        "submitted_at": gov.submitted_at if gov else None,
        "validator": gov.validator.username if gov and gov.validator else None,
        "next_review_due": gov.next_review_due if gov else None,
        "review": review,
        # The sign-offs that count; those a tier change restarted are in its audit event.
        "signoffs": list(version.signoffs.standing().select_related(
            "signer", "policy_version__policy")),
        "latest_evidence": marked_exploratory(list(latest_evidence(version).values()), case),
        "required_evidence": standings,
        "blockers": [b.as_dict() for b in blocking_items(version, case)],
        "warnings": [b.as_dict() for b in evidence_warnings(version, case, standings)],
        "actions": available_actions(user, version, case)
        + (["classify_change"] if may_classify_change(user, version, case) else []),
        "note": _state_note(version),
        "sign_off_refused": _sign_off_refused(user, case),
        "change_class": change_class_status(version, case, gov),
    }


def may_classify_change(user: Any, version: ModelVersion, case: Case) -> bool:
    """Whether the user may confirm or reclassify the version's declared change now."""
    return (version.state == VersionState.IN_VALIDATION and bool(version.change_class)
            and permissions.can_review(user, case))


def change_class_status(version: ModelVersion, case: Case,
                        gov: VersionGovernance | None) -> dict[str, Any] | None:
    """The declared change class, the validator's decision on it, the class in force, what the
    policy means by each, and the checks a minor change in force is held to (None for a
    model's first version, which is no change)."""
    if not version.change_class:
        return None
    rules = case.rules
    reduced = case.change_class == MINOR and rules is not None \
        and rules.minor_change_checks is not None
    definitions = (Definition(case.policy_version.definition).change_materiality
                   if case.policy_version else dict(DEFAULT_MATERIALITY))
    return {
        "declared": version.change_class, "in_force": case.change_class,
        "confirmed": case.change_class_confirmed,
        "confirmed_by": (gov.change_class_confirmed_by.username
                         if gov and gov.change_class_confirmed_by else None),
        "confirmed_at": gov.change_class_confirmed_at if gov else None,
        "note": gov.change_class_note if gov else "",
        "reduced_scope": reduced,
        "scope_checks": (sorted(set(rules.minor_change_checks or ()))
                         if reduced and rules is not None else None),
        "definitions": definitions,
    }


def _scope_words(pv: PolicyVersion) -> str:
    """Which of the model's attributes picked ``pv``, as "this business line"."""
    return {3: "this business line and legal entity", 2: "this legal entity",
            1: "this business line"}.get(pv.scope.rank, "this model (the default policy)")


def policy_note(version: ModelVersion, gov: VersionGovernance | None,
                current: PolicyVersion | None) -> str:
    """Which policy the version is under and which governs its model now, in words: "Decided
    under SR 11-7 v3; the current policy for this business line is v4"."""
    if gov is None:
        if current is None:
            return no_policy_message(version.model)
        return (f"Binds at submission to {current}, the current policy for "
                f"{_scope_words(current)}.")
    bound = gov.policy_version
    words = ("Decided under" if version.state in DECIDED else "Bound at submission to")
    note = f"{words} {bound}"
    if current is None:
        note += "; no current policy covers this model now"
    elif current.pk != bound.pk:
        name = f"v{current.number}" if current.policy_id == bound.policy_id else str(current)
        note += f"; the current policy for {_scope_words(current)} is {name}"
    else:
        note += f", still the current policy for {_scope_words(current)}"
    if gov.review_policy_version is not None and gov.review_policy_version.pk != bound.pk:
        note += f"; its periodic reviews follow {gov.review_policy_version}'s cadence"
    return note + "."


def _sign_off_refused(user: Any, case: Case) -> str | None:
    """Why a person holding a role the quorum needs may not sign this version (segregation of
    duties: validated it, granted a waiver on it, ...), so the page explains the missing button."""
    if case.state != VersionState.PENDING_APPROVAL or not permissions.signing_roles(user, case):
        return None
    return permissions.reason_cannot_sign_off(user, case) or None


def marked_exploratory(rows: list[Evidence], case: Case) -> list[Evidence]:
    """The rows, each with ``exploratory`` set (what the pages and EvidenceSerializer show)."""
    for row in rows:
        row.exploratory = is_exploratory(row, case)  # type: ignore[attr-defined]  # for display
    return rows


def _state_note(version: ModelVersion) -> str | None:
    """For changes requested: the validator's reason and what the developer may do about it."""
    if version.state != VersionState.CHANGES_REQUESTED:
        return None
    event = (AuditEvent.objects.filter(action="version.request_changes",
                                       object_type="registry.modelversion",
                                       object_id=str(version.pk)).order_by("-seq").first())
    reason = event.payload.get("reason", "") if event is not None else ""
    asked = f"Changes requested: {reason}\n" if reason else ""
    return asked + CHANGES_REQUESTED_HELP
