"""Deployment pages: the endpoints, one endpoint's configuration and history, and one page per
change, which names its consequence before anything is done (the confirmation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core import pages, permissions
from core.errors import DomainError, PermissionRefused
from core.http import AuthenticatedHttpRequest
from core.models import User
from serving import services
from serving.forms import CanaryForm, EndpointForm, ReasonForm, ShadowForm
from serving.models import Endpoint


def _endpoints(user: User) -> Any:
    return Endpoint.objects.visible_to(user).select_related(
        "primary_version__model", "canary_version__model", "shadow_version__model")


@login_required
def endpoint_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "serving/deployments.html", {
        "endpoints": _endpoints(request.user),
        "may_deploy": permissions.is_deployer(request.user)})


@login_required
def endpoint_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    reason = permissions.reason_cannot_manage_endpoint(request.user)
    if reason and request.method == "GET":
        raise PermissionRefused(reason)
    form = EndpointForm(request.POST or None, user=request.user)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "serving/endpoint_form.html", {"form": form}, status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: services.endpoint_create(actor=request.user,
                                                                  **form.cleaned_data),
        success=lambda e: f"Endpoint {e.slug} created, serving {e.primary_version}.",
        done=lambda e: redirect("serving:endpoint", slug=e.slug), failure=page)


@login_required
def endpoint_detail(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    endpoint = get_object_or_404(_endpoints(request.user), slug=slug)
    may_deploy = permissions.is_deployer(request.user)
    return render(request, "serving/endpoint.html", {
        "endpoint": endpoint, "problems": endpoint.problems(),
        "versions": [(role, v, v.servability_problems())
                     for role, v in endpoint.deployed_versions()],
        "changes": endpoint.changes.select_related(
            "actor", "primary_version__model", "canary_version__model",
            "shadow_version__model", "previous_primary__model"),
        "rollback_target": services.rollback_target(endpoint),
        "actions": [(name, a) for name, a in ACTIONS.items() if a.offered(endpoint)]
        if may_deploy else []})


@dataclass(frozen=True)
class Action:
    """One change of an endpoint as a page offers it: its button, its form, what it does
    (the confirmation names it) and the service it calls."""

    label: str
    form: Callable[[AuthenticatedHttpRequest, Endpoint], forms.Form]
    consequence: Callable[[Endpoint], str]
    call: Callable[..., Endpoint]
    offered: Callable[[Endpoint], bool]
    destructive: bool = False


def _versions_form(cls: type[forms.Form]) -> Callable[[AuthenticatedHttpRequest, Endpoint],
                                                        forms.Form]:
    return lambda request, e: cls(request.POST or None, user=request.user,  # type: ignore[call-arg]
                                  model_id=e.primary_version.model_id)


def _reason_form(request: AuthenticatedHttpRequest, endpoint: Endpoint) -> forms.Form:
    return ReasonForm(request.POST or None)


def _no_form(request: AuthenticatedHttpRequest, endpoint: Endpoint) -> forms.Form:
    return forms.Form(request.POST or None)


def _rollback_consequence(e: Endpoint) -> str:
    target = services.rollback_target(e)
    return (f"{e.primary_version} stops answering {e.slug}; {target} answers every request "
            "again.")


ACTIONS: dict[str, Action] = {
    "set-canary": Action(
        "Set a canary", _versions_form(CanaryForm),
        lambda e: f"The version you choose answers that share of the requests to {e.slug} "
                  f"(replacing any canary); {e.primary_version} answers the rest.",
        services.endpoint_set_canary, lambda e: True),
    "clear-canary": Action(
        "Take the canary off", _reason_form,
        lambda e: f"{e.canary_version} stops answering {e.slug}; {e.primary_version} answers "
                  "every request.",
        services.endpoint_clear_canary, lambda e: e.canary_version_id is not None,
        destructive=True),
    "promote": Action(
        "Promote the canary", _no_form,
        lambda e: f"{e.canary_version} becomes the primary of {e.slug} and answers every "
                  f"request; {e.primary_version} stops answering (a rollback returns to it).",
        services.endpoint_promote, lambda e: e.canary_version_id is not None, destructive=True),
    "set-shadow": Action(
        "Set a shadow", _versions_form(ShadowForm),
        lambda e: f"The version you choose sees every request to {e.slug} (replacing any "
                  "shadow); its answers are logged, never returned.",
        services.endpoint_set_shadow, lambda e: True),
    "clear-shadow": Action(
        "Take the shadow off", _reason_form,
        lambda e: f"{e.shadow_version} stops seeing the requests to {e.slug}.",
        services.endpoint_clear_shadow, lambda e: e.shadow_version_id is not None,
        destructive=True),
    "rollback": Action(
        "Roll back", _reason_form, _rollback_consequence, services.endpoint_rollback,
        lambda e: services.rollback_target(e) is not None, destructive=True),
    "suspend": Action(
        "Suspend", _reason_form,
        lambda e: f"{e.slug} stops answering: every application calling it is refused until "
                  "the endpoint is resumed.",
        services.endpoint_suspend, lambda e: e.status == "active", destructive=True),
    "resume": Action(
        "Resume", _no_form,
        lambda e: f"{e.slug} answers again, with {e.primary_version}"
                  + (f" and its canary {e.canary_version}" if e.canary_version_id else "")
                  + ".",
        services.endpoint_resume, lambda e: e.status == "suspended"),
}


@login_required
def endpoint_action(request: AuthenticatedHttpRequest, slug: str, name: str) -> HttpResponse:
    """The page of one change: what it will do, its form, and the button that does it."""
    action = ACTIONS.get(name)
    if action is None:
        raise Http404("No such change of an endpoint.")
    endpoint = get_object_or_404(_endpoints(request.user), slug=slug)
    reason = permissions.reason_cannot_manage_endpoint(request.user)
    if reason and request.method == "GET":
        raise PermissionRefused(reason)
    form = action.form(request, endpoint)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "serving/endpoint_action.html", {
            "endpoint": endpoint, "action": action, "name": name, "form": form,
            "consequence": action.consequence(endpoint)}, status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form,
        call=lambda: action.call(actor=request.user, endpoint=endpoint, **form.cleaned_data),
        success=f"{action.label}: done.", done=lambda e: redirect("serving:endpoint",
                                                                  slug=e.slug),
        failure=page)
