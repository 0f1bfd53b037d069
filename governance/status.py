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
)
from governance.models import Evidence, ValidationReview
from governance.services.lifecycle import CHANGES_REQUESTED_HELP, available_actions
from registry.models import ModelVersion, VersionState


def version_status(version: ModelVersion, user: Any) -> dict[str, Any]:
    """Everything the status shows, computed once (the API's WorkflowSerializer gives its shape)."""
    case = case_for(version)
    gov = governance_of(version)
    standings = evidence_standings(version, case)
    review = ValidationReview.objects.filter(version=version).first()
    return {
        "version_id": version.pk, "model": version.model.slug, "number": version.number,
        "state": version.state, "servable": version.is_servable(),
        "policy_version": str(case.policy_version) if case.policy_version else None,
        "policy_version_id": case.policy_version.pk if case.policy_version else None,
        "policy_bound": gov is not None, "tier": case.tier,
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
        "actions": available_actions(user, version, case),
        "note": _state_note(version),
        "sign_off_refused": _sign_off_refused(user, case),
    }


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
