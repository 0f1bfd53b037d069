"""The independent validator's concluded review of a version."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from governance.models.policies import PolicyVersion
from registry.models import ModelVersion


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
