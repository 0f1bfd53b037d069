"""Sign-offs: electronic signatures on a version pending approval."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from governance.models.policies import PolicyVersion
from registry.models import ModelVersion


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
