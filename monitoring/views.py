"""Monitoring pages: the plans you may see with their status, one plan (control charts, the
latest statistics, its rules and their changes), one endpoint's monitoring (the plans of the
versions it serves), and the owner's proposal and the validator's decision on a change."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core import pages, permissions
from core.errors import DomainError, PermissionRefused
from core.http import AuthenticatedHttpRequest
from governance.gates import case_for
from monitoring import charts, services
from monitoring.models import ChangeStatus, MonitoringPlan, PlanChange
from serving.models import Endpoint


def _plans(user: Any) -> Any:
    return MonitoringPlan.objects.visible_to(user).select_related("version__model")


class ProposeForm(forms.Form):
    rules = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}),
                            help_text="The plan's rules as JSON (docs/monitoring.md).")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def clean_rules(self) -> Any:
        try:
            return json.loads(self.cleaned_data["rules"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}.") from exc


class DecideForm(forms.Form):
    decision = forms.ChoiceField(choices=[("agree", "Agree"), ("decline", "Decline")])
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


@login_required
def plan_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "monitoring/plans.html", {"plans": _plans(request.user)})


def _plan_context(plan: MonitoringPlan, user: Any) -> dict[str, Any]:
    checks = list(plan.checks.order_by("-at", "-pk")[:200])
    latest = checks[0] if checks else None
    case = case_for(plan.version)
    return {
        "plan": plan, "latest": latest, "charts": charts.control_charts(
            plan, checks, policy_thresholds=services.fairness_limits(plan)),
        "drift_chart": charts.feature_drift_chart(latest),
        "windows": plan.windows.order_by("-end", "-pk")[:10],
        "changes": plan.changes.select_related("proposed_by", "decided_by")[:20],
        "rules_json": json.dumps(plan.rules, indent=2),
        "may_propose": not permissions.reason_cannot_propose_monitoring_change(user, case),
        "may_decide": not permissions.reason_cannot_decide_monitoring_change(user, case),
        "revalidation": getattr(plan.version, "governance", None),
    }


@login_required
def plan_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(_plans(request.user), pk=pk)
    return render(request, "monitoring/plan.html", {
        **_plan_context(plan, request.user), "propose_form": ProposeForm(
            initial={"rules": json.dumps(plan.rules, indent=2)}), "decide_form": DecideForm()})


@login_required
def plan_propose(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(_plans(request.user), pk=pk)
    if request.method != "POST":
        return redirect("monitoring:plan", pk=pk)
    form = ProposeForm(request.POST)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "monitoring/plan.html", {
            **_plan_context(plan, request.user), "propose_form": form,
            "decide_form": DecideForm()}, status=status)

    return pages.form_action(
        request, form=form, call=lambda: services.plan_change_propose(
            actor=request.user, plan=plan, rules=form.cleaned_data["rules"],
            reason=form.cleaned_data["reason"]),
        success="Change proposed; the validator is asked to agree.",
        done=lambda _c: redirect("monitoring:plan", pk=pk), failure=page)


@login_required
def change_decide(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    change = get_object_or_404(PlanChange.objects.filter(
        plan__in=_plans(request.user)).select_related("plan__version__model"), pk=pk)
    if request.method != "POST":
        return redirect("monitoring:plan", pk=change.plan_id)
    if change.status != ChangeStatus.PROPOSED:
        raise PermissionRefused("This change was already decided.")
    form = DecideForm(request.POST)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "monitoring/plan.html", {
            **_plan_context(change.plan, request.user),
            "propose_form": ProposeForm(initial={"rules": json.dumps(change.plan.rules)}),
            "decide_form": form}, status=status)

    return pages.form_action(
        request, form=form, call=lambda: services.plan_change_decide(
            actor=request.user, change=change,
            agree=form.cleaned_data["decision"] == "agree", note=form.cleaned_data["note"]),
        success=lambda c: f"Change {c.get_status_display().lower()}.",
        done=lambda _c: redirect("monitoring:plan", pk=change.plan_id), failure=page)


@login_required
def endpoint_monitoring(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint.objects.visible_to(request.user).select_related(
        "primary_version__model", "canary_version__model"), slug=slug)
    sections = [_plan_context(plan, request.user)
                for plan in services.plan_for_endpoint(endpoint)]
    return render(request, "monitoring/endpoint.html", {"endpoint": endpoint,
                                                         "sections": sections})
