from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from core import services
from core.admin_site import ServiceModelAdmin
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from core.models import ApiToken, AuditEvent, Role, Team, User


class TeamAdminForm(forms.ModelForm):  # type: ignore[type-arg]  # generic in the stubs only
    # The service derives the slug from the name when none is given.
    slug = forms.SlugField(required=False, help_text="Leave empty to derive it from the name.")

    class Meta:
        model = Team
        fields = ["name", "slug", "description"]

    def validate_unique(self) -> None:
        """Uniqueness is the service's to check (and to word)."""


@admin.register(Team)
class TeamAdmin(ServiceModelAdmin):
    form = TeamAdminForm
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]

    def get_readonly_fields(self, request: HttpRequest, obj: Team | None = None) -> list[str]:
        return ["name", "slug", "description"] if obj else []

    def service_create(self, *, request: AuthenticatedHttpRequest, form: TeamAdminForm) -> Team:
        return services.team_create(actor=request.user, **form.cleaned_data)


class UserCreateForm(forms.ModelForm):  # type: ignore[type-arg]  # generic in the stubs only
    password = forms.CharField(widget=forms.PasswordInput)
    roles = forms.MultipleChoiceField(choices=Role.choices, required=False,
                                      widget=forms.CheckboxSelectMultiple)
    teams = forms.ModelMultipleChoiceField(queryset=Team.objects.all(), required=False)

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email"]

    def validate_unique(self) -> None:
        """Uniqueness is the service's to check (and to word)."""


@admin.register(User)
class UserAdmin(ServiceModelAdmin):
    list_display = ["username", "email", "is_active", "roles_display"]
    list_filter = ["is_active", "role_grants__role", "teams"]
    search_fields = ["username", "email", "first_name", "last_name"]
    readonly_fields = ("username", "first_name", "last_name", "email", "is_active",
                       "roles_display", "teams_display", "last_login", "date_joined")
    fields = readonly_fields
    actions = ["deactivate", "reactivate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("role_grants", "teams")

    def get_form(self, request: HttpRequest, obj: Model | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm]:  # type: ignore[type-arg]
        if obj is None:
            kwargs["form"] = UserCreateForm
            kwargs["fields"] = ["username", "first_name", "last_name", "email", "password",
                                "roles", "teams"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None
                            ) -> list[str] | tuple[str, ...]:
        return self.readonly_fields if obj else []

    def get_fields(self, request: HttpRequest, obj: User | None = None
                   ) -> tuple[str, ...]:
        if obj is None:
            return ("username", "first_name", "last_name", "email", "password", "roles", "teams")
        return self.fields

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # The change page is read-only; changes are the actions below (and the API/commands).
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        from core import permissions

        return permissions.is_admin(request.user)

    @admin.display(description="Roles")
    def roles_display(self, user: User) -> str:
        return ", ".join(sorted(Role(g.role).label for g in user.role_grants.all()))

    @admin.display(description="Teams")
    def teams_display(self, user: User) -> str:
        return ", ".join(t.name for t in user.teams.all())

    def service_create(self, *, request: AuthenticatedHttpRequest, form: UserCreateForm) -> User:
        data = form.cleaned_data
        return services.user_create(
            actor=request.user, username=data["username"], password=data["password"],
            email=data["email"], first_name=data["first_name"], last_name=data["last_name"],
            roles=data["roles"], teams=data["teams"],
        )

    @admin.action(description="Deactivate (ends sessions, revokes tokens)",
                  permissions=["manage"])
    def deactivate(self, request: AuthenticatedHttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            try:
                services.user_deactivate(actor=request.user, user=user)
            except DomainError as exc:
                self.message_user(request, f"{user}: {exc.message}", messages.ERROR)

    @admin.action(description="Reactivate", permissions=["manage"])
    def reactivate(self, request: AuthenticatedHttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.user_reactivate(actor=request.user, user=user)


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "expires_at", "revoked_at"]
    readonly_fields = ["name", "user", "prefix", "created_at", "expires_at", "revoked_at",
                       "last_used_at"]
    exclude = ["digest"]
    actions = ["revoke"]

    @admin.action(description="Revoke", permissions=["manage"])
    def revoke(self, request: AuthenticatedHttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            services.token_revoke(actor=request.user, token=token)


@admin.register(AuditEvent)
class AuditEventAdmin(ServiceModelAdmin):
    """Read-only for everyone, administrators included."""

    list_display = ["seq", "occurred_at", "actor_username", "action", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["actor_username", "object_id", "request_id"]

    def get_readonly_fields(self, request: HttpRequest, obj: AuditEvent | None = None
                            ) -> list[str]:
        return [f.name for f in AuditEvent._meta.fields]
