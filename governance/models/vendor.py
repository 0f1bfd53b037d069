"""Vendor models: the due-diligence checklist the policy defines, answered by the model's owner
and reviewed by its validator, and the vendor's releases as they are announced."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from registry.models import ModelVersion, RegisteredModel


class DiligenceReview(models.TextChoices):
    PENDING = "pending", "Awaiting the validator's review"
    ACCEPTED = "accepted", "Accepted by the validator"
    REJECTED = "rejected", "Rejected by the validator"


# What a validator decides on an answer (the API's input choices).
REVIEW_DECISIONS = (DiligenceReview.ACCEPTED.value, DiligenceReview.REJECTED.value)


class DiligenceAnswer(models.Model):
    """One due-diligence item of a vendor model (``item``: the key the policy gives it), the
    owner's answer with its evidence, and the validator's review of that answer. A new answer
    puts the item back to pending: a review is of the answer it read."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE,
                              related_name="diligence_answers")
    item = models.CharField(max_length=50)
    answer = models.TextField(help_text="The answer, with the evidence it rests on.")
    evidence_reference = models.CharField(max_length=300, blank=True,
                                          help_text="Where the evidence is: a document, a link.")
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    answered_at = models.DateTimeField(default=timezone.now)
    review = models.CharField(max_length=10, choices=DiligenceReview.choices,
                              default=DiligenceReview.PENDING)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["model", "item"]
        constraints = [models.UniqueConstraint(fields=["model", "item"],
                                               name="one_diligence_answer_per_item")]

    def __str__(self) -> str:
        return f"{self.item} of {self.model}"

    @property
    def audit_model_id(self) -> int:
        return self.model_id


class VendorRelease(models.Model):
    """A release the vendor announced (a new model version on their side). Recording it notifies
    the model's owner: a new release calls for a new version here and its review."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE,
                              related_name="vendor_releases")
    label = models.CharField(max_length=100)
    released_on = models.DateField()
    notes = models.TextField(blank=True)
    # The version registered for this release, once there is one.
    version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model", "-released_on", "-id"]
        constraints = [models.UniqueConstraint(fields=["model", "label"],
                                               name="one_vendor_release_per_label")]

    def __str__(self) -> str:
        return f"{self.model} release {self.label}"

    @property
    def audit_model_id(self) -> int:
        return self.model_id
