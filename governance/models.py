"""Governance records: policies, intake and tier, each version's case, reviews, sign-offs, evidence.

Writes go through governance.services; rules about one row live here as methods.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.policy import Definition, TierRules
from registry.models import ModelVersion, RegisteredModel, VersionState


class Policy(models.Model):
    """A named governance policy (e.g. "SR 11-7"); its content lives in versions."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name


class PolicyVersionQuerySet(models.QuerySet):
    def current(self) -> PolicyVersion | None:
        return self.filter(is_current=True).select_related("policy").first()


class PolicyVersion(models.Model):
    """An immutable version of a policy. Exactly one version, of any policy, is current: it is the
    one bound to versions submitted from now on. Old versions stay, since submitted versions
    point at them."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    notes = models.TextField(blank=True)
    is_current = models.BooleanField(default=False)
    validated_at = models.DateTimeField(null=True, blank=True)
    made_current_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = PolicyVersionQuerySet.as_manager()

    class Meta:
        ordering = ["policy__name", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="unique_policy_version"),
            models.UniqueConstraint(fields=["is_current"], condition=Q(is_current=True),
                                    name="one_current_policy_version"),
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.number}"

    @property
    def rules(self) -> Definition:
        return Definition(self.definition)

    def tier_rules(self, tier: int) -> TierRules:
        return self.rules.tier_rules(tier)


class OverrideStatus(models.TextChoices):
    PENDING = "pending", "Awaiting a risk officer"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ModelIntake(models.Model):
    """Whether a registered thing is a model, and if so its risk tier from the questionnaire.

    The tier in force is the computed one unless a risk officer approved an override
    (``override``, a TierOverride). An approved override stays in force until a risk officer
    approves another request: neither a new request (pending beside it) nor new answers to the
    questionnaire (which only change ``computed_tier``) undo a risk officer's decision.
    """

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE,
                                 related_name="intake")
    is_model = models.BooleanField()
    rationale = models.TextField(blank=True, help_text="Why it is (or is not) a model.")
    answers = models.JSONField(default=dict, blank=True)
    scoring = models.JSONField(default=dict, blank=True)
    computed_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, null=True,
                                       blank=True, related_name="+")
    # The approved override in force, and its tier (kept here so reading the tier needs no join;
    # both are set and cleared together by governance.services.intake).
    override = models.ForeignKey("TierOverride", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    override_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    completed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Intake of {self.model}"

    @property
    def audit_model_id(self) -> int:
        return self.model_id

    @property
    def tier(self) -> int | None:
        """The tier in force: an approved override, else the questionnaire's result."""
        if not self.is_model:
            return None
        return self.override_tier or self.computed_tier

    @property
    def is_complete(self) -> bool:
        return not self.is_model or self.computed_tier is not None

    @property
    def pending_override(self) -> TierOverride | None:
        return self.overrides.filter(status=OverrideStatus.PENDING).first()


class TierOverride(models.Model):
    """A request for a tier other than the questionnaire's, and a risk officer's decision on it.

    A request for the computed tier while an override is in force asks to go back to the
    questionnaire's tier. At most one request per model awaits a decision.
    """

    intake = models.ForeignKey(ModelIntake, on_delete=models.CASCADE, related_name="overrides")
    tier = models.PositiveSmallIntegerField()
    computed_tier = models.PositiveSmallIntegerField(help_text="The questionnaire's tier when "
                                                               "the override was asked for.")
    justification = models.TextField()
    status = models.CharField(max_length=10, choices=OverrideStatus.choices,
                              default=OverrideStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["intake"], condition=Q(status="pending"),
                                    name="one_pending_tier_override"),
        ]

    def __str__(self) -> str:
        return f"Tier {self.tier} override of {self.intake.model} ({self.status})"

    @property
    def audit_model_id(self) -> int:
        return self.intake.model_id

    @property
    def reverts(self) -> bool:
        """Whether it asks to go back to the questionnaire's tier."""
        return self.tier == self.computed_tier


