from __future__ import annotations

from django.http import HttpRequest

from core import permissions


def navigation(request: HttpRequest) -> dict[str, dict[str, bool]]:
    """What the navigation bar offers, by role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    return {
        "nav": {
            "admin": permissions.can_use_admin(user),
            "audit": permissions.can_read_audit(user),
            "people": permissions.can_manage_accounts(user),
            "app_keys": permissions.can_manage_app_keys(user),
            "read_only": permissions.is_auditor_only(user),
        }
    }
