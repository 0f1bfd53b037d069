"""Governance pages: intake and tiering, a version's workflow, the review form, the sign-off page,
the validation queue and the policy list. They call the same services as the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core import permissions
from core.errors import DomainError, PermissionRefused
from core.forms import add_domain_error
from core.models import Role
from core.net import client_ip
from governance import queues, services
from governance.api.serializers import workflow_data
from governance.forms import (
    AssignForm,
    IntakeForm,
    OverrideDecisionForm,
    OverrideRequestForm,
    ReasonForm,
    ReviewForm,
    SignOffForm,
)
from governance.gates import case_for, former_people_of, governance_of, workable_versions
from governance.models import ModelIntake, PolicyVersion, VersionGovernance
from registry.models import ModelVersion, RegisteredModel, VersionState


def _attempt(request: HttpRequest, form: forms.Form | None, call: Callable[[], Any]
             ) -> tuple[Any, DomainError | None]:
    """Run a service call: (result, None), or (None, the domain error, shown on the form).

    A permission refusal is not a form error: it propagates to DomainErrorMiddleware, which
    answers with its status and reason and records it unless the service already did.
    """
    try:
        return call(), None
    except PermissionRefused:
        raise
    except DomainError as exc:
        if form is not None:
            add_domain_error(form, exc)
        return None, exc


def _model(request: HttpRequest, slug: str) -> RegisteredModel:
    return get_object_or_404(RegisteredModel.objects.visible_to(request.user), slug=slug)


def _version(request: HttpRequest, slug: str, number: int) -> ModelVersion:
    return get_object_or_404(workable_versions(request.user), model__slug=slug, number=number)


# --- intake ------------------------------------------------------------------------------------

def _intake_context(request: HttpRequest, model: RegisteredModel, **extra: Any) -> dict:
    intake = ModelIntake.objects.filter(model=model).select_related(
        "override__requested_by", "override__decided_by").first()
    pending = intake.pending_override if intake is not None else None
    policy = PolicyVersion.objects.current()
    return {"model": model, "intake": intake, "policy": policy,
            "can_edit": permissions.can_edit_intake(request.user, model),
            "pending": pending,
            "can_decide": pending is not None and not permissions.reason_cannot_decide_tier_override(
                request.user, model, pending.requested_by_id, former_people_of(model)),
            "override_form": OverrideRequestForm(), "decision_form": OverrideDecisionForm(),
            **extra}


def _intake_form(request: HttpRequest, intake: ModelIntake | None) -> IntakeForm:
    policy = PolicyVersion.objects.current()
    initial = {}
    if intake is not None:
        initial = {"is_model": "yes" if intake.is_model else "no",
                   "rationale": intake.rationale,
                   **{f"q_{k}": v for k, v in intake.answers.items()}}
    return IntakeForm(request.POST or None, initial=initial,
                      definition=policy.rules if policy else None)


@login_required
def intake(request: HttpRequest, slug: str) -> HttpResponse:
    model = _model(request, slug)
    current = ModelIntake.objects.filter(model=model).first()
    form = _intake_form(request, current)
    if request.method == "POST":
        if form.is_valid():
            _, error = _attempt(request, form, lambda: services.intake_record(
                actor=request.user, model=model, is_model=form.cleaned_data["is_model"],
                rationale=form.cleaned_data["rationale"], answers=form.answers()))
            if error is None:
                messages.success(request, "Intake recorded.")
                return redirect("governance:intake", slug=slug)
            for key, msgs in error.fields.items():
                question = key.removeprefix("answers.")
                if question in form.question_keys:
                    form.add_error_for(question, msgs[0])
        return render(request, "governance/intake.html",
                      _intake_context(request, model, form=form), status=400)
    return render(request, "governance/intake.html", _intake_context(request, model, form=form))


@login_required
@require_POST
def intake_score(request: HttpRequest, slug: str) -> HttpResponse:
    """htmx: the scoring of the answers so far, under the current policy (nothing is stored)."""
    _model(request, slug)
    policy = PolicyVersion.objects.current()
    scoring = None
    if policy is not None:
        answers = {q["key"]: request.POST.get(f"q_{q['key']}", "") for q in policy.rules.questions}
        if not policy.rules.answer_errors(answers):
            scoring = policy.rules.score(answers)
    return render(request, "governance/intake.html#scoring", {"scoring": scoring,
                                                              "policy": policy})


@login_required
@require_POST
def override_request(request: HttpRequest, slug: str) -> HttpResponse:
    model = _model(request, slug)
    form = OverrideRequestForm(request.POST)
    if form.is_valid():
        _, error = _attempt(request, form, lambda: services.tier_override_request(
            actor=request.user, model=model, **form.cleaned_data))
        if error is None:
            messages.success(request, "Override requested; a risk officer must approve it.")
            return redirect("governance:intake", slug=slug)
    return render(request, "governance/intake.html", _intake_context(
        request, model, form=_intake_form(request, ModelIntake.objects.filter(
            model=model).first()), override_form=form), status=400)


@login_required
@require_POST
def override_decide(request: HttpRequest, slug: str) -> HttpResponse:
    model = _model(request, slug)
    form = OverrideDecisionForm(request.POST)
    if form.is_valid():
        _, error = _attempt(request, form, lambda: services.tier_override_decide(
            actor=request.user, model=model, **form.cleaned_data))
        if error is None:
            messages.success(request, "Decision recorded.")
            return redirect("governance:intake", slug=slug)
    return render(request, "governance/intake.html", _intake_context(
        request, model, form=_intake_form(request, ModelIntake.objects.filter(
            model=model).first()), decision_form=form), status=400)


# --- a version's workflow ----------------------------------------------------------------------

def _workflow(request: HttpRequest, version: ModelVersion, *, status: int = 200,
              error: str = "", **forms_: forms.Form) -> HttpResponse:
    data = workflow_data(version, request.user)
    case = case_for(version)
    return render(request, "governance/workflow.html", {
        "version": version, "model": version.model, "w": data, "error": error,
        "assign_form": forms_.get("assign_form") or AssignForm(),
        "reason_form": forms_.get("reason_form") or ReasonForm(),
        "is_risk_officer": request.user.has_role(Role.RISK_OFFICER),
        "findings": version.findings.select_related("owner").order_by("status", "-pk"),
        "waivers": version.waivers.select_related("approved_by").order_by("-granted_at"),
        "gov": governance_of(version),
        "can_raise": not permissions.reason_cannot_raise_finding(request.user, case),
        "can_waive": not permissions.reason_cannot_grant_waiver(request.user, case),
        "can_review_periodically": version.state == VersionState.APPROVED
        and not permissions.reason_cannot_review_periodically(request.user, case),
    }, status=status)


@login_required
def workflow(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    return _workflow(request, _version(request, slug, number))


ACTIONS = {"submit", "assign_validator", "start_validation", "request_changes",
           "complete_approval", "suspend", "reinstate", "retire"}
MOVES = {"request_changes": VersionState.CHANGES_REQUESTED, "suspend": VersionState.SUSPENDED,
         "reinstate": VersionState.APPROVED, "retire": VersionState.RETIRED}


@login_required
@require_POST
def version_action(request: HttpRequest, slug: str, number: int, name: str) -> HttpResponse:
    if name not in ACTIONS:
        raise Http404("No such action.")
    version = _version(request, slug, number)
    form: forms.Form | None = None
    if name == "submit":
        def call() -> Any:
            return services.version_submit(actor=request.user, version=version)
    elif name == "complete_approval":
        def call() -> Any:
            return services.version_complete_approval(actor=request.user, version=version)
    elif name == "start_validation":
        def call() -> Any:
            return services.version_transition(version=version, to=VersionState.IN_VALIDATION,
                                               actor=request.user)
    elif name == "assign_validator":
        form = AssignForm(request.POST)
        if not form.is_valid():
            return _workflow(request, version, status=400, assign_form=form,
                             error="Choose a validator.")

        def call() -> Any:
            return services.validator_assign(actor=request.user, version=version,
                                             validator=form.cleaned_data["validator"])
    else:
        form = ReasonForm(request.POST)
        form.is_valid()

        def call() -> Any:
            return services.version_transition(version=version, to=MOVES[name],
                                               actor=request.user,
                                               reason=form.cleaned_data.get("reason", ""))
    _, error = _attempt(request, form, call)
    if error is not None:
        version.refresh_from_db()
        return _workflow(request, version, status=error.status, error=error.message,
                         **({"assign_form": form} if name == "assign_validator" else
                            {"reason_form": form} if form is not None else {}))
    messages.success(request, f"Done: {name.replace('_', ' ')}.")
    return redirect("governance:workflow", slug=slug, number=number)


@login_required
def review(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    reason = permissions.reason_cannot_review(request.user, case_for(version))
    if reason and request.method == "GET":
        raise PermissionRefused(reason)
    form = ReviewForm(request.POST or None)
    status = 400 if form.is_bound and not form.is_valid() else 200
    if request.method == "POST" and form.is_valid():
        _, error = _attempt(request, form, lambda: services.review_conclude(
            actor=request.user, version=version, **form.cleaned_data))
        if error is None:
            messages.success(request, "Review concluded.")
            return redirect("governance:workflow", slug=slug, number=number)
        status = error.status
    return render(request, "governance/review.html", {
        "version": version, "model": version.model, "form": form,
        "w": workflow_data(version, request.user)}, status=status)


@login_required
def sign(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    case = case_for(version)
    reason = permissions.reason_cannot_sign_off(request.user, case)
    if reason and request.method == "GET":
        raise PermissionRefused(reason)
    form = SignOffForm(request.POST or None, roles=permissions.signing_roles(request.user, case))
    status = 400 if form.is_bound and not form.is_valid() else 200
    if request.method == "POST" and form.is_valid():
        _, error = _attempt(request, form, lambda: services.signoff_record(
            actor=request.user, version=version, client_ip=client_ip(request),
            **form.cleaned_data))
        if error is None:
            messages.success(request, "Signed.")
            return redirect("governance:workflow", slug=slug, number=number)
        status = error.status
    return render(request, "governance/sign.html", {
        "version": version, "model": version.model, "form": form,
        "w": workflow_data(version, request.user)}, status=status)


# --- lists -------------------------------------------------------------------------------------

@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Work waiting for the user: the open validation queue, their validations, their sign-offs,
    the findings they must answer or close, and their teams' models."""
    user = request.user
    open_queue = None
    if user.has_role(Role.VALIDATOR, Role.RISK_OFFICER):
        open_queue = VersionGovernance.objects.open_queue().select_related(
            "version__model", "submitted_by", "policy_version__policy").order_by("submitted_at")
    return render(request, "governance/queue.html", {
        "open_queue": open_queue, "mine": queues.my_validations(user),
        "to_sign": queues.my_signoffs(user), "my_findings": queues.my_findings(user),
        "team_models": queues.team_models(user), "today": timezone.localdate(),
        "can_view_board": permissions.can_view_board(user)})


@login_required
def policies(request: HttpRequest) -> HttpResponse:
    versions = PolicyVersion.objects.select_related("policy", "created_by").order_by(
        "policy__name", "-number")
    return render(request, "governance/policies.html", {
        "versions": versions, "can_manage": permissions.can_manage_policies(request.user)})


@login_required
@require_POST
def policy_make_current(request: HttpRequest, pk: int) -> HttpResponse:
    pv = get_object_or_404(PolicyVersion, pk=pk)
    _, error = _attempt(request, None, lambda: services.policy_version_make_current(
        actor=request.user, policy_version=pv))
    if error is not None:
        messages.error(request, error.message)
        return render(request, "governance/policies.html", {
            "versions": PolicyVersion.objects.select_related("policy").order_by(
                "policy__name", "-number"),
            "can_manage": True, "error": error.message}, status=error.status)
    messages.success(request, f"{pv} is now the current policy.")
    return redirect("governance:policies")