class VersionGovernanceQuerySet(models.QuerySet):
    def open_queue(self) -> VersionGovernanceQuerySet:
        """Submitted versions that no validator has taken yet."""
        return self.filter(version__state=VersionState.SUBMITTED, validator__isnull=True)

    def under_review_schedule(self) -> VersionGovernanceQuerySet:
        """Approved versions, which periodic review keeps an eye on."""
        return self.filter(version__state=VersionState.APPROVED, next_review_due__isnull=False)

    def review_overdue(self, today: dt.date) -> VersionGovernanceQuerySet:
        return self.under_review_schedule().filter(next_review_due__lt=today)

    def review_coming_due(self, today: dt.date, days: int) -> VersionGovernanceQuerySet:
        return self.under_review_schedule().filter(
            next_review_due__gte=today, next_review_due__lte=today + dt.timedelta(days=days))


class VersionGovernance(models.Model):
    """The governance case of one model version, opened at its first submission: the policy
    version it is bound to, who submitted it, its validator, and the decision."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE,
                                   related_name="governance")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT,
                                       related_name="cases")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_artifact_sha256 = models.CharField(max_length=64)
    validator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="validations")
    validator_assigned_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # The tier in force at submission, bound again at the decision (a risk officer may change the
    # tier while the version is in flight, and the signers signed at that tier). Once decided,
    # the version shows and keeps this tier, whatever the model's tier becomes later.
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    # Who owned and developed the model, and who submitted the version, at each submission: ids
    # under "owners", "developers" and "submitters", accumulated over resubmissions. Independence
    # is judged against these as well as the model's people now, so taking someone off the
    # developer list while the version is in flight does not make them independent of it.
    people_at_submission = models.JSONField(default=dict, blank=True)
    # Set at approval (and after each periodic review) from the tier's revalidation interval in
    # the policy bound at submission.
    next_review_due = models.DateField(null=True, blank=True)

    objects = VersionGovernanceQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Governance of {self.version}"

    def ids_at_submission(self, kind: str) -> frozenset[int]:
        """Ids of the "owners", "developers" or "submitters" recorded at submission."""
        return frozenset((self.people_at_submission or {}).get(kind, []))

    def record_people(self, *, owner_id: int, developer_ids: frozenset[int],
                      submitter_id: int | None) -> None:
        """Add the model's people of this (re)submission to the snapshot (never removes any)."""
        now = {"owners": {owner_id}, "developers": set(developer_ids),
               "submitters": {submitter_id} - {None}}
        self.people_at_submission = {
            kind: sorted(self.ids_at_submission(kind) | ids) for kind, ids in now.items()}

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id


class Conclusion(models.TextChoices):
    APPROVE = "approve", "Approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions", "Approve with conditions"
    REJECT = "reject", "Reject"


class ValidationReview(models.Model):
    """The independent validator's concluded review of a version (one per version)."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE,
                                   related_name="validation_review")
    validator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField()
    conceptual_soundness = models.TextField()
    data_quality = models.TextField("data quality and relevance")
    outcomes_analysis = models.TextField(help_text="Back-testing, or a benchmark against a "
                                                   "challenger or baseline.")
    implementation_verification = models.TextField()
    artifact_sha256 = models.CharField(max_length=64, help_text="The digest the validator "
                                                                "reviewed; equals the submitted "
                                                                "one.")
    limitations = models.TextField()
    conclusion = models.CharField(max_length=32, choices=Conclusion.choices)
    conditions = models.TextField(blank=True, help_text="Conditions of use, when approving with "
                                                        "conditions.")
    concluded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Review of {self.version}: {self.get_conclusion_display()}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id

    @property
    def approves(self) -> bool:
        return self.conclusion in (Conclusion.APPROVE, Conclusion.APPROVE_WITH_CONDITIONS)


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


class EvidenceStatus(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    WARN = "warn", "Warning"


class Evidence(models.Model):
    """What one check found about a version. The newest row per check is the one that counts."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="evidence")
    check_name = models.CharField("check", max_length=100)
    status = models.CharField(max_length=10, choices=EvidenceStatus.choices)
    figures = models.JSONField(default=dict, blank=True)
    digest = models.CharField(max_length=64, help_text="SHA-256 of the check's full result.")
    source_url = models.CharField(max_length=500, blank=True)
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


