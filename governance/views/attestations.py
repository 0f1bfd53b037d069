"""Owners' attestations: a model's attestation page (its standing, the owner's form, the
history) and the list of attestations due across the models one may see."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from core import pages, permissions
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from governance import services
from governance.forms import OwnerAttestationForm
from governance.models import OwnerAttestation
from governance.services.attestations import OK, OVERDUE
from governance.views.common import visible_model
from registry.models import RegisteredModel


@login_required
def attest(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = visible_model(request, slug)
    form = OwnerAttestationForm(request.POST or None)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "governance/attest.html", {
            "model": model, "form": form, "standing": services.attestation_standing(model),
            "can_attest": not permissions.reason_cannot_attest_model(request.user, model),
            "history": OwnerAttestation.objects.filter(model=model).select_related(
                "attested_by", "policy_version__policy")}, status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: services.owner_attestation_record(
            actor=request.user, model=model, **form.cleaned_data),
        success=lambda row: f"Attested. The next attestation is due on {row.next_due_on}.",
        done=request.path, failure=page)


@login_required
def attestation_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Attestations due or overdue on the models the user may see (``?all=1``: every tiered
    model), the most overdue first."""
    show_all = request.GET.get("all") == "1"
    models = RegisteredModel.objects.visible_to(request.user).select_related("owner", "team")
    standings = [s for s in services.attestation_standings(models)
                 if show_all or s.status != OK]
    standings.sort(key=lambda s: (s.status != OVERDUE, s.due_on, s.model.name))
    return render(request, "governance/attestations.html", {
        "standings": standings, "show_all": show_all})
