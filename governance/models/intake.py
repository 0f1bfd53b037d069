"""The intake of a registered model ("is it a model?"), its tier, and requests to override the tier."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.models.policies import PolicyVersion
from registry.models import RegisteredModel


class OverrideStatus(models.TextChoices):
    PENDING = "pending", "Awaiting a risk officer"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ModelIntake(models.Model):
    """Whether a registered thing is a model, and if so its risk tier from the questionnaire.

    The tier in force is the computed one unless a risk officer approved an override
    (``override``, a TierOverride). An approved override stays in force until a risk officer
    approves another request: neither a new request (pending beside it) nor new answers to the
    questionnaire (which only change ``computed_tier``) undo a risk officer's decision.
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
    # The approved override in force, and its tier (kept here so reading the tier needs no join;
    # both are set and cleared together by governance.services.intake).
    override = models.ForeignKey("TierOverride", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    override_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    # The most critical tier of the model's other use cases (UseCase), kept here by
    # governance.services.use_cases so reading the tier needs no join.
    use_case_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    completed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Intake of {self.model}"

    @property
    def audit_model_id(self) -> int:
        return self.model_id

    @property
    def primary_tier(self) -> int | None:
        """The tier of the model's main purpose: an approved override, else the
        questionnaire's result."""
        if not self.is_model:
            return None
        return self.override_tier or self.computed_tier

    @property
    def tier(self) -> int | None:
        """The tier in force: the most critical (lowest number) of the main purpose's tier and
        its other use cases' tiers."""
        tiers = [t for t in (self.primary_tier, self.use_case_tier) if t is not None]
        return min(tiers) if tiers and self.is_model else None

    @property
    def governed_by_use_case(self) -> bool:
        """Whether one of its other use cases, not its main purpose, sets the tier in force."""
        return self.use_case_tier is not None and self.tier == self.use_case_tier \
            and self.use_case_tier != self.primary_tier

    @property
    def pending_override(self) -> TierOverride | None:
        return self.overrides.filter(status=OverrideStatus.PENDING).first()


class TierOverride(models.Model):
    """A request for a tier other than the questionnaire's, and a risk officer's decision on it.

    A request for the computed tier while an override is in force asks to go back to the
    questionnaire's tier. At most one request per model awaits a decision.
    """

    intake = models.ForeignKey(ModelIntake, on_delete=models.CASCADE, related_name="overrides")
    tier = models.PositiveSmallIntegerField()
    computed_tier = models.PositiveSmallIntegerField(help_text="The questionnaire's tier when "
                                                               "the override was asked for.")
    justification = models.TextField()
    status = models.CharField(max_length=10, choices=OverrideStatus.choices,
                              default=OverrideStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["intake"], condition=Q(status="pending"),
                                    name="one_pending_tier_override"),
        ]

    def __str__(self) -> str:
        return f"Tier {self.tier} override of {self.intake.model} ({self.status})"

    @property
    def audit_model_id(self) -> int:
        return self.intake.model_id

    @property
    def reverts(self) -> bool:
        """Whether it asks to go back to the questionnaire's tier."""
        return self.tier == self.computed_tier


class UseCase(models.Model):
    """One more purpose a model is used for, beside the one its intake describes, tiered by the
    same questionnaire. The most critical tier among them and the intake's governs the model."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE,
                              related_name="use_cases")
    name = models.CharField(max_length=200)
    description = models.TextField()
    business_line = models.CharField(max_length=100, blank=True)
    answers = models.JSONField(default=dict)
    scoring = models.JSONField(default=dict)
    tier = models.PositiveSmallIntegerField()
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tier", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["model", "name"],
                                               name="one_use_case_per_name")]

    def __str__(self) -> str:
        return f"{self.name} (use of {self.model})"

    @property
    def audit_model_id(self) -> int:
        return self.model_id