# ---------------------------------------------------------------------------------------------
# Part 2: findings and effective challenge, waivers, periodic review, notifications.

class Severity(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    REMEDIATION_PROPOSED = "remediation_proposed", "Remediation proposed"
    CLOSED = "closed", "Closed"
    ACCEPTED_AS_RISK = "accepted_as_risk", "Accepted as a risk"


UNRESOLVED = (FindingStatus.OPEN, FindingStatus.REMEDIATION_PROPOSED)


class FindingSource(models.TextChoices):
    VALIDATOR = "validator", "Validator"
    EVALUATION = "evaluation", "Evaluation check"
    MONITORING = "monitoring", "Monitoring"
    WAIVER_EXPIRY = "waiver_expiry", "Expired waiver"
    WAIVER_REVOKED = "waiver_revoked", "Revoked waiver"
    REVIEW_OVERDUE = "review_overdue", "Overdue periodic review"


class FindingQuerySet(models.QuerySet):
    def visible_to(self, user) -> FindingQuerySet:
        """Findings of versions the user may see (core.permissions.can_view on the model)."""
        return self.filter(version__model__in=RegisteredModel.objects.visible_to(user).values("pk"))

    def unresolved(self) -> FindingQuerySet:
        return self.filter(status__in=UNRESOLVED)

    def open_high(self) -> FindingQuerySet:
        return self.unresolved().filter(severity=Severity.HIGH)

    def overdue(self, today: dt.date) -> FindingQuerySet:
        return self.unresolved().filter(due_date__lt=today)


class Finding(models.Model):
    """An issue raised against a version, which its owner must answer and someone must close on the
    record: the evidence of effective challenge supervisors look for.

    ``source_key`` de-duplicates findings raised by Assay itself (one per evaluation check and
    version, per expired waiver, per overdue review date); findings raised by people leave it empty.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="findings")
    title = models.CharField(max_length=200)
    description = models.TextField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=24, choices=FindingStatus.choices,
                              default=FindingStatus.OPEN)
    source = models.CharField(max_length=20, choices=FindingSource.choices)
    source_key = models.CharField(max_length=150, blank=True)
    figures = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="owned_findings", help_text="Who must answer it.")
    due_date = models.DateField()
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+")
    raised_at = models.DateTimeField(default=timezone.now)
    remediation = models.TextField(blank=True, help_text="The owner's proposed remediation.")
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "source_key"], condition=~Q(source_key=""),
                                    name="one_finding_per_source_key"),
        ]
        indexes = [models.Index(fields=["status", "severity"], name="finding_status_severity"),
                   models.Index(fields=["owner", "status"], name="finding_owner_status")]

    def __str__(self) -> str:
        return f"F-{self.pk} {self.title}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id

    @property
    def is_unresolved(self) -> bool:
        return self.status in UNRESOLVED

    @property
    def blocks_approval(self) -> bool:
        return self.is_unresolved and self.severity == Severity.HIGH

    def is_overdue(self, today: dt.date | None = None) -> bool:
        return self.is_unresolved and self.due_date < (today or timezone.localdate())


class CommentKind(models.TextChoices):
    CHALLENGE = "challenge", "Challenge"
    RESPONSE = "response", "Response"
    NOTE = "note", "Note"


class FindingComment(models.Model):
    """One message of a finding's challenge/response discussion (``reply_to`` threads it)."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                               blank=True, related_name="+")
    kind = models.CharField(max_length=10, choices=CommentKind.choices)
    body = models.TextField()
    reply_to = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="replies")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.finding_id}"

    @property
    def audit_model_id(self) -> int:
        return self.finding.version.model_id


