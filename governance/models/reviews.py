"""Periodic review: the concluded reviews of approved versions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from governance.models.policies import PolicyVersion
from registry.models import ModelVersion


class ReviewConclusion(models.TextChoices):
    CONTINUE = "continue", "Continue"
    CONTINUE_WITH_CONDITIONS = "continue_with_conditions", "Continue with conditions"
    RETIRE = "retire", "Retire"


class PeriodicReview(models.Model):
    """A concluded periodic review of an approved version: like a validation, with a conclusion
    (continue, continue with conditions, retire) that sets the next due date or retires it."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE,
                                related_name="periodic_reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField()
    due_on = models.DateField(help_text="The due date this review answers.")
    performance = models.TextField(help_text="How the model performed since the last review.")
    changes = models.TextField(help_text="Changes in use, data or environment since then.")
    limitations = models.TextField()
    conclusion = models.CharField(max_length=32, choices=ReviewConclusion.choices)
    conditions = models.TextField(blank=True)
    next_review_due = models.DateField(null=True, blank=True)
    concluded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-concluded_at", "-id"]

    def __str__(self) -> str:
        return f"Periodic review of {self.version}: {self.get_conclusion_display()}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id
