"""A version's governance case (opened at its first submission) and the groups of version states
governance reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from governance.models.policies import PolicyVersion
from registry.models import ChangeClass, ModelVersion, VersionState

S = VersionState
# Groups of version states, as governance reads them (each defined once, here).
# Going through validation: the model's intake and tier change only by a risk officer meanwhile.
IN_FLIGHT = (S.SUBMITTED, S.IN_VALIDATION, S.CHANGES_REQUESTED, S.PENDING_APPROVAL)
# Decided (approved or rejected) and what may follow: the version keeps the tier it was decided at.
DECIDED = (S.APPROVED, S.SUSPENDED, S.RETIRED, S.REJECTED)
# Over for good: no more evidence, findings or waivers are recorded for it.
CLOSED = (S.REJECTED, S.RETIRED)


def workflow_url(version: ModelVersion) -> str:
    """The path of a version's workflow page (linked from notifications and emails).

    A governance function rather than a ModelVersion method: the registry does not know
    governance's pages. reverse() keeps it in step with governance/urls.py.
    """
    return reverse("governance:workflow", kwargs={"slug": version.model.slug,
                                                  "number": version.number})


class VersionGovernanceQuerySet(models.QuerySet):
    def open_queue(self) -> VersionGovernanceQuerySet:
        """Submitted versions that no validator has taken yet."""
        return self.filter(version__state=VersionState.SUBMITTED, validator__isnull=True)

    def validating(self, user: Any) -> VersionGovernanceQuerySet:
        """The user's validations still to do (submitted or in validation), oldest first."""
        return (self.filter(validator=user, version__state__in=[S.SUBMITTED, S.IN_VALIDATION])
                .select_related("version__model", "policy_version__policy")
                .order_by("submitted_at"))

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
    # The policy whose cadence schedules its periodic reviews once re-scheduled under a policy
    # made current after its decision (services.policy_reviews_reschedule); None: the policy
    # bound at submission, which it keeps as the policy it was decided under.
    review_policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, null=True,
                                              blank=True, related_name="+")
    # Set when ongoing monitoring finds a sustained or severe breach (monitoring app, through
    # services.version_require_revalidation): the version must be validated again, whatever its
    # review date. Cleared by the next periodic review's conclusion.
    revalidation_required_at = models.DateTimeField(null=True, blank=True)
    revalidation_reason = models.TextField(blank=True)
    # The validator's decision on the change class the version declared (registry's
    # ModelVersion.change_class): blank until confirmed; a different class is a reclassification
    # (governance.materiality). The class in force is this once set, else the declared one.
    change_class_confirmed = models.CharField(max_length=5, blank=True,
                                              choices=ChangeClass.choices)
    change_class_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL,
                                                  on_delete=models.PROTECT, null=True,
                                                  blank=True, related_name="+")
    change_class_confirmed_at = models.DateTimeField(null=True, blank=True)
    change_class_note = models.TextField(blank=True)

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
        # Ints only: the set difference above takes the None out, which mypy does not follow.
        self.people_at_submission = {
            kind: sorted(self.ids_at_submission(kind) | ids)  # type: ignore[operator]
            for kind, ids in now.items()}

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id
