"""Notifications: a user's in-app inbox, and whether they want each kind by email."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class NotificationKind(models.TextChoices):
    SUBMITTED = "submitted", "Version submitted for validation"
    ASSIGNMENT = "assignment", "Validation assigned to you"
    SIGNOFF_REQUESTED = "signoff_requested", "Sign-off requested"
    DECISION = "decision", "Decision on a version"
    FINDING_RAISED = "finding_raised", "Finding raised"
    REMEDIATION_PROPOSED = "remediation_proposed", "Remediation proposed"
    FINDING_DUE = "finding_due", "Finding coming due"
    FINDING_OVERDUE = "finding_overdue", "Finding overdue"
    WAIVER_EXPIRING = "waiver_expiring", "Waiver expiring"
    WAIVER_EXPIRED = "waiver_expired", "Waiver expired or revoked"
    REVIEW_DUE = "review_due", "Periodic review coming due"
    REVIEW_OVERDUE = "review_overdue", "Periodic review overdue"
    DEPLOYMENT = "deployment", "Your version deployed, rolled back or suspended"
    SERVED_VERSION = "served_version", "A version your endpoint serves suspended or reinstated"
    MONITORING_ALERT = "monitoring_alert", "Monitoring breach on a deployed version"
    MONITORING_PLAN = "monitoring_plan", "Monitoring plan change to agree or decided"
    POLICY_DRAFTED = "policy_drafted", "Policy draft waiting for your approval"
    POLICY_APPROVED = "policy_approved", "Your policy draft approved and current"
    POLICY_DECLINED = "policy_declined", "Your policy draft declined"
    REPORT_READY = "report_ready", "Your export is ready"
    MODEL_OWNED = "model_owned", "A model registered or transferred to you"
    REVIEW_RESCHEDULED = "review_rescheduled", "Periodic review re-scheduled by a new policy"
    VENDOR_RELEASE = "vendor_release", "A vendor released a new version of your model"
    DUE_DILIGENCE = "due_diligence", "Vendor due diligence to review or answer again"
    TOOL_REVIEW_DUE = "tool_review_due", "Tool review coming due"
    TOOL_REVIEW_OVERDUE = "tool_review_overdue", "Tool review overdue"
    TIER_RAISED = "tier_raised", "A use case raised a model's tier"
    ATTESTATION_DUE = "attestation_due", "Owner attestation coming due"
    ATTESTATION_OVERDUE = "attestation_overdue", "Owner attestation overdue"
    UPSTREAM_CHANGED = "upstream_changed", "A model yours depends on was suspended, retired or changed"
    CHANGE_CLASS = "change_class", "A version's change classification confirmed or changed"


class NotificationQuerySet(models.QuerySet):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One message in a user's in-app inbox (and, by preference, an email).

    The unique key (user, kind, object, period) makes every notification happen once: a scheduled
    scan that runs twice finds the row and sends nothing.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    period = models.CharField(max_length=32, blank=True,
                              help_text="What makes a repeat distinct (a due date, a state).")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    emailed = models.BooleanField(default=False)
    # The email's outbox state: when its task was last sent to the broker, and when it was sent
    # or given up. One still pending long after is sent again (broker outages).
    email_queued_at = models.DateTimeField(default=timezone.now)
    email_done_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "object_type", "object_id", "period"],
                                    name="one_notification_per_key"),
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.title}"


class NotificationPreference(models.Model):
    """Whether a user wants email for one kind of notification (no row: email on)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notification_preferences")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"],
                                               name="one_preference_per_kind")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: email {'on' if self.email else 'off'}"