class FindingAttachment(models.Model):
    """Evidence attached to a finding, stored content-addressed (registry.storage)."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def audit_model_id(self) -> int:
        return self.finding.version.model_id


class WaiverStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class WaiverQuerySet(models.QuerySet):
    def visible_to(self, user) -> WaiverQuerySet:
        return self.filter(version__model__in=RegisteredModel.objects.visible_to(user).values("pk"))

    def in_force(self, now: dt.datetime | None = None) -> WaiverQuerySet:
        """Active and not yet past their expiry (the beat task marks them expired soon after)."""
        return self.filter(status=WaiverStatus.ACTIVE, expires_at__gt=now or timezone.now())

    def expiring(self, now: dt.datetime, days: int) -> WaiverQuerySet:
        return self.in_force(now).filter(expires_at__lte=now + dt.timedelta(days=days))


class Waiver(models.Model):
    """An exception: lets a version proceed despite a blocking finding (``finding``) or a missing
    or failing evidence check (``check_name``), under compensating controls, until it expires."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="waivers")
    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="waivers")
    check_name = models.CharField("evidence check", max_length=100, blank=True)
    reason = models.TextField()
    compensating_controls = models.TextField()
    limits_of_use = models.TextField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=WaiverStatus.choices,
                              default=WaiverStatus.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="+")
    end_reason = models.TextField(blank=True)

    objects = WaiverQuerySet.as_manager()

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(finding__isnull=False) & Q(check_name=""))
                | (Q(finding__isnull=True) & ~Q(check_name="")),
                name="waiver_covers_one_thing"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="waiver_status_expiry")]

    def __str__(self) -> str:
        return f"Waiver {self.pk} of {self.covers_label}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id

    @property
    def blocker_kind(self) -> str:
        return "finding" if self.finding_id else "evidence"

    @property
    def blocker_key(self) -> str:
        return str(self.finding_id) if self.finding_id else self.check_name

    @property
    def covers_label(self) -> str:
        return f"finding F-{self.finding_id}" if self.finding_id else f"check '{self.check_name}'"

    def is_in_force(self, now: dt.datetime | None = None) -> bool:
        return self.status == WaiverStatus.ACTIVE and self.expires_at > (now or timezone.now())


class ReviewConclusion(models.TextChoices):
    CONTINUE = "continue", "Continue"
    CONTINUE_WITH_CONDITIONS = "continue_with_conditions", "Continue with conditions"
    RETIRE = "retire", "Retire"


class PeriodicReview(models.Model):
    """A concluded periodic review of an approved version: like a validation, with a conclusion
    (continue, continue with conditions, retire) that sets the next due date or retires it."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE,
                                related_name="periodic_reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField()
    due_on = models.DateField(help_text="The due date this review answers.")
    performance = models.TextField(help_text="How the model performed since the last review.")
    changes = models.TextField(help_text="Changes in use, data or environment since then.")
    limitations = models.TextField()
    conclusion = models.CharField(max_length=32, choices=ReviewConclusion.choices)
    conditions = models.TextField(blank=True)
    next_review_due = models.DateField(null=True, blank=True)
    concluded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-concluded_at", "-id"]

    def __str__(self) -> str:
        return f"Periodic review of {self.version}: {self.get_conclusion_display()}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id


class NotificationKind(models.TextChoices):
    ASSIGNMENT = "assignment", "Validation assigned to you"
    SIGNOFF_REQUESTED = "signoff_requested", "Sign-off requested"
    DECISION = "decision", "Decision on a version"
    FINDING_RAISED = "finding_raised", "Finding raised"
    FINDING_DUE = "finding_due", "Finding coming due"
    FINDING_OVERDUE = "finding_overdue", "Finding overdue"
    WAIVER_EXPIRING = "waiver_expiring", "Waiver expiring"
    WAIVER_EXPIRED = "waiver_expired", "Waiver expired or revoked"
    REVIEW_DUE = "review_due", "Periodic review coming due"
    REVIEW_OVERDUE = "review_overdue", "Periodic review overdue"


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
