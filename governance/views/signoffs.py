"""The sign-off page: a required signer signs a version pending approval with their password."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from core import pages, permissions
from core.errors import DomainError, Throttled, WrongPassword
from core.http import AuthenticatedHttpRequest
from core.net import client_ip
from governance import services
from governance.forms import SignOffForm
from governance.gates import case_for
from governance.models import workflow_url
from governance.status import version_status
from governance.views.common import refuse_on_get, workable_version


@login_required
def sign(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    version = workable_version(request, slug, number)
    case = case_for(version)
    refuse_on_get(request, permissions.reason_cannot_sign_off(request.user, case))
    form = SignOffForm(request.POST or None, roles=permissions.signing_roles(request.user, case))

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "governance/sign.html", {
            "version": version, "model": version.model, "form": form,
            "w": version_status(version, request.user)}, status=status)

    if request.method != "POST":
        return page()
    try:
        return pages.form_action(
            request, form=form, call=lambda: services.signoff_record(
                actor=request.user, version=version, client_ip=client_ip(request),
                **form.cleaned_data),
            success="Signed.", done=workflow_url(version), failure=page)
    except (WrongPassword, Throttled) as refusal:
        # Refused and recorded (and counted by the throttle) by the service; the decision and
        # comment stay on the form, only the password is asked for again.
        form.add_error("password", refusal.message)
        return page(status=refusal.status if isinstance(refusal, Throttled) else 422)
