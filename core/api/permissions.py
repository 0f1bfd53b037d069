"""DRF permission classes: the API's view of core.permissions, checked before a view reads its
input, so whoever may not do something gets 403 whatever they send, never field errors.

Both are in ``DEFAULT_PERMISSION_CLASSES``; a view opts in through two attributes naming its
actions (a viewset's action, or an APIView's lowercased HTTP method):

* ``auditor_writes``: the writes an auditor may make (their own tokens, their inbox, exports).
  Every other write answers 403 to an auditor who holds no writing role.
* ``admin_writes``: the writes only administrators may make, refused to anyone else with
  ``admin_writes_reason``.

The services check the same rules again (with the object in hand); these only make sure the
answer does not depend on the input. A refusal is recorded once, through ``core.audit.refuse``,
as ``attempted="<basename>.<action>"``.
"""

from __future__ import annotations

from typing import Any, NoReturn

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from core import permissions
from core.audit import refuse


def _action(request: Request, view: Any) -> str:
    return getattr(view, "action", None) or (request.method or "").lower()


def _refuse(request: Request, view: Any, reason: str, code: str) -> NoReturn:
    target = view.get_object() if getattr(view, "detail", False) else None  # unseen: 404
    attempted = f"{getattr(view, 'basename', type(view).__name__)}.{_action(request, view)}"
    actor = request.user if permissions.is_authenticated(request.user) else None
    refuse(actor, reason, attempted=attempted, target=target, code=code)


class AuditorsReadOnly(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if (request.method in SAFE_METHODS or not permissions.is_auditor_only(request.user)
                or _action(request, view) in getattr(view, "auditor_writes", ())):
            return True
        _refuse(request, view, "Auditors have read-only access: they can read and export, not "
                               "change anything.", permissions.READ_ONLY)


class AdminWrites(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if (request.method in SAFE_METHODS or permissions.is_admin(request.user)
                or _action(request, view) not in getattr(view, "admin_writes", ())):
            return True
        _refuse(request, view, getattr(view, "admin_writes_reason",
                                       "Only administrators can do this."), permissions.WRONG_ROLE)


class ManagesAppKeys(BasePermission):
    """The serving gateway's application keys: deployers and administrators manage them,
    auditors may read them, nobody else sees them."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if permissions.can_manage_app_keys(request.user) or (
                request.method in SAFE_METHODS and permissions.can_export_audit(request.user)):
            return True
        _refuse(request, view, "Only deployers and administrators manage application keys.",
                permissions.WRONG_ROLE)
