"""Template filters for people-facing display, and the tags of the pages' extension points.

Permission questions are answered by the views with core.permissions and passed to templates as
booleans (``can_edit``), so a template never decides a rule itself.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe

from core import pages

if TYPE_CHECKING:
    from core.models import User

register = template.Library()


@register.filter
def role_names(user: User) -> str:
    from core.models import Role

    return ", ".join(str(Role(r).label) for r in sorted(user.roles))


@register.filter
def tensor_shape(shape: list[int | str | None] | None) -> str:
    """An ONNX shape for people: ``[None, 1]`` reads ``any \u00d7 1``; a named dimension keeps its name."""
    if not shape:
        return "scalar"
    return " \u00d7 ".join("any" if dim is None else str(dim) for dim in shape)


# --- extension points (core.pages): panels and navigation links added by apps higher up ---------

@register.simple_tag(takes_context=True)
def panels(context: template.Context, slot: str) -> str:
    """The panels apps added to this slot of the page, each rendered with the page's context, as
    ``{% include %}`` would (what a panel sets stays inside it)."""
    engine = context.template.engine  # type: ignore[union-attr]  # set while a page renders
    out = []
    for name in pages.panels(slot):
        with context.push():
            out.append(engine.get_template(name).render(context))
    return mark_safe("".join(out))  # noqa: S308 - rendered templates, escaped by the engine


class _ShownLink:
    """A navigation link as the header shows it to one user; the count is asked for once, and
    only if the header shows it."""

    def __init__(self, link: pages.NavLink, user: User) -> None:
        self.link, self.user = link, user
        self.label, self.count_id, self.count_title = link.label, link.count_id, link.count_title

    @cached_property
    def url(self) -> str:
        return reverse(self.link.url_name)

    @cached_property
    def count(self) -> int:
        return self.link.count(self.user) if self.link.count is not None else 0


@register.simple_tag(takes_context=True)
def nav_links(context: template.Context) -> list[_ShownLink]:
    """The links apps added to the header, for the signed-in user."""
    user = context["user"]
    return [_ShownLink(link, user) for link in pages.nav_links()
            if link.shown is None or link.shown(user)]
