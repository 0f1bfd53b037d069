from __future__ import annotations

from django.contrib import admin

from core import permissions
from core.admin_site import ServiceModelAdmin
from registry import services
from registry.models import (
    ModelVersion,
    RegisteredModel,
    Tag,
    VendorDocument,
    VersionSignature,
)


class VisibleAdmin(ServiceModelAdmin):
    """Admin lists only what the user may see (the same rule as pages and API)."""

    def get_queryset(self, request):
        return self.model.objects.visible_to(request.user)


@admin.register(RegisteredModel)
class RegisteredModelAdmin(VisibleAdmin):
    list_display = ["name", "slug", "team", "owner", "decision_type", "status", "updated_at"]
    list_filter = ["team", "status", "decision_type", "task", "sourcing"]
    search_fields = ["name", "slug", "purpose"]
    fields = ["name", *services.EDITABLE_FIELDS[1:], "slug", "team", "owner", "status",
              "created_by", "created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("team", "owner")

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "team", "owner", "status", "created_by", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False  # registering needs a team and owner: the inventory page or the API

    def service_update(self, *, request, obj, form):
        changes = {f: form.cleaned_data[f] for f in form.changed_data
                   if f in services.EDITABLE_FIELDS}
        services.model_update(actor=request.user, model=obj, **changes)

    def service_delete(self, *, request, obj):
        services.model_delete(actor=request.user, model=obj)

    def has_change_permission(self, request, obj=None):
        return permissions.is_admin(request.user)


@admin.register(ModelVersion)
class ModelVersionAdmin(VisibleAdmin):
    list_display = ["__str__", "state", "artifact_sha256", "created_by", "created_at"]
    list_filter = ["state"]
    search_fields = ["model__slug", "artifact_sha256"]
    fields = ["model", "number", "state", *services.VERSION_EDITABLE_FIELDS, "artifact_sha256",
              "artifact_size", "artifact_filename", "input_schema", "output_schema",
              "artifact_meta", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        editable = services.VERSION_EDITABLE_FIELDS if obj and obj.state == "draft" else []
        return [f for f in self.fields if f not in editable]

    def has_add_permission(self, request):
        return False  # versions carry artifacts: created on the model page or through the API

    def service_update(self, *, request, obj, form):
        changes = {f: form.cleaned_data[f] for f in form.changed_data
                   if f in services.VERSION_EDITABLE_FIELDS}
        services.version_update(actor=request.user, version=obj, **changes)

    def service_delete(self, *, request, obj):
        services.version_delete(actor=request.user, version=obj)


@admin.register(Tag)
class TagAdmin(ServiceModelAdmin):
    list_display = ["name"]


@admin.register(VendorDocument)
class VendorDocumentAdmin(ServiceModelAdmin):
    list_display = ["filename", "model", "sha256", "uploaded_by", "uploaded_at"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in VendorDocument._meta.fields]


@admin.register(VersionSignature)
class VersionSignatureAdmin(ServiceModelAdmin):
    """Read-only for everyone, administrators included: signatures are made by the approval
    (docs/signing.md) and only ever added. Shows whether each one still backs its version."""

    list_display = ["version", "kind", "key", "artifact_sha256", "created_at", "in_force"]
    list_filter = ["kind"]
    search_fields = ["version__model__slug", "artifact_sha256", "key__keyid"]
    list_select_related = ["version__model", "key"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(
            version__in=ModelVersion.objects.visible_to(request.user).values("pk"))

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in VersionSignature._meta.fields]

    @admin.display(description="In force")
    def in_force(self, obj: VersionSignature) -> str:
        """Whether it is its version's current signature of its kind and backs the approval."""
        current = obj.version.current_signature(obj.kind)
        if current is None or current.pk != obj.pk:
            return "superseded"
        return obj.version.signature_problem(obj.kind) or "yes"
