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


class SignOffQuerySet(models.QuerySet):
    def standing(self) -> SignOffQuerySet:
        """Sign-offs that still count: not invalidated by a tier change since."""
        return self.filter(invalidated_at__isnull=True)


class SignOff(models.Model):
    """One person's electronic signature on a version pending approval, in one role.

    A tier change while the version is pending approval (an approved tier override) restarts the
    sign-offs: the ones given so far are kept, marked ``invalidated_at``, and count no more; their
    signers may sign again at the new tier.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="signoffs")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="signoffs")
    role = models.CharField(max_length=32)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField()
    conditions = models.TextField(
        blank=True, help_text="Conditions the signer attaches to an approval (limits of use, "
        "follow-ups); listed in the approval attestation.")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField()
    artifact_sha256 = models.CharField(max_length=64)
    signed_at = models.DateTimeField(default=timezone.now)
    invalidated_at = models.DateTimeField(null=True, blank=True)

    objects = SignOffQuerySet.as_manager()

    class Meta:
        ordering = ["signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "signer"],
                                    condition=models.Q(invalidated_at__isnull=True),
                                    name="one_standing_signoff_per_signer"),
        ]

    def __str__(self) -> str:
        return f"{self.signer} {self.decision} {self.version}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id
