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
