"""Template access to the permission predicates: ``{% if user|can:"edit_model"|of:model %}``."""

from __future__ import annotations

from typing import Any

from django import template

from core import permissions

register = template.Library()


@register.filter
def can(user: Any, rule: str) -> tuple[Any, str]:
    return (user, rule)


@register.filter
def of(pair: tuple[Any, str], obj: Any) -> bool:
    user, rule = pair
    predicate = getattr(permissions, f"can_{rule}")
    return bool(predicate(user, obj))


@register.filter
def role_names(user: Any) -> str:
    from core.models import Role

    return ", ".join(str(Role(r).label) for r in sorted(user.roles))


@register.filter
def tensor_shape(shape: list | None) -> str:
    """An ONNX shape for people: ``[None, 1]`` reads ``any \u00d7 1``; a named dimension keeps its name."""
    if not shape:
        return "scalar"
    return " \u00d7 ".join("any" if dim is None else str(dim) for dim in shape)
