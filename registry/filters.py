"""Search, filter and sort the inventory: one function for the list page and the API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet

from core.errors import ValidationFailed
from registry.models import (
    DecisionType,
    EntryKind,
    ModelVersion,
    RegisteredModel,
    VersionState,
)

SORTS = {
    "name": "name", "-name": "-name",
    "updated": "updated_at", "-updated": "-updated_at",
    "status": "status", "-status": "-status",
    "team": "team__name", "-team": "-team__name",
}


# "idea": a model registered before any version exists (intake and tiering may be done).
IDEA = "idea"
STATUSES = (IDEA, *VersionState.values)
STATUS_CHOICES = [(IDEA, "Idea (no version yet)"), *VersionState.choices]


@dataclass
class ModelFilter:
    q: str = ""
    team: str = ""
    status: str = ""
    owner: str = ""
    business_line: str = ""
    decision_type: str = ""
    tag: str = ""
    kind: str = ""
    sort: str = "name"
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ModelFilter:
        # The keys are the filter's text fields named here (the stubs cannot tell from **).
        f = cls(**{k: (params.get(k) or "").strip() for k in  # type: ignore[arg-type]
                   ("q", "team", "status", "owner", "business_line", "decision_type", "tag",
                    "kind")},
                sort=(params.get("sort") or "name").strip())
        if f.status and f.status not in STATUSES:
            f.errors["status"] = [f"Unknown status {f.status!r}; use one of: "
                                  f"{', '.join(STATUSES)}."]
        if f.decision_type and f.decision_type not in DecisionType.values:
            f.errors["decision_type"] = [f"Unknown decision type {f.decision_type!r}; use one of: "
                                         f"{', '.join(DecisionType.values)}."]
        if f.kind and f.kind not in EntryKind.values:
            f.errors["kind"] = [f"Unknown kind {f.kind!r}; use one of: "
                                f"{', '.join(EntryKind.values)}."]
        if f.sort not in SORTS:
            f.errors["sort"] = [f"Unknown sort {f.sort!r}; use one of: {', '.join(SORTS)}."]
        return f

    def raise_errors(self) -> None:
        if self.errors:
            raise ValidationFailed("Some filters are invalid.", fields=self.errors)

    def apply(self, models: QuerySet[RegisteredModel]) -> QuerySet[RegisteredModel]:
        if self.q:
            models = models.filter(Q(name__icontains=self.q) | Q(slug__icontains=self.q)
                                   | Q(purpose__icontains=self.q))
        if self.team:
            models = models.filter(team__slug=self.team)
        if self.status == IDEA:  # registered, no version yet
            models = models.filter(last_version_number=0)
        elif self.status and "status" not in self.errors:
            # The newest version's state, or the state of the version in use: an approved v1
            # stays "approved" while a v2 draft is under way.
            in_use = ModelVersion.objects.filter(model=OuterRef("pk"), state=self.status,
                                                 state__in=IN_USE_STATES)
            models = models.filter(Q(status=self.status) | Exists(in_use))
        if self.owner:
            models = models.filter(owner__username=self.owner)
        if self.business_line:
            models = models.filter(business_line__iexact=self.business_line)
        if self.decision_type and "decision_type" not in self.errors:
            models = models.filter(decision_type=self.decision_type)
        if self.tag:
            models = models.filter(tags__name=self.tag)
        if self.kind and "kind" not in self.errors:
            models = models.filter(kind=self.kind)
        order = SORTS.get(self.sort, "name")
        return models.order_by(order, "pk")


def inventory_rows(models: QuerySet[RegisteredModel]) -> QuerySet[RegisteredModel]:
    """What a list row shows, joined or prefetched so a page costs a constant number of queries."""
    return models.select_related("team", "owner", "created_by").prefetch_related("tags")


# A version in use: approved, or suspended (in use until it was suspended, and what its
# endpoints still point at).
IN_USE_STATES = (VersionState.APPROVED, VersionState.SUSPENDED)


def version_in_use(newest_approved: int | None, newest_suspended: int | None
                   ) -> tuple[int, str] | None:
    """A model's version in use, as (number, state): its newest approved version, else its newest
    suspended one; None when no version was ever put in use."""
    if newest_approved is not None:
        return newest_approved, VersionState.APPROVED.value
    if newest_suspended is not None:
        return newest_suspended, VersionState.SUSPENDED.value
    return None


def with_version_stats(page: Iterable[RegisteredModel]) -> list[RegisteredModel]:
    """Set ``latest_version``, ``version_count`` and ``in_use`` ((number, state) of the version
    in use, or None) on the models of one page, in one query.

    Done after paginating rather than as annotations: PostgreSQL would compute an annotation for
    every row an OFFSET skips, which makes late pages slow.
    """
    models = list(page)
    stats = {row["model_id"]: row for row in ModelVersion.objects
             .filter(model_id__in=[m.pk for m in models]).order_by()
             .values("model_id").annotate(
                 latest=Max("number"), count=Count("pk"),
                 approved=Max("number", filter=Q(state=VersionState.APPROVED)),
                 suspended=Max("number", filter=Q(state=VersionState.SUSPENDED)))}
    for model in models:
        row = stats.get(model.pk, {})
        # For the inventory page only: attributes on the fetched rows, never fields.
        model.latest_version = row.get("latest")  # type: ignore[attr-defined]
        model.version_count = row.get("count", 0)  # type: ignore[attr-defined]
        model.in_use = version_in_use(row.get("approved"),  # type: ignore[attr-defined]
                                      row.get("suspended"))
    return models


def visible_links(relation: str, user) -> Prefetch:
    """Prefetch a model-to-model relation (upstream/downstream) keeping only models the user
    may see, so no page or response names a model that answers 404 to its reader."""
    return Prefetch(relation, queryset=RegisteredModel.objects.visible_to(user).order_by("name"))
