"""The vendor page of a model: its due-diligence checklist (answered by the owner, reviewed by
the validator of the version in validation), contract and contingency plan, and releases."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core import pages, permissions
from core.errors import Conflict, DomainError
from core.http import AuthenticatedHttpRequest
from core.models import Role
from governance import services
from governance.forms import DiligenceAnswerForm, DiligenceReviewForm, VendorReleaseForm
from governance.gates import case_for
from governance.models import DiligenceAnswer, VendorRelease
from governance.services.vendor import (
    diligence_items_of,
    releases_awaiting_version,
    version_in_flight,
)
from governance.views.common import visible_model
from registry.models import RegisteredModel, VersionState


def _context(request: AuthenticatedHttpRequest, model: RegisteredModel,
             **extra: Any) -> dict[str, Any]:
    answers = {a.item: a for a in DiligenceAnswer.objects.filter(model=model)
               .select_related("answered_by", "reviewed_by")}
    items = [{**item, "answer": answers.get(item["key"])} for item in diligence_items_of(model)]
    in_flight = version_in_flight(model)
    reviewing = in_flight if in_flight is not None \
        and in_flight.state == VersionState.IN_VALIDATION \
        and not permissions.reason_cannot_review(request.user, case_for(in_flight)) else None
    user = request.user
    return {"model": model, "items": items, "version": in_flight, "reviewing": reviewing,
            "can_answer": model.is_vendor and permissions.can_edit_model(user, model),
            "can_record_release": model.is_vendor and (
                permissions.can_edit_model(user, model) or user.has_role(Role.RISK_OFFICER)),
            "releases": VendorRelease.objects.filter(model=model).select_related("recorded_by"),
            "awaiting": releases_awaiting_version(model),
            "answer_form": DiligenceAnswerForm(), "review_form": DiligenceReviewForm(),
            "release_form": VendorReleaseForm(), **extra}


def _url(model: RegisteredModel) -> str:
    return reverse("governance:vendor", kwargs={"slug": model.slug})


@login_required
def vendor(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = visible_model(request, slug)
    return render(request, "governance/vendor.html", _context(request, model))


def _failure(request: AuthenticatedHttpRequest, model: RegisteredModel, name: str,
             form: Any) -> Any:
    def page(status: int, error: DomainError | None = None) -> HttpResponse:
        return render(request, "governance/vendor.html",
                      _context(request, model, **{name: form}, error=error), status=status)
    return page


@login_required
@require_POST
def diligence_answer(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = visible_model(request, slug)
    form = DiligenceAnswerForm(request.POST)
    return pages.form_action(
        request, form=form, call=lambda: services.diligence_answer(
            actor=request.user, model=model, **form.cleaned_data),
        success="Answer recorded; it awaits the validator's review.", done=_url(model),
        failure=_failure(request, model, "answer_form", form))


@login_required
@require_POST
def diligence_review(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = visible_model(request, slug)
    form = DiligenceReviewForm(request.POST)
    version = version_in_flight(model)

    def call() -> Any:
        if version is None:
            raise Conflict(f"No version of {model.name} is in validation: due diligence is "
                           "reviewed by the validator of a version in validation.")
        return services.diligence_review(actor=request.user, version=version,
                                         **form.cleaned_data)
    return pages.form_action(request, form=form, call=call, success="Review recorded.",
                             done=_url(model),
                             failure=_failure(request, model, "review_form", form))


@login_required
@require_POST
def release_record(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = visible_model(request, slug)
    form = VendorReleaseForm(request.POST)
    return pages.form_action(
        request, form=form, call=lambda: services.vendor_release_record(
            actor=request.user, model=model, **form.cleaned_data),
        success="Release recorded; the owner is told to register a new version.",
        done=_url(model), failure=_failure(request, model, "release_form", form))
