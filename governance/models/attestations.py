"""Attestations people make about the inventory: owners attest on the policy's cadence that a
model's entry is complete and the model is used as approved; validators attest their independence
when they take a validation. (governance.attestation is a different thing: the signed statement
of an approval.)"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from governance.models.policies import PolicyVersion
from registry.models import ModelVersion, RegisteredModel


class OwnerAttestationQuerySet(models.QuerySet):
    def visible_to(self, user) -> OwnerAttestationQuerySet:
        """Attestations of models the user may see (core.permissions.can_view on the model)."""
        return self.filter(model__in=RegisteredModel.objects.visible_to(user).values("pk"))


class OwnerAttestation(models.Model):
    """A model owner's periodic attestation: the inventory entry is complete and accurate, the
    model is used as approved and within its conditions. The statement, policy and tier are
    those in force when it was made; ``due_on`` is the date it answered."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE,
                              related_name="owner_attestations")
    attested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    attested_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField(help_text="The due date this attestation answered.")
    statement = models.TextField()
    entry_complete = models.BooleanField()
    used_as_approved = models.BooleanField()
    within_conditions = models.BooleanField()
    comment = models.TextField(blank=True)
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField()
    next_due_on = models.DateField()

    objects = OwnerAttestationQuerySet.as_manager()

    class Meta:
        ordering = ["-attested_at"]
        indexes = [models.Index(fields=["model", "-attested_at"], name="attest_model_latest")]

    def __str__(self) -> str:
        return f"Attestation of {self.model} on {self.attested_at:%Y-%m-%d}"

    @property
    def audit_model_id(self) -> int:
        return self.model_id


class IndependenceAttestation(models.Model):
    """A validator's attestation, when taking a version's validation, that they are independent
    of it (no part in its development, use or ownership, no conflict of interest)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE,
                                related_name="independence_attestations")
    validator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    statement = models.TextField()
    attested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["attested_at"]
        constraints = [models.UniqueConstraint(fields=["version", "validator"],
                                               name="one_independence_attestation")]

    def __str__(self) -> str:
        return f"{self.validator} independent of {self.version}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id
