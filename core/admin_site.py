"""Django admin, under Assay's permission rules: administrators manage, auditors read."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core import permissions


class AssayAdminSite(admin.AdminSite):
    site_header = "Assay administration"
    site_title = "Assay admin"

    def has_permission(self, request: HttpRequest) -> bool:
        return permissions.can_use_admin(request.user)


class ServiceModelAdmin(admin.ModelAdmin):
    """Base admin: visibility and rights come from core.permissions; writes go through services.

    Subclasses implement ``service_create``/``service_update`` (and, where deleting is allowed,
    ``service_delete``) so that the admin records exactly the audit events the API would.
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return permissions.can_use_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.can_use_admin(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return permissions.is_admin(request.user) and hasattr(self, "service_create")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.is_admin(request.user) and hasattr(self, "service_update")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.is_admin(request.user) and hasattr(self, "service_delete")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            self.service_update(request=request, obj=obj, form=form)
        else:
            created = self.service_create(request=request, form=form)
            obj.pk = created.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Relations are written by the service, never by the admin form directly."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.service_delete(request=request, obj=obj)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # would bypass the service
        return actions
