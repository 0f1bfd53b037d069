"""Governance records: policies, intake and tier, each version's case, reviews, sign-offs, evidence.

Writes go through governance.services; rules about one row live here as methods.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.policy import Definition, TierRules
from registry.models import ModelVersion, RegisteredModel, VersionState


class Policy(models.Model):
    """A named governance policy (e.g. "SR 11-7"); its content lives in versions."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name


class PolicyVersionQuerySet(models.QuerySet):
    def current(self) -> PolicyVersion | None:
        return self.filter(is_current=True).select_related("policy").first()


class PolicyVersion(models.Model):
    """An immutable version of a policy. Exactly one version, of any policy, is current: it is the
    one bound to versions submitted from now on. Old versions stay, since submitted versions
    point at them."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    notes = models.TextField(blank=True)
    is_current = models.BooleanField(default=False)
    validated_at = models.DateTimeField(null=True, blank=True)
    made_current_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = PolicyVersionQuerySet.as_manager()

    class Meta:
        ordering = ["policy__name", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="unique_policy_version"),
            models.UniqueConstraint(fields=["is_current"], condition=Q(is_current=True),
                                    name="one_current_policy_version"),
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.number}"

    @property
    def rules(self) -> Definition:
        return Definition(self.definition)

    def tier_rules(self, tier: int) -> TierRules:
        return self.rules.tier_rules(tier)


class OverrideStatus(models.TextChoices):
    NONE = "none", "No override"
    PENDING = "pending", "Awaiting a risk officer"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ModelIntake(models.Model):
    """Whether a registered thing is a model, and if so its risk tier from the questionnaire.

    The tier in force is the computed one unless a risk officer approved an override.
    """

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE,
                                 related_name="intake")
    is_model = models.BooleanField()
    rationale = models.TextField(blank=True, help_text="Why it is (or is not) a model.")
    answers = models.JSONField(default=dict, blank=True)
    scoring = models.JSONField(default=dict, blank=True)
    computed_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, null=True,
                                       blank=True, related_name="+")
    override_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    override_justification = models.TextField(blank=True)
    override_status = models.CharField(max_length=10, choices=OverrideStatus.choices,
                                       default=OverrideStatus.NONE)
    override_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                              null=True, blank=True, related_name="+")
    override_decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                            null=True, blank=True, related_name="+")
    override_decided_at = models.DateTimeField(null=True, blank=True)
    override_comment = models.TextField(blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    completed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Intake of {self.model}"

    @property
    def audit_model_id(self) -> int:
        return self.model_id

    @property
    def tier(self) -> int | None:
        """The tier in force: an approved override, else the questionnaire's result."""
        if not self.is_model:
            return None
        if self.override_status == OverrideStatus.APPROVED and self.override_tier:
            return self.override_tier
        return self.computed_tier

    @property
    def is_complete(self) -> bool:
        return not self.is_model or self.computed_tier is not None


class VersionGovernanceQuerySet(models.QuerySet):
    def open_queue(self) -> VersionGovernanceQuerySet:
        """Submitted versions that no validator has taken yet."""
        return self.filter(version__state=VersionState.SUBMITTED, validator__isnull=True)


class VersionGovernance(models.Model):
    """The governance case of one model version, opened at its first submission: the policy
    version it is bound to, who submitted it, its validator, and the decision."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE,
                                   related_name="governance")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT,
                                       related_name="cases")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_artifact_sha256 = models.CharField(max_length=64)
    validator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="validations")
    validator_assigned_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = VersionGovernanceQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Governance of {self.version}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id


class Conclusion(models.TextChoices):
    APPROVE = "approve", "Approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions", "Approve with conditions"
    REJECT = "reject", "Reject"


class ValidationReview(models.Model):
    """The independent validator's concluded review of a version (one per version)."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE,
                                   related_name="validation_review")
    validator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField()
    conceptual_soundness = models.TextField()
    data_quality = models.TextField("data quality and relevance")
    outcomes_analysis = models.TextField(help_text="Back-testing, or a benchmark against a "
                                                   "challenger or baseline.")
    implementation_verification = models.TextField()
    artifact_sha256 = models.CharField(max_length=64, help_text="The digest the validator "
                                                                "reviewed; equals the submitted "
                                                                "one.")
    limitations = models.TextField()
    conclusion = models.CharField(max_length=32, choices=Conclusion.choices)
    conditions = models.TextField(blank=True, help_text="Conditions of use, when approving with "
                                                        "conditions.")
    concluded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Review of {self.version}: {self.get_conclusion_display()}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id

    @property
    def approves(self) -> bool:
        return self.conclusion in (Conclusion.APPROVE, Conclusion.APPROVE_WITH_CONDITIONS)


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class SignOff(models.Model):
    """One person's electronic signature on a version pending approval, in one role."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="signoffs")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="signoffs")
    role = models.CharField(max_length=32)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField()
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField()
    artifact_sha256 = models.CharField(max_length=64)
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "signer"], name="one_signoff_per_signer"),
        ]

    def __str__(self) -> str:
        return f"{self.signer} {self.decision} {self.version}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id


class EvidenceStatus(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    WARN = "warn", "Warning"


class Evidence(models.Model):
    """What one check found about a version. The newest row per check is the one that counts."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="evidence")
    check_name = models.CharField("check", max_length=100)
    status = models.CharField(max_length=10, choices=EvidenceStatus.choices)
    figures = models.JSONField(default=dict, blank=True)
    digest = models.CharField(max_length=64, help_text="SHA-256 of the check's full result.")
    source_url = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name_plural = "evidence"
        indexes = [models.Index(fields=["version", "check_name", "-recorded_at"],
                                name="evidence_latest")]

    def __str__(self) -> str:
        return f"{self.check_name}: {self.status}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id
