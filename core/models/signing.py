"""Signing keys (public halves only) and the signed checkpoints of the audit chain."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class KeyPurpose(models.TextChoices):
    """What a key may sign. A key has exactly one purpose, so one leak cannot forge everything."""

    AUDIT_CHECKPOINT = "audit_checkpoint", "Audit checkpoints"
    ARTIFACT = "artifact", "Artifacts"  # reserved for the signing issue
    APPROVAL = "approval", "Approvals"  # reserved for the signing issue


class SigningKeyQuerySet(models.QuerySet["SigningKey"]):
    def active(self) -> SigningKeyQuerySet:
        return self.filter(retired_at__isnull=True, revoked_at__isnull=True)


class SigningKey(models.Model):
    """The public half of a signing key, with its purpose and validity.

    The private half lives in a file under ``settings.KEY_DIR`` named by ``keyid`` and never enters
    the database. ``keyid`` is the SHA-256 of the public key (DER SubjectPublicKeyInfo), so an id
    names exactly one public key. A retired key signs nothing new but its past signatures stay
    valid; a revoked key (compromise) is trusted for nothing, past signatures included.
    """

    keyid = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=32, choices=KeyPurpose.choices)
    algorithm = models.CharField(max_length=32, default="ecdsa-p256-sha256")
    public_key_pem = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.TextField(blank=True)

    objects = SigningKeyQuerySet.as_manager()

    class Meta:
        ordering = ["purpose", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose"], condition=Q(retired_at__isnull=True, revoked_at__isnull=True),
                name="one_active_key_per_purpose",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.keyid[:16]}"

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        return "retired" if self.retired_at else "active"


class Checkpoint(models.Model):
    """A signed statement "the chain's head was (seq, chain_hash) at signed_at".

    Also appended to ``settings.CHECKPOINT_FILE``, outside the database, so that rewriting the
    chain (even with every hash recomputed) or losing its tail shows up as a mismatch.
    """

    class Reason(models.TextChoices):
        SCHEDULE = "schedule", "Scheduled"
        EXPORT = "export", "Export"
        MANUAL = "manual", "Manual"

    seq = models.BigIntegerField()
    chain_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    keyid = models.CharField(max_length=64)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    envelope = models.JSONField()

    class Meta:
        ordering = ["seq", "signed_at"]
        indexes = [models.Index(fields=["seq"], name="checkpoint_seq")]

    def __str__(self) -> str:
        return f"checkpoint #{self.pk} at seq {self.seq}"
