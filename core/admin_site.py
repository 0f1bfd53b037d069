"""Django admin, under Assay's permission rules: administrators manage, auditors read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from core import permissions
from core.errors import DomainError, PermissionRefused
from core.forms import add_domain_error


class AssayAdminSite(admin.AdminSite):
    site_header = "Assay administration"
    site_title = "Assay admin"

    def has_permission(self, request: HttpRequest) -> bool:
        return permissions.can_use_admin(request.user)

    @method_decorator(never_cache)
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None
              ) -> HttpResponse:
        """Signing in happens only on Assay's own login page, which is throttled and audited.

        Django's admin login form would be a second, unthrottled door for password guessing, so it
        is never shown: anonymous visitors are sent to the login page, signed-in users without admin
        access get a 403 saying why.
        """
        index = reverse("admin:index", current_app=self.name)
        if not request.user.is_authenticated:
            target = request.GET.get(REDIRECT_FIELD_NAME, "")
            if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
                target = index
            return redirect_to_login(target or index)
        if self.has_permission(request):
            return HttpResponseRedirect(index)
        raise PermissionRefused(
            "The admin site is for administrators and auditors; ask an administrator if you "
            "need one of those roles."
        )

    def logout(self, request: HttpRequest,  # type: ignore[override]  # not a TemplateResponse
               extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The admin's sign-out is Assay's own, so it is recorded like any other."""
        from core.views import logout_view

        return logout_view(request)


class ServiceModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # generic in the stubs only
    """Base admin: visibility and rights come from core.permissions; writes go through services.

    Subclasses implement ``service_create``/``service_update`` (and, where deleting is allowed,
    ``service_delete``) so that the admin records exactly the audit events the API would.

    The service runs while the admin validates the form, so a ``DomainError`` it raises (a taken
    name, a weak password) is shown on the form with the input kept, instead of escaping as an
    error page. Django's admin wraps the whole request in a transaction, so nothing is half-done.
    """

    # The hooks, each defined by the subclasses that allow the action (annotations only: the
    # permissions below ask whether the subclass has the attribute).
    service_create: Callable[..., Any]
    service_update: Callable[..., None]
    service_delete: Callable[..., None]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return permissions.can_use_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return permissions.can_use_admin(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return permissions.is_admin(request.user) and hasattr(self, "service_create")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return permissions.is_admin(request.user) and hasattr(self, "service_update")

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return permissions.is_admin(request.user) and hasattr(self, "service_delete")

    def get_form(self, request: HttpRequest, obj: Model | None = None, change: bool = False,
                 **kwargs: Any) -> type:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        # A subclass of the form class the admin made for this request: dynamic, so unchecked.
        class ServiceForm(form_class):  # type: ignore[misc,valid-type]
            instance: Model

            def _post_clean(self) -> None:
                super()._post_clean()
                if self.errors or request.method != "POST":
                    return
                try:
                    if change:
                        model_admin.service_update(request=request, obj=self.instance, form=self)
                    else:
                        self.instance = model_admin.service_create(request=request, form=self)
                except DomainError as exc:
                    add_domain_error(self, exc)
                except ValidationError as exc:
                    self.add_error(None, exc)

        ServiceForm.__name__ = form_class.__name__
        return ServiceForm

    def save_model(self, request: HttpRequest, obj: Model, form: forms.ModelForm[Any],
                   change: bool) -> None:
        """Already saved by the service during validation (see the class docstring)."""

    def save_related(self, request: HttpRequest, form: forms.ModelForm[Any], formsets: Any,
                     change: bool) -> None:
        """Relations are written by the service, never by the admin form directly."""

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        self.service_delete(request=request, obj=obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # would bypass the service
        return actions

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """For actions marked ``allowed_permissions=("manage",)``: account management."""
        return permissions.can_manage_accounts(request.user)

