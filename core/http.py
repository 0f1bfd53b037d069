"""The request as Assay's views see it, for the type checker.

Django types ``request.user`` as ``User | AnonymousUser`` and knows nothing of what middleware
adds to a request. Past ``login_required`` (pages) or DRF's ``IsAuthenticated`` (the API) the user
is a ``User``, and views say so by annotating their request with these classes. They only
describe: Django and DRF build the requests, and nothing makes an instance of these classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from rest_framework.request import Request

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from core.models import User


class AssayHttpRequest(HttpRequest):
    """Any request, with what Assay's middleware adds: ``htmx`` (django-htmx) and the id that
    ``RequestIdMiddleware`` gives it."""

    htmx: HtmxDetails
    request_id: str


class AuthenticatedHttpRequest(AssayHttpRequest):
    """A page's request past ``login_required``."""

    user: User


class AuthenticatedRequest(Request):
    """An API request past ``IsAuthenticated`` (every viewset's default permission)."""

    user: User
