"""A version's workflow page: its governance status, its findings, waivers and sign-offs, and the
buttons of the lifecycle actions the user may take (services.available_actions)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from core import pages, permissions
from core.audit_display import person_name
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from core.models import Role
from governance import services
from governance.forms import AssignForm, ClassifyChangeForm, ReasonForm
from governance.gates import case_for, governance_of
from governance.models import IN_FLIGHT, Notification, workflow_url
from governance.status import version_status
from governance.views.common import workable_version
from registry.models import ModelVersion, VersionState


def _workflow(request: AuthenticatedHttpRequest, version: ModelVersion, *, status: int = 200,
              error: str = "", **forms_: forms.Form) -> HttpResponse:
    case = case_for(version)
    # Opening the version's workflow, or acting on it, reads what pointed the person here.
    services.notification_mark_read_about(actor=request.user, obj=version)
    gov = governance_of(version)
    independence = list(version.independence_attestations.select_related("validator"))
    return render(request, "governance/workflow.html", {
        "version": version, "model": version.model, "w": version_status(version, request.user),
        "error": error,
        "assign_form": forms_.get("assign_form") or AssignForm(),
        "classify_form": forms_.get("classify_form") or ClassifyChangeForm(
            initial={"change_class": version.change_class}),
        "reason_form": forms_.get("reason_form") or ReasonForm(),
        "is_risk_officer": request.user.has_role(Role.RISK_OFFICER),
        "findings": version.findings.select_related("owner").order_by("status", "-pk"),
        "waivers": version.waivers.select_related("approved_by").order_by("-granted_at"),
        "gov": gov,
        "independence": independence,
        "may_attest_independence": gov is not None and gov.validator_id == request.user.pk
        and version.state in IN_FLIGHT
        and not any(a.validator_id == request.user.pk for a in independence),
        "independence_statement": services.INDEPENDENCE_STATEMENT,
        "can_raise": not permissions.reason_cannot_raise_finding(request.user, case),
        "can_waive": not permissions.reason_cannot_grant_waiver(request.user, case),
        "can_review_periodically": version.state == VersionState.APPROVED
        and not permissions.reason_cannot_review_periodically(request.user, case),
    }, status=status)


@login_required
def workflow(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    return _workflow(request, workable_version(request, slug, number))


@login_required
@require_POST
def version_action(request: AuthenticatedHttpRequest, slug: str, number: int,
                   name: str) -> HttpResponse:
    """One of the workflow page's buttons: assigning the validator, or a lifecycle edge taken by
    its action name (services.ACTION_TARGETS), with a reason where the edge needs one."""
    if name not in ("assign_validator", "attest_independence") \
            and name not in services.ACTION_TARGETS:
        raise Http404("No such action.")
    version = workable_version(request, slug, number)
    form: forms.Form | None = None
    shown: dict[str, forms.Form] = {}
    if name == "assign_validator":
        form = shown["assign_form"] = assign_form = AssignForm(request.POST)

        def call() -> Any:
            return services.validator_assign(
                actor=request.user, version=version,
                validator=assign_form.cleaned_data["validator"],
                independence_attested=assign_form.cleaned_data["independence_attested"])
    elif name == "attest_independence":

        def call() -> Any:
            services.independence_attest(actor=request.user, version=version)
            return version
    else:
        to = services.ACTION_TARGETS[name]
        if _needs_reason(name):
            form = shown["reason_form"] = ReasonForm(request.POST)

        def call() -> Any:
            reason = form.cleaned_data["reason"] if form is not None else ""
            return services.version_transition(version=version, to=to, actor=request.user,
                                               reason=reason)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        if error is None:  # only the validator's form can be invalid
            return _workflow(request, version, status=400, error="Choose a validator.", **shown)
        version.refresh_from_db()
        return _workflow(request, version, status=status, error=error.message, **shown)

    started = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return pages.form_action(request, form=form, call=call, failure=failure,
                             success=lambda result: _done_message(result, started),
                             done=workflow_url(version))


@login_required
@require_POST
def classify_change(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    """The validator confirms or reclassifies the version's declared minor/major change."""
    version = workable_version(request, slug, number)
    form = ClassifyChangeForm(request.POST)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        version.refresh_from_db()
        return _workflow(request, version, status=status,
                         error=error.message if error else "Choose minor or major.",
                         classify_form=form)

    return pages.form_action(
        request, form=form, failure=failure, done=workflow_url(version),
        call=lambda: services.version_classify_change(
            actor=request.user, version=version, change_class=form.cleaned_data["change_class"],
            note=form.cleaned_data["note"]),
        success=lambda v: f"{v}: the change is {form.cleaned_data['change_class']}"
                          + (" (reclassified)." if form.cleaned_data["change_class"]
                             != v.change_class else " (confirmed)."))


def _done_message(version: ModelVersion, notified_after: int) -> str:
    """What happened, in words, and who now has it: "credit-scoring v3 is now submitted; Rhea
    Officer (rhea) and Victor Validator (victor) are notified." Names the notifications this
    action actually created."""
    version.refresh_from_db(fields=["state"])
    people = sorted({person_name(n.user) for n in Notification.objects.filter(
        pk__gt=notified_after, object_type=version._meta.label_lower,
        object_id=str(version.pk)).select_related("user")})
    text = f"{version} is now {version.get_state_display().lower()}"
    if people:
        who = people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]
        text += f"; {who} {'is' if len(people) == 1 else 'are'} notified"
    return text + "."


def _needs_reason(action: str) -> bool:
    return any(rule.needs_reason for rule in services.TRANSITIONS.values()
               if rule.action == action)
