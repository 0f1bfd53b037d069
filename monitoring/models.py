"""Ongoing monitoring of approved, deployed versions (docs/monitoring.md).

A version gets its ``MonitoringPlan`` at approval, from its tier's monitoring policy. Beat checks
each plan at its frequency: the prediction log rows written since the last check are counted
once into a ``MonitoringWindow`` (mergeable aggregates: drift counts in the reference's bins,
data-quality counters), and a ``MonitoringCheck`` computes the statistics from the windows of
the rolling period, compares them with the plan's thresholds and acts on breaches. Applications
post ``Outcome``\\s and ``Override``\\s, joined to predictions by request id.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from registry.models import ModelVersion
from serving.models import AppKey


class MonitoringPlanQuerySet(models.QuerySet):
    def visible_to(self, user) -> MonitoringPlanQuerySet:
        return self.filter(version__in=ModelVersion.objects.visible_to(user).values("pk"))

    def due(self, now) -> MonitoringPlanQuerySet:
        return self.filter(next_check_at__lte=now)


class PlanStatus(models.TextChoices):
    NO_DATA = "no_data", "No data yet"
    OK = "ok", "Within thresholds"
    BREACH = "breach", "Breach"
    SEVERE = "severe", "Severe breach"


class MonitoringPlan(models.Model):
    """What is watched on one approved version, how often and what a breach does: ``rules`` is
    a monitoring policy (governance.policy.monitoring_rules), copied at approval from the tier's
    policy and changed only by the owner with the validator's agreement (``PlanChange``).

    ``reference`` holds what the statistics compare with, fixed once from the validated
    reference data (the data set of the version's latest succeeded evaluation run): the drift
    bins and the reference's counts in them, numeric ranges, the input schema, and the
    validated performance figures."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE,
                                   related_name="monitoring_plan")
    rules = models.JSONField()
    policy_version_id_at_approval = models.IntegerField(null=True, blank=True)
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    reference = models.JSONField(null=True, blank=True)
    reference_note = models.TextField(blank=True, help_text="Why drift is not computed, if so.")
    created_at = models.DateTimeField(default=timezone.now)
    next_check_at = models.DateTimeField(default=timezone.now)
    last_log_at = models.DateTimeField(null=True, blank=True,
                                       help_text="Prediction log rows up to here are counted.")
    status = models.CharField(max_length=10, choices=PlanStatus.choices,
                              default=PlanStatus.NO_DATA)

    objects = MonitoringPlanQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["next_check_at"], name="monitoring_plan_due")]

    def __str__(self) -> str:
        return f"Monitoring plan of {self.version}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id


class ChangeStatus(models.TextChoices):
    PROPOSED = "proposed", "Awaiting the validator"
    AGREED = "agreed", "Agreed"
    DECLINED = "declined", "Declined"


class PlanChange(models.Model):
    """A change of a plan's rules proposed by the model's owner; it applies once the version's
    validator agrees."""

    plan = models.ForeignKey(MonitoringPlan, on_delete=models.CASCADE, related_name="changes")
    rules = models.JSONField()
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=ChangeStatus.choices,
                              default=ChangeStatus.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["plan"], condition=models.Q(
            status="proposed"), name="one_proposed_change_per_plan")]

    def __str__(self) -> str:
        return f"change {self.pk} of {self.plan}"

    @property
    def audit_model_id(self) -> int:
        return self.plan.version.model_id


class MonitoringWindow(models.Model):
    """The prediction log rows of one version from ``start`` (exclusive) to ``end``
    (inclusive), counted once: ``counts`` are drift counts in the plan's reference bins
    (evaluation.metrics.drift.counts_as_dict) and ``quality`` the data-quality counters. Windows
    add up, so a statistic over a month merges windows instead of reading a month of rows."""

    plan = models.ForeignKey(MonitoringPlan, on_delete=models.CASCADE, related_name="windows")
    start = models.DateTimeField()
    end = models.DateTimeField()
    requests = models.PositiveIntegerField()
    rows = models.PositiveIntegerField()
    counts = models.JSONField(null=True, blank=True)
    quality = models.JSONField(default=dict)
    outcomes = models.JSONField(
        null=True, blank=True, help_text="The outcomes recorded in the window, joined to their "
        "predictions, as mergeable sums (monitoring.outcomes.OutcomeSums).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-end", "-id"]
        indexes = [models.Index(fields=["plan", "-end"], name="monitoring_window_end")]

    def __str__(self) -> str:
        return f"window {self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M} of {self.plan}"


class MonitoringCheck(models.Model):
    """One scheduled check of a plan: the statistics over the rolling period ending at ``at``
    and which of them breached. The control charts draw these over time."""

    plan = models.ForeignKey(MonitoringPlan, on_delete=models.CASCADE, related_name="checks")
    at = models.DateTimeField(default=timezone.now)
    period_start = models.DateTimeField()
    rows = models.PositiveIntegerField()
    statistics = models.JSONField(default=dict)
    details = models.JSONField(default=dict)
    breaches = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=PlanStatus.choices)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["plan", "-at"], name="monitoring_check_at")]

    def __str__(self) -> str:
        return f"check {self.pk} of {self.plan}"

    @property
    def audit_model_id(self) -> int:
        return self.plan.version.model_id


class Outcome(models.Model):
    """The actual outcome of a prediction, posted later by the application, joined to the
    prediction log by (endpoint, request id, row of the batch)."""

    endpoint_slug = models.CharField(max_length=64)
    request_id = models.CharField(max_length=64)
    row = models.PositiveIntegerField(default=0)
    outcome = models.JSONField()
    sensitive = models.JSONField(default=dict, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", null=True, blank=True)
    recorded_by_key = models.ForeignKey(
        AppKey, on_delete=models.PROTECT, related_name="+", null=True, blank=True,
        help_text="The application key it was posted with (else a person posted it).")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint_slug", "request_id", "row"],
                                               name="one_outcome_per_prediction"),
                       models.CheckConstraint(
                           condition=models.Q(recorded_by__isnull=False)
                           | models.Q(recorded_by_key__isnull=False),
                           name="outcome_recorded_by_someone")]
        indexes = [models.Index(fields=["endpoint_slug", "-recorded_at"],
                                name="outcome_by_endpoint")]

    def __str__(self) -> str:
        return f"outcome of {self.endpoint_slug} {self.request_id}[{self.row}]"


class Override(models.Model):
    """A person overrode the model's decision on a prediction, with the reason."""

    endpoint_slug = models.CharField(max_length=64)
    request_id = models.CharField(max_length=64)
    row = models.PositiveIntegerField(default=0)
    reason = models.CharField(max_length=100, help_text="A short reason code, e.g. "
                              "'policy_exception' or 'customer_documents'.")
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", null=True, blank=True)
    recorded_by_key = models.ForeignKey(
        AppKey, on_delete=models.PROTECT, related_name="+", null=True, blank=True,
        help_text="The application key it was posted with (else a person posted it).")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint_slug", "request_id", "row"],
                                               name="one_override_per_prediction"),
                       models.CheckConstraint(
                           condition=models.Q(recorded_by__isnull=False)
                           | models.Q(recorded_by_key__isnull=False),
                           name="override_recorded_by_someone")]
        indexes = [models.Index(fields=["endpoint_slug", "-recorded_at"],
                                name="override_by_endpoint")]

    def __str__(self) -> str:
        return f"override of {self.endpoint_slug} {self.request_id}[{self.row}]"
