"""The inventory report's rows: every model a person may see, filtered exactly as on the
inventory page (``registry.filters.ModelFilter``), with its tier, the state of the version in
use (not merely the newest), owner, last validation, next review, open findings by severity,
waivers in force with their expiry, and what is overdue.

Read in batches of ``BATCH`` models, each batch a fixed number of queries, so the PDF, the CSV
and a worker's progress all walk the same rows at a bounded cost."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, Min, QuerySet

from core.errors import ValidationFailed
from governance.models import (
    Finding,
    PeriodicReview,
    Severity,
    ValidationReview,
    VersionGovernance,
    Waiver,
)
from governance.worklists import tier_expression
from registry.filters import IN_USE_STATES, ModelFilter, inventory_rows, with_version_stats
from registry.models import EntryKind, RegisteredModel, VersionState

BATCH = 500
SEVERITIES = [s.value for s in Severity]


@dataclass
class InventoryRow:
    """One model as the inventory report prints it."""

    model: RegisteredModel
    tier: int | None
    in_use: tuple[int, str] | None  # (number, state) of the version in use
    latest: int | None
    latest_state: str
    last_validation: dt.datetime | None
    next_review: dt.date | None
    open_findings: dict[str, int] = field(default_factory=dict)
    overdue_findings: int = 0
    waivers: int = 0
    first_waiver_expiry: dt.datetime | None = None
    overdue: list[str] = field(default_factory=list)

    @property
    def in_use_label(self) -> str:
        if self.in_use is None:
            return "none in use"
        number, state = self.in_use
        return f"v{number} {VersionState(state).label.lower()}"

    @property
    def open_total(self) -> int:
        return sum(self.open_findings.values())

    @property
    def tier_label(self) -> str:
        if self.model.kind == EntryKind.TOOL:
            return "non-model tool"
        return f"Tier {self.tier}" if self.tier else "not tiered"


def models_for(user: Any, params: Mapping[str, str]) -> QuerySet[RegisteredModel]:
    """The models the inventory page would list for ``user`` with these query parameters (a bad
    filter raises ValidationFailed naming it)."""
    wanted = ModelFilter.from_params(params)
    if wanted.errors:
        raise ValidationFailed("The inventory filter is invalid: " + " ".join(
            m for msgs in wanted.errors.values() for m in msgs), fields=wanted.errors)
    return inventory_rows(wanted.apply(RegisteredModel.objects.visible_to(user))).annotate(
        tier_in_force=tier_expression())


def _per_model(rows: Any, key: str = "model_id") -> dict[int, dict[str, Any]]:
    return {row[key]: row for row in rows}


def rows_of(models: list[RegisteredModel], *, now: dt.datetime) -> list[InventoryRow]:
    """The report's rows for one batch of models (a fixed number of queries)."""
    today = now.date()
    models = with_version_stats(models)
    ids = [m.pk for m in models]
    reviews: dict[tuple[int, int], dt.date | None] = {
        (g["version__model_id"], g["version__number"]): g["next_review_due"]
        for g in VersionGovernance.objects.filter(
            version__model_id__in=ids, version__state__in=IN_USE_STATES).values(
            "version__model_id", "version__number", "next_review_due")}
    validated = _per_model(ValidationReview.objects.filter(version__model_id__in=ids)
                           .order_by().values("version__model_id").annotate(at=Max("concluded_at")),
                           "version__model_id")
    periodic = _per_model(PeriodicReview.objects.filter(version__model_id__in=ids).order_by()
                          .values("version__model_id").annotate(at=Max("concluded_at")),
                          "version__model_id")
    open_counts: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (Finding.objects.unresolved().filter(version__model_id__in=ids).order_by()
                .values("version__model_id", "severity").annotate(n=Count("pk"))):
        open_counts[row["version__model_id"]][row["severity"]] = row["n"]
    overdue_findings = {row["version__model_id"]: row["n"] for row in (
        Finding.objects.overdue(today).filter(version__model_id__in=ids).order_by()
        .values("version__model_id").annotate(n=Count("pk")))}
    waivers = _per_model(Waiver.objects.in_force(now).filter(version__model_id__in=ids)
                         .order_by().values("version__model_id")
                         .annotate(n=Count("pk"), first=Min("expires_at")), "version__model_id")
    result = []
    for model in models:
        in_use = model.in_use  # type: ignore[attr-defined]  # set by with_version_stats
        next_review = reviews.get((model.pk, in_use[0])) if in_use else None
        last = max((d for d in (validated.get(model.pk, {}).get("at"),
                                periodic.get(model.pk, {}).get("at")) if d), default=None)
        waiver = waivers.get(model.pk, {})
        row = InventoryRow(
            model=model, tier=model.tier_in_force or None,  # type: ignore[attr-defined]
            in_use=in_use, latest=model.latest_version,  # type: ignore[attr-defined]
            latest_state=model.status, last_validation=last, next_review=next_review,
            open_findings={s: open_counts[model.pk].get(s, 0) for s in SEVERITIES},
            overdue_findings=overdue_findings.get(model.pk, 0),
            waivers=waiver.get("n", 0), first_waiver_expiry=waiver.get("first"))
        if next_review and next_review < today and in_use \
                and in_use[1] == VersionState.APPROVED:
            row.overdue.append(f"periodic review due {next_review:%Y-%m-%d}")
        if row.overdue_findings:
            row.overdue.append(f"{row.overdue_findings} finding(s) past due")
        result.append(row)
    return result


def batches(models: QuerySet[RegisteredModel], *, now: dt.datetime,
            batch: int = BATCH) -> Iterator[list[InventoryRow]]:
    """The rows of every model of ``models`` (in its order), a batch at a time: keyset on the
    position in the ordered ids, so a large inventory never sits in memory whole."""
    ids = list(models.values_list("pk", flat=True))
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        by_id = {m.pk: m for m in models.filter(pk__in=chunk)}
        yield rows_of([by_id[pk] for pk in chunk if pk in by_id], now=now)


@dataclass
class Totals:
    """The inventory's summary line."""

    models: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)
    open_findings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    waivers: int = 0
    with_overdue: int = 0

    def add(self, row: InventoryRow) -> None:
        self.models += 1
        self.by_tier[row.tier_label] = self.by_tier.get(row.tier_label, 0) + 1
        for severity, n in row.open_findings.items():
            self.open_findings[severity] += n
        self.waivers += row.waivers
        self.with_overdue += bool(row.overdue)
