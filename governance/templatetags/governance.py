"""Template access to a version's governance status and a model's intake, for the panels the
registry's pages include."""

from __future__ import annotations

from typing import Any

from django import template

from governance.models import ModelIntake, Notification
from governance.status import version_status

register = template.Library()


@register.simple_tag(takes_context=True)
def governance_status(context: template.Context, version: Any) -> dict[str, Any]:
    return version_status(version, context["request"].user)


@register.simple_tag
def model_intake(model: Any) -> ModelIntake | None:
    return ModelIntake.objects.filter(model=model).first()


@register.filter
def label(value: str) -> str:
    """'pending_approval' -> 'pending approval'."""
    return str(value).replace("_", " ")


@register.simple_tag
def unread_notifications(user: Any) -> int:
    """The header's unread badge (one query)."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
