"""Reads behind the work lists: each person's queues ("my work": the validation queue page and
GET /api/v1/governance/my-work/) and the oversight board. Each list is one query (plus fixed
prefetches), whatever its length; the pages and the API both use these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case as SqlCase
from django.db.models import Count, F, IntegerField, QuerySet, Value, When
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from core import permissions
from governance.gates import Case, case_from
from governance.models import Finding, Tool, VersionGovernance, Waiver
from governance.services.reviews import COMING_DUE_DAYS
from governance.services.waivers import WAIVER_WARNING_DAYS
from registry.models import ModelVersion, RegisteredModel, VersionState


@dataclass
class MyWork:
    """What waits for one person."""

    validations: QuerySet[VersionGovernance]
    signoffs: list[ModelVersion]
    findings: QuerySet[Finding]
    team_models: QuerySet[RegisteredModel]


def my_work(user: Any) -> MyWork:
    """The validations assigned to the user, the versions awaiting their sign-off, the findings
    they must answer or close, and their teams' models."""
    return MyWork(validations=VersionGovernance.objects.validating(user),
                  signoffs=my_signoffs(user), findings=Finding.objects.awaiting(user),
                  team_models=team_models(user))


def validation_queue() -> QuerySet[VersionGovernance]:
    """Submitted versions no validator has taken yet, oldest first (validators take from it)."""
    return (VersionGovernance.objects.open_queue()
            .select_related("version__model", "submitted_by", "policy_version__policy")
            .order_by("submitted_at"))


def _case_from_prefetched(version: ModelVersion) -> Case:
    """A version's Case built from rows loaded by ``my_signoffs`` (no queries)."""
    gov = getattr(version, "governance", None)
    return case_from(version, gov=gov, intake=getattr(version.model, "intake", None),
                     policy=gov.policy_version if gov is not None else None,
                     signer_ids=(s.signer_id for s in version.signoffs.all()
                                 if s.invalidated_at is None),
                     authors=((a.user_id, a.kind) for a in version.authors.all()),
                     waiver_granter_ids=(w.approved_by_id for w in version.waivers.all()))


def my_signoffs(user: Any) -> list[ModelVersion]:
    """Versions pending approval that the user may sign now."""
    versions = (ModelVersion.objects.visible_to(user).filter(state=VersionState.PENDING_APPROVAL)
                .select_related("model__intake", "governance__policy_version__policy")
                .prefetch_related("model__developers", "model__assignees", "signoffs", "authors",
                                  "waivers")
                .order_by("model__name", "number"))
    return [v for v in versions if permissions.can_sign_off(user, _case_from_prefetched(v))]


def team_models(user: Any) -> QuerySet[RegisteredModel]:
    """The models of the user's teams, with their intake (for the tier)."""
    return (RegisteredModel.objects.filter(team_id__in=user.team_ids)
            .select_related("team", "owner", "intake").order_by("name"))


@dataclass
class Board:
    """What risk officers and the review board watch."""

    today: dt.date
    overdue_reviews: list[VersionGovernance]
    reviews_coming_due: list[VersionGovernance]
    open_high_findings: list[Finding]
    overdue_findings: list[Finding]
    waivers: list[Waiver]
    expiring_waiver_ids: set[int]
    by_tier_and_status: list[dict[str, Any]] = field(default_factory=list)
    # The register of tools that are not models: in use, review overdue, retired.
    tools: dict[str, int] = field(default_factory=dict)


def tier_expression() -> SqlCase:
    """The tier in force of a model, in SQL: the most critical of its main purpose's tier (an
    approved override, else the computed tier) and its use cases'; 0 for non-models and models
    without intake."""
    primary = Coalesce(F("intake__override_tier"), F("intake__computed_tier"))
    # The most critical of the main purpose's tier and its use cases' (ModelIntake.tier).
    return SqlCase(
        When(intake__is_model=True,
             then=Least(primary, Coalesce(F("intake__use_case_tier"), primary))),
        default=Value(0), output_field=IntegerField())


def board(*, now: dt.datetime | None = None) -> Board:
    now = now or timezone.now()
    today = now.date()
    reviews = VersionGovernance.objects.select_related("version__model", "validator")
    waivers = list(Waiver.objects.in_force(now).select_related(
        "version__model", "finding", "approved_by").order_by("expires_at"))
    soon = now + dt.timedelta(days=WAIVER_WARNING_DAYS)
    counts = (RegisteredModel.objects.annotate(tier=tier_expression())
              .values("tier", "status", "kind").annotate(n=Count("pk"))
              .order_by("tier", "kind", "status"))
    tools_in_use = Tool.objects.filter(retired_at__isnull=True)
    return Board(
        today=today,
        overdue_reviews=list(reviews.review_overdue(today).order_by("next_review_due")),
        reviews_coming_due=list(reviews.review_coming_due(today, COMING_DUE_DAYS)
                                .order_by("next_review_due")),
        open_high_findings=list(Finding.objects.open_high().listed().order_by("due_date", "pk")),
        overdue_findings=list(Finding.objects.overdue(today).listed().order_by("due_date", "pk")),
        waivers=waivers,
        expiring_waiver_ids={w.pk for w in waivers if w.expires_at <= soon},
        by_tier_and_status=[{"tier": row["tier"] or None, "status": row["status"],
                             "kind": row["kind"], "count": row["n"]} for row in counts],
        tools={"in_use": tools_in_use.count(),
               "review_overdue": tools_in_use.filter(next_review_due__lt=today).count(),
               "retired": Tool.objects.filter(retired_at__isnull=False).count()},
    )
