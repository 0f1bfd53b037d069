"""The audit trail: one append-only, hash-chained row per change. See core/audit.py."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One recorded change or security event.

    Rows are only ever inserted, through ``core.audit.record``; on PostgreSQL triggers refuse
    UPDATE, DELETE and TRUNCATE. Actor id and username are copied as plain values so that deleting
    a user leaves the trail untouched.
    """

    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # Lets a per-model extract find every event about a model, its versions and its reviews.
    model_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    event_digest = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["model_id", "seq"], name="audit_model_seq"),
            models.Index(fields=["actor_id", "seq"], name="audit_actor_seq"),
            models.Index(fields=["action", "seq"], name="audit_action_seq"),
            models.Index(fields=["occurred_at"], name="audit_occurred"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"
