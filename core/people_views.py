"""People and teams in the browser, for administrators: create accounts, change roles and teams,
deactivate or reactivate, revoke a person's API tokens. Each action is one service call in
``core.services`` (audited there); the pages only collect the input and say what happened."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core import permissions, services
from core.errors import DomainError, PermissionRefused
from core.http import AuthenticatedHttpRequest
from core.models import Role, Team, User
from core.pages import form_action

REFUSAL = "Only administrators manage people and teams; ask one of them."


def _require_admin(request: HttpRequest) -> None:
    if not permissions.can_manage_accounts(request.user):
        raise PermissionRefused(REFUSAL)


class AccessForm(forms.Form):
    roles = forms.MultipleChoiceField(choices=Role.choices, required=False,
                                      widget=forms.CheckboxSelectMultiple)
    teams = forms.ModelMultipleChoiceField(queryset=Team.objects.all(), required=False,
                                           widget=forms.CheckboxSelectMultiple)


class NewPersonForm(AccessForm):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, help_text=(
        "A first password they change after signing in; the password rules apply."))

    field_order = ["username", "first_name", "last_name", "email", "password", "roles", "teams"]


class TeamForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DeactivateForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Recorded in the audit trail.")


def _people_page(request: HttpRequest, *, new_form: NewPersonForm | None = None,
                 team_form: TeamForm | None = None, status: int = 200) -> HttpResponse:
    people = (User.objects.prefetch_related("role_grants", "teams")
              .annotate(active_tokens=Count("api_tokens", filter=Q(
                  api_tokens__revoked_at__isnull=True))).order_by("-is_active", "username"))
    return render(request, "core/people.html", {
        "people": people, "teams": Team.objects.annotate(size=Count("members")),
        "new_form": new_form or NewPersonForm(), "team_form": team_form or TeamForm(),
    }, status=status)


@login_required
def people(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_admin(request)
    return _people_page(request)


@login_required
@require_POST
def person_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_admin(request)
    form = NewPersonForm(request.POST)

    def create() -> User:
        data = form.cleaned_data
        return services.user_create(
            actor=request.user, username=data["username"], password=data["password"],
            email=data["email"], first_name=data["first_name"], last_name=data["last_name"],
            roles=data["roles"], teams=data["teams"])

    return form_action(
        request, form=form, call=create,
        done=lambda user: _redirect_to(user),
        success=lambda user: f"{user.username} can now sign in with the password you set.",
        failure=lambda status, _error: _people_page(request, new_form=form, status=status))


@login_required
@require_POST
def team_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_admin(request)
    form = TeamForm(request.POST)
    return form_action(
        request, form=form,
        call=lambda: services.team_create(actor=request.user, **form.cleaned_data),
        done="people", success=lambda team: f"Team {team.name} is created; add people to it.",
        failure=lambda status, _error: _people_page(request, team_form=form, status=status))


def _target(request: HttpRequest, username: str) -> User:
    """The person an administrator's action is about (refused first for anyone else)."""
    _require_admin(request)
    return get_object_or_404(User, username=username)


def _redirect_to(user: User) -> HttpResponse:
    return redirect("person", username=user.username)


def _person_page(request: HttpRequest, person: User, *, access: AccessForm | None = None,
                 deactivate: DeactivateForm | None = None, status: int = 200) -> HttpResponse:
    initial: dict[str, Any] = {"roles": sorted(person.role_grants.values_list("role", flat=True)),
                               "teams": list(person.teams.all())}
    return render(request, "core/person.html", {
        "person": person, "access_form": access or AccessForm(initial=initial),
        "deactivate_form": deactivate or DeactivateForm(),
        "active_tokens": person.api_tokens.filter(revoked_at__isnull=True).count(),
        "is_self": person.pk == request.user.pk,
        "audit_url": f"{reverse('audit-list')}?actor={person.username}",
    }, status=status)


@login_required
def person(request: AuthenticatedHttpRequest, username: str) -> HttpResponse:
    _require_admin(request)
    return _person_page(request, get_object_or_404(User, username=username))


@login_required
@require_POST
def person_access(request: AuthenticatedHttpRequest, username: str) -> HttpResponse:
    target = _target(request, username)
    form = AccessForm(request.POST)

    def changed_text(changed: list[str]) -> str:
        return (f"{target.username}: " + "; ".join(changed) + "." if changed
                else f"Nothing changed for {target.username}.")

    return form_action(
        request, form=form,
        call=lambda: services.user_set_access(actor=request.user, user=target,
                                              roles=form.cleaned_data["roles"],
                                              teams=form.cleaned_data["teams"]),
        done=lambda _changed: _redirect_to(target), success=changed_text,
        failure=lambda status, _error: _person_page(request, target, access=form, status=status))


@login_required
@require_POST
def person_deactivate(request: AuthenticatedHttpRequest, username: str) -> HttpResponse:
    target = _target(request, username)
    form = DeactivateForm(request.POST)
    return form_action(
        request, form=form,
        call=lambda: services.user_deactivate(actor=request.user, user=target,
                                              reason=form.cleaned_data["reason"]),
        done=lambda _none: _redirect_to(target),
        success=(f"{target.username} is deactivated: their sessions have ended and their API "
                 "tokens are revoked."),
        failure=lambda status, _error: _person_page(request, target, deactivate=form,
                                                    status=status))


@login_required
@require_POST
def person_reactivate(request: AuthenticatedHttpRequest, username: str) -> HttpResponse:
    target = _target(request, username)
    return form_action(
        request, form=None,
        call=lambda: services.user_reactivate(actor=request.user, user=target),
        done=lambda _none: _redirect_to(target),
        success=(f"{target.username} can sign in again; their old sessions and tokens stay "
                 "ended."),
        failure=lambda status, error: _failed(request, target, status, error))


@login_required
@require_POST
def person_tokens_revoke(request: AuthenticatedHttpRequest, username: str) -> HttpResponse:
    target = _target(request, username)
    return form_action(
        request, form=None,
        call=lambda: services.tokens_revoke_all(actor=request.user, user=target),
        done=lambda _count: _redirect_to(target),
        success=lambda count: (f"Revoked {count} API token{'s' if count != 1 else ''} of "
                               f"{target.username}; scripts using them stop working now."
                               if count else f"{target.username} had no active API token."),
        failure=lambda status, error: _failed(request, target, status, error))


def _failed(request: HttpRequest, target: User, status: int,
            error: DomainError | None) -> HttpResponse:
    if error is not None:
        messages.error(request, error.message)
    return _person_page(request, target, status=status)
