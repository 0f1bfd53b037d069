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


class SecurityEventCounter(models.Model):
    """Occurrences of one security event (action, principal, reason) within one UTC minute.

    The chain is append-only, so a flood of failed logins cannot be folded by updating an event.
    Instead the first occurrence in a minute is written to the chain at once and later ones only
    increment ``count`` here; when the minute is over, ``core.audit.flush_security_counts`` writes
    the occurrences not yet in the chain (``count - recorded``) as one folded event and deletes the
    row. This table is scratch space, not evidence: the chain is the record.
    """

    action = models.CharField(max_length=64)
    principal = models.CharField(max_length=150)
    reason = models.CharField(max_length=64)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    # Occurrences already written to the chain (1 once the minute's first event is recorded).
    recorded = models.PositiveIntegerField(default=0)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    # The latest occurrence's details (address, path), carried into the folded event.
    payload = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["action", "principal", "reason", "minute"],
                                    name="security_counter_key"),
        ]
        indexes = [models.Index(fields=["minute"], name="security_counter_minute")]

    def __str__(self) -> str:
        return f"{self.action} {self.principal} {self.reason} @{self.minute:%H:%M} x{self.count}"


class VerificationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class Verification(models.Model):
    """A full verification of the trail asked for from its page and run by a worker (trails too
    large to verify within a request); the page polls ``checked`` out of ``total``."""

    status = models.CharField(max_length=10, choices=VerificationStatus.choices,
                              default=VerificationStatus.QUEUED)
    requested_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True,
                                      related_name="+")
    requested_at = models.DateTimeField()
    # The trail page's filter when it was asked for, to return to it.
    query = models.CharField(max_length=1000, blank=True)
    total = models.BigIntegerField(default=0)
    checked = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]

    def __str__(self) -> str:
        return f"verification {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (VerificationStatus.PASSED, VerificationStatus.FAILED)

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        return min(99, int(100 * self.checked / self.total)) if self.total else 0

    @property
    def step(self) -> str:
        """What the progress bar says beside it (core/_progress.html)."""
        return f"{self.checked:,} of {self.total:,} events checked"

    @property
    def dom_id(self) -> str:
        """The id of its element on the trail page, which its progress bar's polls replace."""
        return f"verification-{self.pk}"
