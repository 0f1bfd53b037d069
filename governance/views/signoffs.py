"""The sign-off page: a required signer signs a version pending approval with an electronic
signature: their password, or under single sign-on a fresh sign-in at the identity provider
(core.sso.reauth), from which the browser comes back here with ``?reauth=<key>``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from core import pages, permissions
from core.errors import DomainError, Throttled, WrongPassword
from core.http import AuthenticatedHttpRequest
from core.net import client_ip
from core.sso import reauth
from core.sso.provider import provider_name
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
    at_provider = reauth.signs_at_provider(request.user)
    roles = permissions.signing_roles(request.user, case)
    returned = request.GET.get("reauth", "") if at_provider else ""
    kept, proof, problem = reauth.reauth_take(request, returned) if returned else (None, None, "")
    if returned and kept is None:
        messages.error(request, "That sign-in at the identity provider belongs to no sign-off in "
                                "progress (it was used already). Sign again.")
    form = SignOffForm(request.POST or kept or None, roles=roles,
                       signs_at_provider=at_provider)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "governance/sign.html", {
            "version": version, "model": version.model, "form": form,
            "at_provider": at_provider, "provider": provider_name(),
            "w": version_status(version, request.user)}, status=status)

    if at_provider and request.method == "POST":
        def go_to_provider() -> str:
            services.signoff_prepare(actor=request.user, version=version, **form.cleaned_data)
            return reauth.reauth_begin(request, return_to=request.path, kept=form.cleaned_data)

        return pages.form_action(request, form=form, call=go_to_provider,
                                 done=HttpResponseRedirect, failure=page)
    if problem:
        # The provider did not confirm (or its answer was not accepted): nothing signed, the
        # decision and comment stay on the form.
        form.is_valid()
        form.add_error(None, problem)
        return page(status=422)
    if request.method != "POST" and proof is None:
        return page()
    try:
        return pages.form_action(
            request, form=form, call=lambda: services.signoff_record(
                actor=request.user, version=version, client_ip=client_ip(request),
                reauthentication=proof, **form.cleaned_data),
            success="Signed.", done=workflow_url(version), failure=page)
    except (WrongPassword, Throttled) as refusal:
        # Refused and recorded (and counted by the throttle) by the service; the decision and
        # comment stay on the form, only the signature is asked for again.
        form.add_error("password" if "password" in form.fields else None, refusal.message)
        return page(status=refusal.status if isinstance(refusal, Throttled) else 422)
