"""The policy list: every version of every governance policy, and (administrators) which one is
current."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from core import pages, permissions
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from governance import services
from governance.models import PolicyVersion


def _policies_page(request: AuthenticatedHttpRequest, *, status: int = 200,
                   error: str = "") -> HttpResponse:
    versions = PolicyVersion.objects.select_related("policy", "created_by").order_by(
        "policy__name", "-number")
    return render(request, "governance/policies.html", {
        "versions": versions, "can_manage": permissions.can_manage_policies(request.user),
        "error": error}, status=status)


@login_required
def policies(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _policies_page(request)


@login_required
@require_POST
def policy_make_current(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    pv = get_object_or_404(PolicyVersion, pk=pk)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        message = error.message if error is not None else ""
        messages.error(request, message)
        return _policies_page(request, status=status, error=message)

    return pages.form_action(
        request, form=None, call=lambda: services.policy_version_make_current(
            actor=request.user, policy_version=pv),
        success=f"{pv} is now the current policy.", done="governance:policies",
        failure=failure)
