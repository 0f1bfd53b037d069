"""The register of tools that are not models (end-user computing tools, spreadsheets, rules
engines): each an inventory entry whose intake said "not a model", with the lighter workflow
its policy sets per criticality (a controls checklist and a periodic owner review)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from governance.models.policies import PolicyVersion
from registry.models import RegisteredModel


class ToolKind(models.TextChoices):
    EUC = "euc", "End-user computing tool"
    SPREADSHEET = "spreadsheet", "Spreadsheet"
    RULES_ENGINE = "rules_engine", "Rules engine"
    REPORT = "report", "Report or query"
    SCRIPT = "script", "Script or macro"
    OTHER = "other", "Other"


class ToolCriticality(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class ToolQuerySet(models.QuerySet):
    def visible_to(self, user) -> ToolQuerySet:
        """Tools whose inventory entry the user may see (core.permissions.can_view)."""
        return self.filter(model__in=RegisteredModel.objects.visible_to(user).values("pk"))

    def listed(self) -> ToolQuerySet:
        return self.select_related("model__owner", "model__team")

    def review_due_by(self, day: dt.date) -> ToolQuerySet:
        """Tools in use whose next owner review falls on or before ``day``."""
        return self.filter(retired_at__isnull=True, next_review_due__lte=day)


class Tool(models.Model):
    """A tool in the non-model register: what it is, how critical, what it is used for, which of
    its policy's controls are in place, and when its owner must review it next.

    Its name, owner, team and description are those of its inventory entry (``model``), so the
    inventory of record stays one list; the entry's intake recorded it as not a model.
    """

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="tool")
    kind = models.CharField(max_length=20, choices=ToolKind.choices)
    criticality = models.CharField(max_length=10, choices=ToolCriticality.choices)
    usage = models.TextField(help_text="Who uses it, for what, and how often.")
    # The policy's checklist for its criticality, answered: [{"control", "in_place", "note"}].
    controls = models.JSONField(default=list, blank=True)
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    next_review_due = models.DateField()
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                      related_name="+")
    registered_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = ToolQuerySet.as_manager()

    class Meta:
        ordering = ["next_review_due", "id"]
        indexes = [models.Index(fields=["next_review_due"], name="tool_review_due")]

    def __str__(self) -> str:
        return f"{self.model.name} (tool)"

    def get_absolute_url(self) -> str:
        return reverse("governance:tool", kwargs={"slug": self.model.slug})

    @property
    def audit_model_id(self) -> int:
        return self.model_id

    @property
    def controls_missing(self) -> list[str]:
        return [c["control"] for c in self.controls if not c.get("in_place")]

    def is_review_overdue(self, today: dt.date | None = None) -> bool:
        return self.retired_at is None and self.next_review_due < (today or timezone.localdate())


class ToolReview(models.Model):
    """One periodic review of a tool: still used as registered, its controls confirmed, the next
    review date it set."""

    tool = models.ForeignKey(Tool, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+")
    reviewed_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField(help_text="The review date it answers.")
    still_in_use = models.BooleanField()
    controls = models.JSONField(default=list, blank=True)
    notes = models.TextField()
    next_review_due = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-reviewed_at", "-id"]

    def __str__(self) -> str:
        return f"Review of {self.tool} on {self.reviewed_at:%Y-%m-%d}"

    @property
    def audit_model_id(self) -> int:
        return self.tool.model_id
