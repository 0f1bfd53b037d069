"""Governance records in the Django admin, read-only: every write goes through the services (the
pages and the API), so the admin shows what happened and changes nothing."""

from __future__ import annotations

from django.contrib import admin

from core.admin_site import ServiceModelAdmin
from governance import models as m
from registry.models import RegisteredModel


class ReadOnlyAdmin(ServiceModelAdmin):
    """No service_create/update/delete: administrators and auditors read."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class VisibleByVersion(ReadOnlyAdmin):
    def get_queryset(self, request):
        visible = RegisteredModel.objects.visible_to(request.user).values("pk")
        return super().get_queryset(request).filter(version__model__in=visible)


@admin.register(m.PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "is_current", "business_lines", "legal_entities", "validated_at",
                    "made_current_at", "created_by"]
    list_select_related = ["policy", "created_by"]


@admin.register(m.ModelIntake)
class ModelIntakeAdmin(ReadOnlyAdmin):
    list_display = ["model", "is_model", "computed_tier", "override_tier", "completed_by",
                    "completed_at"]
    list_select_related = ["model", "completed_by"]


@admin.register(m.TierOverride)
class TierOverrideAdmin(ReadOnlyAdmin):
    list_display = ["intake", "tier", "computed_tier", "status", "requested_by", "decided_by",
                    "decided_at"]
    list_select_related = ["intake__model", "requested_by", "decided_by"]


@admin.register(m.VersionGovernance)
class VersionGovernanceAdmin(VisibleByVersion):
    list_display = ["version", "policy_version", "submitted_by", "validator", "decided_at",
                    "next_review_due"]
    list_select_related = ["version__model", "policy_version__policy", "submitted_by",
                           "validator"]


@admin.register(m.ValidationReview)
class ValidationReviewAdmin(VisibleByVersion):
    list_display = ["version", "validator", "conclusion", "concluded_at"]
    list_select_related = ["version__model", "validator"]


@admin.register(m.SignOff)
class SignOffAdmin(VisibleByVersion):
    list_display = ["version", "signer", "role", "decision", "signed_at"]
    list_select_related = ["version__model", "signer"]


@admin.register(m.Evidence)
class EvidenceAdmin(VisibleByVersion):
    list_display = ["version", "check_name", "status", "recorded_at"]
    list_select_related = ["version__model"]


@admin.register(m.Finding)
class FindingAdmin(VisibleByVersion):
    list_display = ["__str__", "version", "severity", "status", "source", "owner", "due_date"]
    list_filter = ["severity", "status", "source"]
    list_select_related = ["version__model", "owner"]
    search_fields = ["title"]


@admin.register(m.FindingComment)
class FindingCommentAdmin(ReadOnlyAdmin):
    list_display = ["finding", "kind", "author", "created_at"]
    list_select_related = ["finding", "author"]


@admin.register(m.FindingAttachment)
class FindingAttachmentAdmin(ReadOnlyAdmin):
    list_display = ["filename", "finding", "sha256", "size", "uploaded_by"]
    list_select_related = ["finding", "uploaded_by"]


@admin.register(m.Waiver)
class WaiverAdmin(VisibleByVersion):
    list_display = ["__str__", "version", "status", "approved_by", "expires_at"]
    list_filter = ["status"]
    list_select_related = ["version__model", "approved_by", "finding"]


@admin.register(m.PeriodicReview)
class PeriodicReviewAdmin(VisibleByVersion):
    list_display = ["version", "reviewer", "conclusion", "due_on", "next_review_due"]
    list_select_related = ["version__model", "reviewer"]


@admin.register(m.Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["user", "kind", "title", "created_at", "emailed", "read_at"]
    list_filter = ["kind"]
    list_select_related = ["user"]
