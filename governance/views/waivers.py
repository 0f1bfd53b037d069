"""Waiver pages: the list (risk officers revoke from it) and granting one on a version."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from core import pages, permissions
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from core.models import Role
from governance import services
from governance.forms import WaiverForm
from governance.gates import blocking_items, case_for
from governance.models import Finding, Waiver, workflow_url
from governance.views.common import refuse_on_get, workable_version


@login_required
def waiver_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    rows = Waiver.objects.visible_to(request.user).listed()[:500]
    return render(request, "governance/waivers.html", {
        "waivers": rows, "can_revoke": request.user.has_role(Role.RISK_OFFICER)})


@login_required
def waiver_grant(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    version = workable_version(request, slug, number)
    refuse_on_get(request, permissions.reason_cannot_grant_waiver(request.user,
                                                                  case_for(version)))
    form = WaiverForm(request.POST or None, blockers=blocking_items(version))

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "governance/waiver_grant.html", {
            "version": version, "model": version.model, "form": form}, status=status)

    def call() -> Waiver:
        data = dict(form.cleaned_data)
        kind, _, key = data.pop("covers").partition(":")
        target: dict[str, Any] = {"check": key} if kind == "evidence" else {
            "finding": Finding.objects.filter(pk=int(key), version=version).first()}
        return services.waiver_grant(actor=request.user, version=version, **target, **data)

    if request.method != "POST":
        return page()
    return pages.form_action(request, form=form, call=call, success="Waiver granted.",
                             done=workflow_url(version), failure=page)


@login_required
@require_POST
def waiver_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    waiver = get_object_or_404(Waiver.objects.visible_to(request.user), pk=pk)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        message = error.message if error is not None else ""
        messages.error(request, message)
        return render(request, "governance/waivers.html", {
            "waivers": Waiver.objects.visible_to(request.user).select_related(
                "version__model", "approved_by"), "error": message}, status=status)

    return pages.form_action(
        request, form=None, call=lambda: services.waiver_revoke(
            actor=request.user, waiver=waiver, reason=request.POST.get("reason", "")),
        success="Waiver revoked.", done="governance:waivers", failure=failure)
