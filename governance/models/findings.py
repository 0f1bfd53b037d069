"""Findings and effective challenge: an issue raised against a version, its discussion and its
attachments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from registry.models import ModelVersion, RegisteredModel


class Severity(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    REMEDIATION_PROPOSED = "remediation_proposed", "Remediation proposed"
    CLOSED = "closed", "Closed"
    ACCEPTED_AS_RISK = "accepted_as_risk", "Accepted as a risk"


UNRESOLVED = (FindingStatus.OPEN, FindingStatus.REMEDIATION_PROPOSED)


class FindingSource(models.TextChoices):
    VALIDATOR = "validator", "Validator"
    EVALUATION = "evaluation", "Evaluation check"
    MONITORING = "monitoring", "Monitoring"
    WAIVER_EXPIRY = "waiver_expiry", "Expired waiver"
    WAIVER_REVOKED = "waiver_revoked", "Revoked waiver"
    REVIEW_OVERDUE = "review_overdue", "Overdue periodic review"
    UPSTREAM_CHANGE = "upstream_change", "Upstream model changed"


class FindingQuerySet(models.QuerySet):
    def visible_to(self, user) -> FindingQuerySet:
        """Findings of versions the user may see (core.permissions.can_view on the model)."""
        return self.filter(version__model__in=RegisteredModel.objects.visible_to(user).values("pk"))

    def listed(self) -> FindingQuerySet:
        """With what a list of findings shows (version and model, owner, raiser)."""
        return self.select_related("version__model", "owner", "raised_by")

    def awaiting(self, user: Any) -> FindingQuerySet:
        """Unresolved findings the user must answer (owner) or, once a remediation is proposed,
        close (as the version's validator or the finding's raiser); soonest due first."""
        closer = Q(version__governance__validator=user) | Q(raised_by=user)
        mine = Q(owner=user) | (Q(status=FindingStatus.REMEDIATION_PROPOSED) & closer)
        return (self.visible_to(user).unresolved().filter(mine).listed()
                .order_by("due_date", "pk"))

    def unresolved(self) -> FindingQuerySet:
        return self.filter(status__in=UNRESOLVED)

    def shown(self, status: str) -> FindingQuerySet:
        """The findings list's filter, shared by the page and its CSV export: ``unresolved``
        (the page's default), one status, or anything else (``all``) for every finding; soonest
        due first."""
        if status == "unresolved":
            return self.unresolved().order_by("due_date", "pk")
        if status in FindingStatus.values:
            return self.filter(status=status).order_by("due_date", "pk")
        return self.order_by("due_date", "pk")

    def open_high(self) -> FindingQuerySet:
        return self.unresolved().filter(severity=Severity.HIGH)

    def overdue(self, today: dt.date) -> FindingQuerySet:
        return self.unresolved().filter(due_date__lt=today)


class Finding(models.Model):
    """An issue raised against a version, which its owner must answer and someone must close on the
    record: the evidence of effective challenge supervisors look for.

    ``source_key`` de-duplicates findings raised by Assay itself (one per evaluation check and
    version that is not closed, per expired waiver, per overdue review date); findings raised by
    people leave it empty.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="findings")
    title = models.CharField(max_length=200)
    description = models.TextField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=24, choices=FindingStatus.choices,
                              default=FindingStatus.OPEN)
    source = models.CharField(max_length=20, choices=FindingSource.choices)
    source_key = models.CharField(max_length=150, blank=True)
    figures = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="owned_findings", help_text="Who must answer it.")
    due_date = models.DateField()
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+")
    raised_at = models.DateTimeField(default=timezone.now)
    remediation = models.TextField(blank=True, help_text="The owner's proposed remediation.")
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            # Closed findings are left out: a check that fails again after its finding was
            # closed raises a new one (services.finding_raise_from_check).
            models.UniqueConstraint(fields=["version", "source_key"],
                                    condition=~Q(source_key="") & ~Q(status="closed"),
                                    name="one_unclosed_finding_per_source_key"),
        ]
        indexes = [models.Index(fields=["status", "severity"], name="finding_status_severity"),
                   models.Index(fields=["owner", "status"], name="finding_owner_status")]

    def __str__(self) -> str:
        return f"F-{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("governance:finding", kwargs={"pk": self.pk})

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id

    @property
    def is_unresolved(self) -> bool:
        return self.status in UNRESOLVED

    @property
    def blocks_approval(self) -> bool:
        return self.is_unresolved and self.severity == Severity.HIGH

    def is_overdue(self, today: dt.date | None = None) -> bool:
        return self.is_unresolved and self.due_date < (today or timezone.localdate())


class CommentKind(models.TextChoices):
    CHALLENGE = "challenge", "Challenge"
    RESPONSE = "response", "Response"
    NOTE = "note", "Note"


class FindingComment(models.Model):
    """One message of a finding's challenge/response discussion (``reply_to`` threads it)."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                               blank=True, related_name="+")
    kind = models.CharField(max_length=10, choices=CommentKind.choices)
    body = models.TextField()
    reply_to = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="replies")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.finding_id}"

    @property
    def audit_model_id(self) -> int:
        return self.finding.version.model_id


class FindingAttachment(models.Model):
    """Evidence attached to a finding, stored content-addressed (registry.storage)."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def audit_model_id(self) -> int:
        return self.finding.version.model_id
