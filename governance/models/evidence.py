"""Evidence: what a check found about a version, which the approval gate reads."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from registry.models import ModelVersion


class EvidenceStatus(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    WARN = "warn", "Warning"


class EvidenceOrigin(models.TextChoices):
    """Where a piece of evidence came from: an Assay evaluation run, or a tool outside Assay (a CI
    pipeline, a notebook) through the API. The policy decides, per check, whether external
    evidence can satisfy a requirement."""

    RUN = "run", "Assay evaluation run"
    EXTERNAL = "external", "External tool"


class Evidence(models.Model):
    """What one check found about a version. The newest row per check is the one that counts."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="evidence")
    check_name = models.CharField("check", max_length=100)
    status = models.CharField(max_length=10, choices=EvidenceStatus.choices)
    figures = models.JSONField(default=dict, blank=True)
    digest = models.CharField(max_length=64, help_text="SHA-256 of the check's full result.")
    source_url = models.CharField(max_length=500, blank=True)
    origin = models.CharField(max_length=10, choices=EvidenceOrigin.choices,
                              default=EvidenceOrigin.RUN)
    artifact_digest = models.CharField(
        max_length=64, blank=True,
        help_text="SHA-256 of the ONNX artifact the check ran on (blank: recorded before evidence "
                  "was bound to artifacts).")
    dataset_digests = models.JSONField(
        default=list, blank=True, help_text="SHA-256 of each dataset the check read, in order.")
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
        help_text="Who asked for the evaluation: for evidence a worker records on someone's behalf "
                  "(recorded_by is then empty), the person independence is judged on.")
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
