"""Template filters for people-facing display.

Permission questions are answered by the views with core.permissions and passed to templates as
booleans (``can_edit``), so a template never decides a rule itself.
"""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


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
