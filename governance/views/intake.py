"""The intake page of a model: "is it a model?", the tiering questionnaire scored live, and tier
override requests and decisions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core import pages, permissions
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from governance import services
from governance.forms import (
    IntakeForm,
    OverrideDecisionForm,
    OverrideRequestForm,
    UseCaseForm,
)
from governance.gates import former_people_of
from governance.models import ModelIntake, PolicyVersion, Tool, UseCase
from governance.views.common import visible_model
from registry.models import RegisteredModel


def _intake_context(request: AuthenticatedHttpRequest, model: RegisteredModel,
                    **extra: Any) -> dict:
    intake = ModelIntake.objects.filter(model=model).select_related(
        "override__requested_by", "override__decided_by").first()
    pending = intake.pending_override if intake is not None else None
    policy = PolicyVersion.objects.current_for(model)
    return {"model": model, "intake": intake, "policy": policy,
            "can_edit": permissions.can_edit_intake(request.user, model),
            "pending": pending,
            "can_decide": pending is not None and not permissions.reason_cannot_decide_tier_override(
                request.user, model, pending.requested_by_id, former_people_of(model)),
            "override_form": OverrideRequestForm(), "decision_form": OverrideDecisionForm(),
            "use_cases": list(UseCase.objects.filter(model=model).select_related("created_by")),
            "use_case_form": UseCaseForm(definition=policy.rules if policy else None),
            "tool": Tool.objects.filter(model=model).first(),
            **extra}


def _intake_form(request: AuthenticatedHttpRequest, model: RegisteredModel, *,
                 bound: bool = True) -> IntakeForm:
    intake = ModelIntake.objects.filter(model=model).first()
    policy = PolicyVersion.objects.current_for(model)
    initial = {}
    if intake is not None:
        initial = {"is_model": "yes" if intake.is_model else "no",
                   "rationale": intake.rationale,
                   **{f"q_{k}": v for k, v in intake.answers.items()}}
    return IntakeForm((request.POST or None) if bound else None, initial=initial,
                      definition=policy.rules if policy else None)


@login_required
def intake(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = visible_model(request, slug)
    form = _intake_form(request, model)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        # The service names answers "answers.<question>"; the form's fields are "q_<question>".
        for key, msgs in (error.fields if error is not None else {}).items():
            question = key.removeprefix("answers.")
            if question in form.question_keys:
                form.add_error_for(question, msgs[0])
        return render(request, "governance/intake.html",
                      _intake_context(request, model, form=form), status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: services.intake_record(
            actor=request.user, model=model, is_model=form.cleaned_data["is_model"],
            rationale=form.cleaned_data["rationale"], answers=form.answers()),
        success="Intake recorded.", done=_intake_url(model), failure=page)


@login_required
@require_POST
def intake_score(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """htmx: the scoring of the answers so far, under the current policy (nothing is stored)."""
    model = visible_model(request, slug)
    policy = PolicyVersion.objects.current_for(model)
    scoring = None
    if policy is not None:
        answers = {q["key"]: request.POST.get(f"q_{q['key']}", "") for q in policy.rules.questions}
        if not policy.rules.answer_errors(answers):
            scoring = policy.rules.score(answers)
    return render(request, "governance/intake.html#scoring", {"scoring": scoring,
                                                              "policy": policy})


@login_required
@require_POST
def override_request(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = visible_model(request, slug)
    form = OverrideRequestForm(request.POST)
    return pages.form_action(
        request, form=form, call=lambda: services.tier_override_request(
            actor=request.user, model=model, **form.cleaned_data),
        success="Override requested; a risk officer must approve it.",
        done=_intake_url(model), failure=lambda status, _: render(
            request, "governance/intake.html", _intake_context(
                request, model, form=_intake_form(request, model), override_form=form),
            status=status))


@login_required
@require_POST
def override_decide(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = visible_model(request, slug)
    form = OverrideDecisionForm(request.POST)
    return pages.form_action(
        request, form=form, call=lambda: services.tier_override_decide(
            actor=request.user, model=model, **form.cleaned_data),
        success="Decision recorded.", done=_intake_url(model), failure=lambda status, _: render(
            request, "governance/intake.html", _intake_context(
                request, model, form=_intake_form(request, model), decision_form=form),
            status=status))


def _intake_url(model: RegisteredModel) -> str:
    return reverse("governance:intake", kwargs={"slug": model.slug})


@login_required
@require_POST
def use_case_add(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Add a use case, tiered by the current questionnaire; a more critical one re-tiers the
    model."""
    model = visible_model(request, slug)
    policy = PolicyVersion.objects.current_for(model)
    form = UseCaseForm(request.POST, definition=policy.rules if policy else None)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        for key, msgs in (error.fields if error is not None else {}).items():
            question = key.removeprefix("answers.")
            if question in form.question_keys:
                form.add_error(f"q_{question}", msgs[0])
        return render(request, "governance/intake.html", _intake_context(
            request, model, form=_intake_form(request, model, bound=False),
            use_case_form=form), status=status)

    def success(use_case: UseCase) -> str:
        intake = ModelIntake.objects.get(model=model)
        return (f"Use case \"{use_case.name}\" added at tier {use_case.tier}; the model's tier "
                f"in force is {intake.tier}.")

    return pages.form_action(
        request, form=form, call=lambda: services.use_case_add(
            actor=request.user, model=model, name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            business_line=form.cleaned_data["business_line"], answers=form.answers()),
        success=success, done=_intake_url(model), failure=page)


@login_required
@require_POST
def use_case_remove(request: AuthenticatedHttpRequest, slug: str, pk: int) -> HttpResponse:
    model = visible_model(request, slug)
    use_case = get_object_or_404(UseCase.objects.filter(model=model), pk=pk)
    return pages.form_action(
        request, form=None, call=lambda: services.use_case_remove(actor=request.user,
                                                                  use_case=use_case),
        success=lambda tier: f"Use case removed; the model's tier in force is {tier['after']}.",
        done=_intake_url(model), failure=lambda status, error: render(
            request, "governance/intake.html", _intake_context(
                request, model, form=_intake_form(request, model, bound=False),
                error=error.message if error is not None else ""), status=status))
