"""The work lists: each person's queue (the validation queue page) and the oversight board."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core import permissions
from core.errors import PermissionRefused
from core.http import AuthenticatedHttpRequest
from core.models import Role
from governance import worklists


@login_required
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Work waiting for the user: the open validation queue, their validations, their sign-offs,
    the findings they must answer or close, and their teams' models."""
    user = request.user
    work = worklists.my_work(user)
    return render(request, "governance/queue.html", {
        "open_queue": worklists.validation_queue()
        if user.has_role(Role.VALIDATOR, Role.RISK_OFFICER) else None,
        "mine": work.validations, "to_sign": work.signoffs, "my_findings": work.findings,
        "team_models": work.team_models, "today": timezone.localdate(),
        "can_view_board": permissions.can_view_board(user)})


@login_required
def board(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not permissions.can_view_board(request.user):
        raise PermissionRefused("The board is for risk officers, the review board, auditors and "
                                "administrators.")
    return render(request, "governance/board.html", {"b": worklists.board()})
