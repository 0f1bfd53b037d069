"""What every app's pages share: one way to run a form's action, and the extension points through
which apps higher up add to pages they do not own.

**A form's action.** A page's form posts to a view that checks the form, calls one service and
redirects with a message, or shows the page again with what went wrong. ``form_action`` is the
body of every such view, so each view only says which form, which service, where to go and how
to show the page.

**Extension points.** Imports point one way (core ← registry ← governance ← …), and templates
count: a registry page must not include governance's templates by name, nor may the header in
core's ``base.html`` know governance's pages. So a page names a slot (``{% panels
"registry.version_detail" %}``, a core template tag) and an app higher up puts templates into it
from its ``AppConfig.ready()`` (``add_panel``); the header shows the links apps add the same way
(``add_nav_link``), each with an optional count beside it (governance's unread notifications).
A page with tabs (the model page) names its tabs' slot the same way: each app adds the tab whose
content it owns (``add_tab``), with the function that reads that content for the person asking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from core.errors import DomainError, NotVisible, PermissionRefused
from core.forms import add_domain_error

if TYPE_CHECKING:
    from core.models import User

Result = TypeVar("Result")

# --- a form's action ------------------------------------------------------------------------


def form_action(request: HttpRequest, *, form: forms.Form | None, call: Callable[[], Result],
                done: str | Callable[[Result], HttpResponse],
                failure: Callable[[int, DomainError | None], HttpResponse],
                success: str | Callable[[Result], str] = "") -> HttpResponse:
    """Run a page's action: validate ``form`` (None: the action has none), then ``call`` the
    service, which reads the form's cleaned data.

    On success, flash ``success`` (text, or made from the service's result) and answer ``done``:
    a URL or URL name to redirect to, or a function of the result returning the response. When
    the form is invalid, answer ``failure(400, None)``; when the service raises a DomainError,
    put it on the form and answer ``failure(error.status, error)`` — the page shown again, with
    the status the API would answer.

    A permission refusal is not a form error: it propagates to DomainErrorMiddleware, which
    answers with its status and reason and records it unless the service already did.
    """
    if form is not None and not form.is_valid():
        return failure(400, None)
    try:
        result = call()
    except (PermissionRefused, NotVisible):
        raise
    except DomainError as error:
        if form is not None:
            add_domain_error(form, error)
        return failure(error.status, error)
    message = success(result) if callable(success) else success
    if message:
        messages.success(request, message)
    return done(result) if callable(done) else redirect(done)


# --- extension points -----------------------------------------------------------------------


@dataclass(frozen=True)
class NavLink:
    """A link in the header's navigation, added by an app."""

    label: str
    url_name: str
    # A number shown beside the label for the signed-in user (nothing shown when 0), the id of
    # its element (for htmx to update it out of band) and its tooltip.
    count: Callable[[User], int] | None = None
    count_id: str = ""
    count_title: str = ""
    # Whom the link is for (everyone signed in when None): navigation names what people do.
    shown: Callable[[User], bool] | None = None


@dataclass(frozen=True)
class Tab:
    """A tab of a page that shows one object (the model page), added by the app that owns what
    the tab shows. Each tab is a URL of its own (``key`` is its path segment; the first tab's is
    ""), so it works without JavaScript and can be bookmarked."""

    key: str
    label: str
    # Rendered inside the page with the page's context and ``context(request, obj)``.
    template: str
    context: Callable[[HttpRequest, Any], dict[str, Any]] | None = None
    # Tabs show in this order (the registry's own tabs are 0-19, then 20, 30...).
    order: int = 100


_nav_links: list[NavLink] = []
_panels: dict[str, list[str]] = {}
_tabs: dict[str, dict[str, Tab]] = {}


def add_nav_link(link: NavLink) -> None:
    """Show a link in the header. Call from ``AppConfig.ready()``: links show in the order added,
    which is the order of INSTALLED_APPS."""
    if link not in _nav_links:
        _nav_links.append(link)


def nav_links() -> tuple[NavLink, ...]:
    return tuple(_nav_links)


def add_panel(slot: str, template: str) -> None:
    """Render ``template`` where a page names ``slot`` (``{% panels slot %}``), with the page's
    context. Call from ``AppConfig.ready()``; a slot's panels show in the order added."""
    names = _panels.setdefault(slot, [])
    if template not in names:
        names.append(template)


def panels(slot: str) -> tuple[str, ...]:
    return tuple(_panels.get(slot, ()))


def add_tab(page: str, tab: Tab) -> None:
    """Add ``tab`` to the tabs of ``page`` (e.g. "registry.model"). Call from
    ``AppConfig.ready()``; a key names one tab of a page."""
    _tabs.setdefault(page, {})[tab.key] = tab


def tabs(page: str) -> tuple[Tab, ...]:
    """The tabs of ``page``, in their order."""
    return tuple(sorted(_tabs.get(page, {}).values(), key=lambda t: (t.order, t.key)))
