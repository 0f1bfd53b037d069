"""Findings and effective challenge: an issue raised against a version, its discussion and its
attachments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, TruncDate
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
    ATTESTATION_OVERDUE = "attestation_overdue", "Overdue owner attestation"


class FindingCategory(models.TextChoices):
    """What kind of weakness a finding is (the finding taxonomy)."""

    DATA = "data", "Data"
    METHODOLOGY = "methodology", "Methodology and assumptions"
    IMPLEMENTATION = "implementation", "Implementation"
    PERFORMANCE = "performance", "Performance"
    FAIRNESS = "fairness", "Fairness and bias"
    DOCUMENTATION = "documentation", "Documentation"
    USE = "use", "Use outside the approved scope"
    MONITORING = "monitoring", "Monitoring"
    GOVERNANCE = "governance", "Governance and controls"
    VENDOR = "vendor", "Vendor and third party"
    OTHER = "other", "Other"


class RootCause(models.TextChoices):
    """Why the weakness arose (the finding taxonomy)."""

    DATA_QUALITY = "data_quality", "Data quality or availability"
    DESIGN = "design", "Model design or assumptions"
    CODING = "coding", "Coding or implementation error"
    TESTING = "testing", "Insufficient testing"
    CHANGE = "change", "Change not managed"
    ENVIRONMENT = "environment", "Changed conditions or population"
    PROCESS = "process", "Process or control gap"
    SKILLS = "skills", "Skills or resources"
    OTHER = "other", "Other"


class SR117Area(models.TextChoices):
    """The SR 11-7 area a finding bears on (Federal Reserve SR 11-7, sections IV to VI)."""

    DEVELOPMENT = "development", "Model development"
    IMPLEMENTATION = "implementation", "Implementation and use"
    CONCEPTUAL_SOUNDNESS = "conceptual_soundness", "Validation: conceptual soundness"
    ONGOING_MONITORING = "ongoing_monitoring", "Validation: ongoing monitoring"
    OUTCOMES_ANALYSIS = "outcomes_analysis", "Validation: outcomes analysis"
    GOVERNANCE = "governance", "Governance, policies and controls"
    VENDOR = "vendor", "Vendor and other third-party products"


# Ageing buckets of a finding's days open: (key, label, first day, last day or None).
AGEING_BUCKETS: tuple[tuple[str, str, int, int | None], ...] = (
    ("0-30", "0-30 days", 0, 30), ("31-90", "31-90 days", 31, 90),
    ("91-180", "91-180 days", 91, 180), ("181+", "over 180 days", 181, None))
# The taxonomy filters' value for "not classified yet".
UNCLASSIFIED = "none"


def ageing_bucket(days: int) -> str:
    """The key of the ageing bucket ``days`` open falls in."""
    return next(key for key, _label, low, high in AGEING_BUCKETS
                if days >= low and (high is None or days <= high))


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

    def classified(self, *, category: str = "", root_cause: str = "", sr117_area: str = ""
                   ) -> FindingQuerySet:
        """The taxonomy filters of the list and the API: each a value of its choices, or
        ``none`` for findings not classified on it yet; anything else does not filter."""
        qs = self
        for field, value, choices in (("category", category, FindingCategory.values),
                                      ("root_cause", root_cause, RootCause.values),
                                      ("sr117_area", sr117_area, SR117Area.values)):
            if value == UNCLASSIFIED:
                qs = qs.filter(**{field: ""})
            elif value in choices:
                qs = qs.filter(**{field: value})
        return qs

    def aged(self, bucket: str, today: dt.date) -> FindingQuerySet:
        """Findings whose days open (to ``today``, or to their resolution) fall in ``bucket``
        (a key of AGEING_BUCKETS); anything else does not filter."""
        spec = next((b for b in AGEING_BUCKETS if b[0] == bucket), None)
        if spec is None:
            return self
        _key, _label, low, high = spec
        # Days open counts whole days from the raising date to today (or the resolution date).
        end = Coalesce(TruncDate("resolved_at"),
                                        models.Value(today))
        qs = self.annotate(_opened=TruncDate("raised_at"))
        qs = qs.annotate(_days=models.ExpressionWrapper(
            end - models.F("_opened"), output_field=models.DurationField()))
        qs = qs.filter(_days__gte=dt.timedelta(days=low))
        return qs if high is None else qs.filter(_days__lte=dt.timedelta(days=high))

    def ageing_summary(self, today: dt.date) -> list[dict[str, Any]]:
        """How many unresolved findings fall in each ageing bucket, and how many are high."""
        counts = {key: 0 for key, *_ in AGEING_BUCKETS}
        high = {key: 0 for key, *_ in AGEING_BUCKETS}
        for raised_at, severity in self.unresolved().values_list("raised_at", "severity"):
            key = ageing_bucket((today - timezone.localdate(raised_at)).days)
            counts[key] += 1
            high[key] += severity == Severity.HIGH
        return [{"key": key, "label": label, "count": counts[key], "high": high[key]}
                for key, label, *_ in AGEING_BUCKETS]

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
    # The finding taxonomy: optional when raising (Assay's own findings start unclassified),
    # set or changed by the validator or risk officer (services.finding_classify).
    category = models.CharField(max_length=20, choices=FindingCategory.choices, blank=True)
    root_cause = models.CharField(max_length=20, choices=RootCause.choices, blank=True)
    sr117_area = models.CharField("SR 11-7 area", max_length=24, choices=SR117Area.choices,
                                  blank=True)

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

    def days_open(self, today: dt.date | None = None) -> int:
        """Whole days from raising to resolution, or to today while unresolved."""
        end = (timezone.localdate(self.resolved_at) if self.resolved_at and
               not self.is_unresolved else (today or timezone.localdate()))
        return max(0, (end - timezone.localdate(self.raised_at)).days)

    @property
    def ageing(self) -> str:
        """The ageing bucket of its days open (AGEING_BUCKETS)."""
        return ageing_bucket(self.days_open())


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
