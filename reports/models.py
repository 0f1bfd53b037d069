"""What the reports app stores: the files it generated (with their SHA-256) and the narrative
sections of a model card that the model's owner writes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from registry.models import ModelVersion


class ReportKind(models.TextChoices):
    MODEL_CARD = "model_card", "Model card"
    VALIDATION_REPORT = "validation_report", "Validation report"
    CERTIFICATE = "certificate", "Approval certificate"


class Report(models.Model):
    """A generated PDF/A file of a version. The bytes live in the content-addressed store
    (``registry.storage``) under ``sha256``; this row says what they are. A ``frozen`` report is
    the one archived at approval (validation report, model card) and is served from then on,
    never regenerated; every certificate is frozen (one per approval attestation, made when the
    approval commits)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="reports")
    kind = models.CharField(max_length=20, choices=ReportKind.choices)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    pages = models.PositiveIntegerField()
    frozen = models.BooleanField(default=False)
    # The approval attestation a certificate is the record of (its signature row's id).
    signature_id = models.BigIntegerField(null=True, blank=True)
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     null=True, blank=True, related_name="+")
    generated_at = models.DateTimeField(default=timezone.now)
    seconds = models.FloatField(help_text="How long the PDF took to render.")

    class Meta:
        ordering = ["-generated_at", "-id"]
        indexes = [models.Index(fields=["version", "kind", "-generated_at"],
                                name="report_version_kind")]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "kind"],
                condition=models.Q(frozen=True) & ~models.Q(kind="certificate"),
                name="one_frozen_report_per_kind"),
            # A certificate is the record of one attestation: a re-signing makes another.
            models.UniqueConstraint(fields=["signature_id"], condition=models.Q(
                kind="certificate"), name="one_certificate_per_attestation")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.version} ({self.sha256[:12]})"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id

    @property
    def filename(self) -> str:
        model = self.version.model
        return f"{model.slug}-v{self.version.number}-{self.kind.replace('_', '-')}.pdf"


class ModelCardNarrative(models.Model):
    """The sections of a version's model card that Assay cannot know and its owner writes; they
    can change until the version is approved, and are frozen from then on."""

    SECTIONS = ("overview", "limitations", "tradeoffs", "ethical_considerations",
                "recommendations")

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE,
                                   related_name="model_card_narrative")
    overview = models.TextField(blank=True)
    limitations = models.TextField(blank=True)
    tradeoffs = models.TextField(blank=True)
    ethical_considerations = models.TextField(blank=True)
    recommendations = models.TextField("caveats and recommendations", blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Model card narrative of {self.version}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id
