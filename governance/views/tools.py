"""The register of tools that are not models: the list (review due first), a tool with its
controls, reviews, the review form and the form changing its criticality, and registering an
entry whose intake said "not a model"."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core import pages, permissions
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from governance import services
from governance.forms import ToolCriticalityForm, ToolForm, ToolReviewForm, checked_controls
from governance.models import ModelIntake, Tool, ToolCriticality
from governance.views.common import refuse_on_get, visible_model


def _tool(request: AuthenticatedHttpRequest, slug: str) -> Tool:
    return get_object_or_404(Tool.objects.visible_to(request.user).listed()
                             .select_related("policy_version"), model__slug=slug)


@login_required
def tool_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    show = request.GET.get("show", "in_use")
    visible = Tool.objects.visible_to(request.user)
    qs = visible.listed()
    qs = qs.filter(retired_at__isnull=False) if show == "retired" else qs.filter(
        retired_at__isnull=True)
    if request.GET.get("criticality") in ToolCriticality.values:
        qs = qs.filter(criticality=request.GET["criticality"])
    return render(request, "governance/tools.html", {
        "tools": qs.order_by("next_review_due", "pk")[:500], "show": show,
        "criticality": request.GET.get("criticality", ""),
        "criticalities": ToolCriticality.choices, "today": timezone.localdate(),
        "counts": services.tool_counts(visible)})


def _tool_page(request: AuthenticatedHttpRequest, tool: Tool, *, status: int = 200,
               form: ToolReviewForm | None = None, error: str = "",
               criticality_form: ToolCriticalityForm | None = None) -> HttpResponse:
    tool = _tool(request, tool.model.slug)
    rules = services.tool_rules_of(tool)
    services.notification_mark_read_about(actor=request.user, obj=tool)
    in_place = {c["control"] for c in tool.controls if c.get("in_place")}
    return render(request, "governance/tool.html", {
        "tool": tool, "model": tool.model, "rules": rules,
        "reviews": tool.reviews.select_related("reviewer"),
        "may_review": tool.retired_at is None and not permissions.reason_cannot_review_tool(
            request.user, tool.model, rules.reviewer),
        "checklist": [(c, c in in_place) for c in rules.controls],
        "form": form or ToolReviewForm(), "error": error,
        "may_change_criticality": tool.retired_at is None
        and permissions.can_edit_intake(request.user, tool.model),
        "criticality_form": criticality_form or ToolCriticalityForm(
            initial={"criticality": tool.criticality})}, status=status)


@login_required
def tool_detail(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    return _tool_page(request, _tool(request, slug))


@login_required
@require_POST
def tool_review(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    tool = _tool(request, slug)
    form = ToolReviewForm(request.POST)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        return _tool_page(request, tool, status=status, form=form,
                          error=error.message if error is not None
                          else "Say whether the tool is still in use.")

    return pages.form_action(
        request, form=form, call=lambda: services.tool_review(
            actor=request.user, tool=tool, still_in_use=form.cleaned_data["still_in_use"],
            notes=form.cleaned_data["notes"], controls=checked_controls(request.POST)),
        success="Review recorded.", done=tool.get_absolute_url(), failure=failure)


@login_required
@require_POST
def tool_criticality(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Change the tool's criticality (its owner's side or a risk officer): the workflow and the
    next review date follow the policy for the new criticality."""
    tool = _tool(request, slug)
    form = ToolCriticalityForm(request.POST)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        return _tool_page(request, tool, status=status, criticality_form=form,
                          error=error.message if error is not None
                          else "Choose the new criticality: high, medium or low.")

    return pages.form_action(
        request, form=form, call=lambda: services.tool_criticality_change(
            actor=request.user, tool=tool, criticality=form.cleaned_data["criticality"],
            reason=form.cleaned_data["reason"]),
        success=lambda changed: f"{tool.model.name} is now of {changed.criticality} "
                                f"criticality; its next review is due "
                                f"{changed.next_review_due}.",
        done=tool.get_absolute_url(), failure=failure)


@login_required
def tool_register(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Register an entry whose intake said "not a model" as a tool. The controls shown are the
    current policy's for the criticality chosen (htmx swaps them when it changes)."""
    model = visible_model(request, slug)
    refuse_on_get(request, "" if permissions.can_edit_intake(request.user, model) else
                  services.TOOL_EDITORS)
    form = ToolForm(request.POST or None, initial={"criticality": "medium"})
    chosen = (request.POST or request.GET).get("criticality")
    criticality = chosen if chosen in ToolCriticality.values else "medium"
    rules = services.current_policy(model).rules.tool_rules(criticality)
    checked = set(request.POST.getlist("control"))

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        context: dict[str, Any] = {
            "model": model, "form": form, "rules": rules,
            "checklist": [(c, c in checked) for c in rules.controls],
            "intake": ModelIntake.objects.filter(model=model).first(),
            "error": error.message if error is not None else ""}
        if request.htmx and request.method == "GET":
            return render(request, "governance/tool_register.html#controls", context)
        return render(request, "governance/tool_register.html", context, status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: services.tool_register(
            actor=request.user, model=model, kind=form.cleaned_data["kind"],
            criticality=form.cleaned_data["criticality"], usage=form.cleaned_data["usage"],
            controls=checked_controls(request.POST)),
        success=lambda tool: f"{model.name} is in the tool register; its first review is due "
                             f"{tool.next_review_due}.",
        done=redirect, failure=page)
