"""Every permission rule of Assay, as predicates on a user and an object.

Views, the REST API (core.api.permissions), the admin and templates (the ``can`` template filter)
all ask these functions, so a rule is written once. Objects are duck-typed so that ``core`` imports
no app above it: a governed object exposes ``team_id``, ``owner_id`` and ``developer_ids``.

Visibility: data scientists and validators see their teams' objects plus what they own, develop or
are assigned to; review board members, risk officers, auditors and administrators see everything.
"""

from __future__ import annotations

from typing import Any

from core.models import Role

SEES_EVERYTHING = (Role.REVIEW_BOARD, Role.RISK_OFFICER, Role.AUDITOR, Role.ADMIN)
WRITER_ROLES = (Role.DATA_SCIENTIST, Role.VALIDATOR, Role.REVIEW_BOARD, Role.RISK_OFFICER, Role.ADMIN)


def is_authenticated(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def sees_everything(user: Any) -> bool:
    return is_authenticated(user) and user.has_role(*SEES_EVERYTHING)


def is_admin(user: Any) -> bool:
    return is_authenticated(user) and user.has_role(Role.ADMIN)


def is_auditor_only(user: Any) -> bool:
    """Auditors read everything and change nothing, unless they also hold a writing role."""
    return is_authenticated(user) and user.has_role(Role.AUDITOR) and not user.has_role(*WRITER_ROLES)


def is_connected(user: Any, obj: Any) -> bool:
    """The user owns or develops the object, or is assigned to it."""
    uid = user.pk
    return (
        getattr(obj, "owner_id", None) == uid
        or uid in getattr(obj, "developer_ids", ())
        or uid in getattr(obj, "assignee_ids", ())
    )


def can_view(user: Any, obj: Any) -> bool:
    """Whether the object exists for this user at all (if not: 404)."""
    if not is_authenticated(user):
        return False
    if sees_everything(user):
        return True
    return getattr(obj, "team_id", None) in user.team_ids or is_connected(user, obj)


def can_create_model(user: Any, team: Any = None) -> bool:
    if not is_authenticated(user):
        return False
    if is_admin(user):
        return True
    if not user.has_role(Role.DATA_SCIENTIST):
        return False
    return team is None or team.pk in user.team_ids


def can_edit_model(user: Any, model: Any) -> bool:
    """Data scientists of the model's team (or its owner/developers) and administrators."""
    if not can_view(user, model):
        return False
    if is_admin(user):
        return True
    return user.has_role(Role.DATA_SCIENTIST) and (
        model.team_id in user.team_ids or is_connected(user, model)
    )


def can_export_audit(user: Any) -> bool:
    return is_authenticated(user) and user.has_role(Role.AUDITOR, Role.ADMIN)


def can_manage_accounts(user: Any) -> bool:
    return is_admin(user)


def can_use_admin(user: Any) -> bool:
    """Administrators manage; auditors may open the admin read-only."""
    return is_authenticated(user) and user.has_role(Role.ADMIN, Role.AUDITOR)


def reason_cannot_edit_model(user: Any, model: Any) -> str:
    if is_auditor_only(user):
        return "Auditors have read-only access: they can read and export but not change models."
    return (
        "Only data scientists of the model's team, its owner and developers, and administrators "
        "can change this model."
    )


# ---------------------------------------------------------------------------------------------
# Governance: intake and tier, the version lifecycle, independent validation and sign-offs.
#
# ``case`` is a version's governance facts (governance.gates.Case): ``state``, ``team_id``,
# ``owner_id``, ``developer_ids``, ``assignee_ids``, ``submitter_id``, ``validator_id``,
# ``signer_ids`` and ``required_roles`` (role -> how many signatures the tier needs).

def can_manage_policies(user: Any) -> bool:
    return is_admin(user)


def can_edit_intake(user: Any, model: Any) -> bool:
    """The model's editors answer the intake; risk officers may correct it."""
    return can_edit_model(user, model) or (
        can_view(user, model) and user.has_role(Role.RISK_OFFICER))


def reason_cannot_decide_tier_override(user: Any, model: Any, requester_id: int | None) -> str:
    """A tier override needs a risk officer's sign-off: not the model's own people, nor the
    person who asked for it (four eyes)."""
    if not (is_authenticated(user) and user.has_role(Role.RISK_OFFICER)):
        return "Only a risk officer can approve or reject a tier override."
    if model.owner_id == user.pk or user.pk in model.developer_ids:
        return "You own or develop this model; another risk officer must decide its tier."
    if requester_id == user.pk:
        return "You asked for this override; another risk officer must approve it."
    return ""


def independence_conflict(person: Any, case: Any) -> str:
    """What ties a person to the version ("own this model", ...); empty when independent."""
    if case.owner_id == person.pk:
        return "own this model"
    if person.pk in case.developer_ids:
        return "develop this model"
    if case.submitter_id == person.pk:
        return "submitted this version"
    return ""


def reason_not_independent(user: Any, case: Any) -> str:
    """Why the user is not independent of the version (empty when independent)."""
    conflict = independence_conflict(user, case)
    return f"You {conflict}, so you are not independent of it." if conflict else ""


def can_submit_version(user: Any, case: Any) -> bool:
    return can_edit_model(user, case)


def reason_cannot_assign_validator(user: Any, case: Any, validator: Any) -> str:
    """Risk officers assign any independent validator; a validator may take the version
    themselves (open queue)."""
    if not is_authenticated(user):
        return "Sign in first."
    if not user.has_role(Role.RISK_OFFICER) and not (
            user.pk == validator.pk and user.has_role(Role.VALIDATOR)):
        return ("Only risk officers assign validators; validators may assign themselves from "
                "the open queue.")
    if not (validator.is_active and validator.has_role(Role.VALIDATOR)):
        return f"{validator.username} is not an active validator."
    conflict = independence_conflict(validator, case)
    if conflict:
        return (f"{validator.username} cannot validate this version: they {conflict}, so they "
                "are not independent of it.")
    return ""


def can_assign_validator(user: Any, case: Any) -> bool:
    return is_authenticated(user) and (
        user.has_role(Role.RISK_OFFICER)
        or (user.has_role(Role.VALIDATOR) and not reason_not_independent(user, case)))


def reason_cannot_review(user: Any, case: Any) -> str:
    if not (is_authenticated(user) and user.has_role(Role.VALIDATOR)):
        return "Only validators write validation reviews."
    if case.validator_id != user.pk:
        return "Only the validator assigned to this version can review it."
    return reason_not_independent(user, case)


def can_review(user: Any, case: Any) -> bool:
    return not reason_cannot_review(user, case)


def signing_roles(user: Any, case: Any) -> list[str]:
    """The required roles this user holds and could sign in."""
    if not is_authenticated(user):
        return []
    return [role for role in case.required_roles if user.has_role(role)]


def reason_cannot_sign_off(user: Any, case: Any) -> str:
    """Segregation of duties for sign-offs (empty when the user may sign)."""
    if not is_authenticated(user):
        return "Sign in first."
    if not signing_roles(user, case):
        needed = ", ".join(Role(r).label.lower() for r in case.required_roles) or "nobody"
        return f"This version's tier needs sign-offs from: {needed}; you hold none of these roles."
    if user.pk in case.signer_ids:
        return "You have already signed this version; nobody signs twice."
    if case.validator_id == user.pk:
        return "You validated this version; a validator cannot also sign it off."
    return reason_not_independent(user, case)


def can_sign_off(user: Any, case: Any) -> bool:
    return not reason_cannot_sign_off(user, case)


def can_decide_servability(user: Any, case: Any) -> bool:
    """Suspending and reinstating an approved version is a risk officer's call."""
    return is_authenticated(user) and user.has_role(Role.RISK_OFFICER)


def can_retire(user: Any, case: Any) -> bool:
    return is_authenticated(user) and (
        user.has_role(Role.RISK_OFFICER) or case.owner_id == user.pk)


def can_record_evidence(user: Any, case: Any) -> bool:
    """The model's team (evaluations they launch), its validator and risk officers."""
    if not is_authenticated(user) or is_auditor_only(user):
        return False
    return (can_edit_model(user, case) or case.validator_id == user.pk
            or user.has_role(Role.RISK_OFFICER, Role.ADMIN))


# ---------------------------------------------------------------------------------------------
# Governance part 2: findings and effective challenge, waivers, periodic review, the board.
#
# ``case`` is again a version's governance facts (governance.gates.Case). A finding's own people
# are passed as ids: ``finding_owner_id`` (who must answer), ``raised_by_id`` (who raised it).

def reason_cannot_raise_finding(user: Any, case: Any) -> str:
    """Validators and risk officers raise findings, if independent of the version."""
    if not (is_authenticated(user) and user.has_role(Role.VALIDATOR, Role.RISK_OFFICER)):
        return "Only validators and risk officers raise findings."
    return reason_not_independent(user, case)


def reason_cannot_answer_finding(user: Any, case: Any, finding_owner_id: int) -> str:
    """The finding's owner answers it; the model's owner and developers may answer for them."""
    if not is_authenticated(user) or is_auditor_only(user):
        return "Auditors have read-only access."
    if user.pk == finding_owner_id or case.owner_id == user.pk or user.pk in case.developer_ids:
        return ""
    return "Only the finding's owner and the model's owner and developers propose a remediation."


def reason_cannot_close_finding(user: Any, case: Any, raised_by_id: int | None) -> str:
    """Closing (or sending back) a remediation is the validator's call: the version's validator
    or the validator who raised the finding, independent of the model."""
    if not (is_authenticated(user) and user.has_role(Role.VALIDATOR)):
        return "Only validators close findings or send a remediation back."
    if user.pk not in (case.validator_id, raised_by_id):
        return "Only the version's validator or the validator who raised the finding closes it."
    return reason_not_independent(user, case)


def reason_cannot_accept_risk(user: Any, case: Any) -> str:
    """Accepting a finding as a risk is a risk officer's decision, not the model's own people's."""
    if not (is_authenticated(user) and user.has_role(Role.RISK_OFFICER)):
        return "Only a risk officer accepts a finding as a risk."
    return reason_not_independent(user, case)


def can_discuss_finding(user: Any, case: Any) -> bool:
    """Everyone who sees the version may take part in the discussion, except read-only auditors."""
    return is_authenticated(user) and not is_auditor_only(user) and can_view(user, case)


def reason_cannot_grant_waiver(user: Any, case: Any) -> str:
    """A waiver's approver is a risk officer who does not own, develop or submit the model."""
    if not (is_authenticated(user) and user.has_role(Role.RISK_OFFICER)):
        return "Only a risk officer grants waivers."
    return reason_not_independent(user, case)


def can_revoke_waiver(user: Any, case: Any) -> bool:
    return is_authenticated(user) and user.has_role(Role.RISK_OFFICER)


def reason_cannot_review_periodically(user: Any, case: Any) -> str:
    """Periodic reviews are validations: by a validator independent of the version."""
    if not (is_authenticated(user) and user.has_role(Role.VALIDATOR)):
        return "Only validators conclude periodic reviews."
    return reason_not_independent(user, case)


def can_view_board(user: Any) -> bool:
    """The oversight board (overdue reviews, open high findings, waivers, models by tier)."""
    return is_authenticated(user) and user.has_role(Role.RISK_OFFICER, Role.REVIEW_BOARD,
                                                    Role.AUDITOR, Role.ADMIN)
