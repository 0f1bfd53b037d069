"""The board report for a period: the point-in-time view a model-risk committee files with its
minutes. Tier mix at the period's start and end (replayed from the audit trail's tier events),
approvals and rejections (the trail's decisions), overdue reviews (replayed from the trail: a
review overdue at the period's end counts, even if it was done later), findings opened and closed
and the ageing of those still open at the end, waivers granted and expiring, models by business
line, the monitoring status of each deployed model (its plan's latest status and open monitoring
findings, as the report is made), and charts over time read from the audit trail, drawn by
``core/charts``.

Only those who may see the oversight board (``permissions.can_view_board``) ask for it, and
they see every model, so it covers the whole inventory."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from core import charts
from core.errors import ValidationFailed
from core.models import AuditEvent
from governance.models import (
    UNRESOLVED,
    Finding,
    FindingSource,
    Severity,
    VersionGovernance,
    Waiver,
)
from governance.services.waivers import WAIVER_WARNING_DAYS
from monitoring.models import MonitoringPlan, PlanStatus
from registry.filters import IN_USE_STATES
from registry.models import ModelVersion, RegisteredModel, VersionState

# The trail's tier events of a model: each carries {"tier": {"before", "after"}}.
TIER_ACTIONS = ("intake.record", "intake.override_approve", "intake.override_reject",
                "use_case.add", "use_case.remove")
# How the tier mix names entries whose intake said "not a model".
NON_MODEL = "Non-model tool"
APPROVALS = ("version.approve",)
REJECTIONS = ("version.reject", "version.reject_in_validation")
CLOSINGS = ("finding.close", "finding.accept_risk")
# The trail's events that move a version into or out of approved, or set its next review date
# (payload "next_review_due"); each names the version's number ("number" or "version").
INTO_APPROVED = ("version.approve", "version.reinstate")
OUT_OF_APPROVED = ("version.suspend", "version.retire")
REVIEW_DATES = ("version.revalidation_required", "periodic_review.conclude")
MAX_DAYS = 3 * 366
AGES = [(0, 30, "0 to 30 days"), (31, 90, "31 to 90 days"), (91, 180, "91 to 180 days"),
        (181, None, "over 180 days")]


@dataclass(frozen=True)
class Period:
    """Whole UTC days, ``start`` to ``end`` inclusive."""

    start: dt.date
    end: dt.date

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=dt.UTC)

    @property
    def until(self) -> dt.datetime:
        """The first moment after the period."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"

    def as_params(self) -> dict[str, str]:
        return {"date_from": self.start.isoformat(), "date_to": self.end.isoformat()}


def _date(params: Mapping[str, str], name: str) -> dt.date:
    raw = (params.get(name) or "").strip()
    if not raw:
        raise ValidationFailed(f"Give {name} as a date (YYYY-MM-DD).", field=name)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name} {raw!r} is not a date; write it as YYYY-MM-DD.",
                               field=name) from None


def period_from(params: Mapping[str, str], *, today: dt.date | None = None) -> Period:
    """The period asked for (``date_from``, ``date_to``), or a 400 saying what is wrong."""
    today = today or timezone.now().date()
    start, end = _date(params, "date_from"), _date(params, "date_to")
    if start > end:
        raise ValidationFailed(f"The period starts ({start}) after it ends ({end}); swap the "
                               f"dates.", field="date_from")
    if start > today:
        raise ValidationFailed(f"The period starts in the future ({start}); a board report "
                               f"covers days that have begun.", field="date_from")
    if (end - start).days > MAX_DAYS:
        raise ValidationFailed(f"The period is {(end - start).days + 1} days long; keep it to "
                               f"three years.", field="date_to")
    return Period(start, end)


@dataclass
class Decision:
    when: dt.datetime
    model: str
    number: Any
    by: str
    reason: str


@dataclass
class OverdueReview:
    """An approved version whose periodic review was due by the period's end and not concluded
    then, as the audit trail tells it."""

    model: str
    number: Any
    due: dt.date
    validator: str


@dataclass
class MonitoringRow:
    """A deployed version's monitoring: its plan's latest status and open monitoring findings."""

    model: str
    number: int
    state: str  # ok, breached, revalidation required, suspended, no data yet
    checked_at: dt.datetime | None
    open_findings: int


@dataclass
class Board:
    """Everything the board report prints."""

    period: Period
    generated_at: dt.datetime
    tier_mix: list[tuple[str, int, int, str]]  # (tier, at start, at end, change "+2")
    approvals: list[Decision]
    rejections: list[Decision]
    overdue_reviews: list[OverdueReview]
    opened: dict[str, int]
    closed: dict[str, int]
    mean_days_to_close: float | None
    ageing: list[tuple[str, int]]
    waivers_granted: list[Waiver]
    waivers_expiring: list[Waiver]
    business_lines: list[tuple[str, int, int]]  # (line, models, with a version in use)
    business_line_note: str
    monitoring: list[MonitoringRow] = field(default_factory=list)
    charts: list[charts.Svg] = field(default_factory=list)

    @property
    def models_at_end(self) -> int:
        return sum(end for _, _, end, _ in self.tier_mix)


def _tier_label(tier: int | str | None) -> str:
    if isinstance(tier, str):
        return tier
    return f"Tier {tier}" if tier else "Not tiered"


def tiers_at(moment: dt.datetime) -> Counter[str]:
    """Models existing at ``moment`` by the tier in force then, replayed from the trail; entries
    whose intake then said "not a model" count as non-model tools."""
    tier: dict[int, int | str | None] = {}
    for model_id, payload in (AuditEvent.objects.filter(action__in=TIER_ACTIONS,
                                                        occurred_at__lt=moment)
                              .order_by("seq").values_list("model_id", "payload")):
        after = (payload or {}).get("tier", {})
        if model_id is not None and isinstance(after, dict):
            tier[model_id] = after.get("after")
            if (payload or {}).get("is_model") is False:
                tier[model_id] = NON_MODEL
    ids = RegisteredModel.objects.filter(created_at__lt=moment).values_list("pk", flat=True)
    return Counter(_tier_label(tier.get(pk)) for pk in ids)


def _due_date(value: object) -> dt.date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def overdue_reviews_at(period: Period) -> list[OverdueReview]:
    """Versions approved at the end of ``period`` whose periodic review was due by its last day,
    replayed from the audit trail's events before the period ended (approval, suspension,
    reinstatement, retirement, revalidation required, periodic reviews concluded), not read
    from the records as they are now: a review done after the period still counts as overdue
    in it."""
    approved: dict[tuple[int, Any], bool] = {}
    due: dict[tuple[int, Any], dt.date | None] = {}
    actions = (*INTO_APPROVED, *OUT_OF_APPROVED, *REVIEW_DATES)
    for model_id, action, payload in (AuditEvent.objects.filter(
            action__in=actions, occurred_at__lt=period.until, model_id__isnull=False)
            .order_by("seq").values_list("model_id", "action", "payload")):
        payload = payload or {}
        if model_id is None:
            continue
        key: tuple[int, Any] = (model_id, payload.get("number", payload.get("version")))
        if action in INTO_APPROVED:
            approved[key] = True
        elif action in OUT_OF_APPROVED:
            approved[key] = False
        if "next_review_due" in payload:
            due[key] = _due_date(payload["next_review_due"])
    late = {key: day for key, day in due.items()
            if approved.get(key) and day is not None and day <= period.end}
    if not late:
        return []
    cases = {(g.version.model_id, g.version.number): g for g in VersionGovernance.objects.filter(
        version__model_id__in={m for m, _ in late}).select_related("version__model",
                                                                    "validator")}
    rows = []
    for key, day in late.items():
        case = cases.get(key)
        rows.append(OverdueReview(
            model=case.version.model.name if case else f"model {key[0]}", number=key[1],
            due=day, validator=case.validator.username if case and case.validator else ""))
    return sorted(rows, key=lambda r: (r.due, r.model, str(r.number)))


def monitoring_rows() -> list[MonitoringRow]:
    """Each deployed (approved or suspended) version with a monitoring plan: suspended, else
    revalidation required (monitoring found a sustained or severe breach), else its plan's
    latest status (ok, breached, no data yet); and its open monitoring findings."""
    open_counts = Counter(Finding.objects.filter(
        source=FindingSource.MONITORING, status__in=UNRESOLVED,
        version__state__in=(VersionState.APPROVED, VersionState.SUSPENDED))
        .values_list("version_id", flat=True))
    rows = []
    for plan in (MonitoringPlan.objects.filter(
            version__state__in=(VersionState.APPROVED, VersionState.SUSPENDED))
            .select_related("version__model", "version__governance")
            .annotate(last_check=Max("checks__at")).order_by("version__model__name", "version__number")):
        version = plan.version
        gov = getattr(version, "governance", None)
        if version.state == VersionState.SUSPENDED:
            state = "suspended"
        elif gov is not None and gov.revalidation_required_at is not None:
            state = "revalidation required"
        elif plan.status in (PlanStatus.BREACH, PlanStatus.SEVERE):
            state = "breached" + (" (severe)" if plan.status == PlanStatus.SEVERE else "")
        elif plan.status == PlanStatus.OK:
            state = "ok"
        else:
            state = "no data yet"
        rows.append(MonitoringRow(version.model.name, version.number, state, plan.last_check,
                                  open_counts.get(version.pk, 0)))
    return rows


def _decisions(actions: tuple[str, ...], period: Period, names: dict[int, str]
               ) -> list[Decision]:
    events = AuditEvent.objects.filter(action__in=actions, occurred_at__gte=period.since,
                                       occurred_at__lt=period.until).order_by("seq")
    return [Decision(e.occurred_at, names.get(e.model_id or 0, f"model {e.model_id}"),
                     (e.payload or {}).get("number", "?"), e.actor_username or "system",
                     (e.payload or {}).get("reason", "")) for e in events]


def _buckets(period: Period) -> tuple[list[dt.date], Callable[[dt.date], dt.date]]:
    """Weeks (Mondays) for periods up to half a year, months beyond."""
    if (period.end - period.start).days <= 183:
        def key(day: dt.date) -> dt.date:
            return day - dt.timedelta(days=day.weekday())
    else:
        def key(day: dt.date) -> dt.date:
            return day.replace(day=1)
    keys: list[dt.date] = []
    day = period.start
    while day <= period.end:
        if not keys or keys[-1] != key(day):
            keys.append(key(day))
        day += dt.timedelta(days=1)
    return keys, key


def activity_chart(period: Period) -> charts.Svg:
    """Approvals, rejections, findings raised and closed, and waivers granted, per week (or
    month), counted from the audit trail."""
    keys, key = _buckets(period)
    lines = {"Approvals": APPROVALS, "Rejections": REJECTIONS, "Findings raised":
             ("finding.raise",), "Findings closed": CLOSINGS, "Waivers granted": ("waiver.grant",)}
    wanted = {a: name for name, actions in lines.items() for a in actions}
    counts: dict[str, Counter[dt.date]] = {name: Counter() for name in lines}
    for action, when in (AuditEvent.objects.filter(
            action__in=list(wanted), occurred_at__gte=period.since,
            occurred_at__lt=period.until).values_list("action", "occurred_at")):
        counts[wanted[action]][key(when.date())] += 1
    unit = "week" if (period.end - period.start).days <= 183 else "month"
    return charts.time_series([charts.TimeSeries(name, keys, [counts[name][k] for k in keys])
                               for name in lines],
                              title=f"Governance activity per {unit} (from the audit trail)",
                              y_label=f"Events per {unit}", x_label=f"{unit.title()} starting")


def tier_chart(mix: list[tuple[str, int, int, str]], period: Period) -> charts.Svg:
    return charts.group_bars(
        [charts.BarSeries(f"At the start ({period.start})",
                          [charts.Bar(t, s) for t, s, _, _ in mix]),
         charts.BarSeries(f"At the end ({period.end})",
                          [charts.Bar(t, e) for t, _, e, _ in mix])],
        title="Tier mix", y_label="Models", x_label="Tier", width=640, height=300)


def _by_severity(findings: Any) -> dict[str, int]:
    counts = Counter(findings.values_list("severity", flat=True))
    return {s.label: counts.get(s.value, 0) for s in Severity}


def build(period: Period, *, now: dt.datetime | None = None,
          progress: Callable[[int, str], None] | None = None) -> Board:
    """The board report's facts for ``period``."""
    now = now or timezone.now()
    step = progress or (lambda _p, _s: None)
    step(10, "Tier mix from the audit trail")
    start, end = tiers_at(period.since), tiers_at(period.until)
    order = sorted(set(start) | set(end),
                   key=lambda t: (t == "Not tiered", t == NON_MODEL, t))
    mix = [(t, start.get(t, 0), end.get(t, 0), f"{end.get(t, 0) - start.get(t, 0):+d}")
           for t in order]
    names = dict(RegisteredModel.objects.values_list("pk", "name"))
    step(30, "Decisions")
    approvals = _decisions(APPROVALS, period, names)
    rejections = _decisions(REJECTIONS, period, names)
    step(45, "Findings")
    in_period = Q(raised_at__gte=period.since, raised_at__lt=period.until)
    resolved = Q(resolved_at__gte=period.since, resolved_at__lt=period.until) \
        & ~Q(status__in=UNRESOLVED)
    closed_rows = list(Finding.objects.filter(resolved).values_list("raised_at", "resolved_at"))
    open_at_end = Finding.objects.filter(raised_at__lt=period.until).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=period.until))
    ages: Counter[str] = Counter()
    for raised in open_at_end.values_list("raised_at", flat=True):
        days = (period.until - raised).days
        ages[next(label for lo, hi, label in AGES if days >= lo and (hi is None or days <= hi))] \
            += 1
    step(60, "Waivers and reviews")
    soon = period.until + dt.timedelta(days=WAIVER_WARNING_DAYS)
    waivers = Waiver.objects.select_related("version__model", "finding", "approved_by")
    granted = list(waivers.filter(granted_at__gte=period.since, granted_at__lt=period.until)
                   .order_by("granted_at"))
    expiring = list(waivers.filter(granted_at__lt=period.until, expires_at__gte=period.until,
                                   expires_at__lt=soon)
                    .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=period.until))
                    .order_by("expires_at"))
    overdue = overdue_reviews_at(period)
    step(75, "Business lines")
    lines: Counter[str] = Counter()
    in_use: Counter[str] = Counter()
    used = ModelVersion.objects.filter(model=OuterRef("pk"), state__in=IN_USE_STATES)
    for line, team, used_now in (RegisteredModel.objects.filter(created_at__lt=period.until)
                                 .annotate(used=Exists(used))
                                 .values_list("business_line", "team__name", "used")):
        label = line.strip() or f"(no business line) team {team}"
        lines[label] += 1
        in_use[label] += bool(used_now)
    step(85, "Charts")
    board = Board(
        period=period, generated_at=now, tier_mix=mix, approvals=approvals,
        rejections=rejections, overdue_reviews=overdue,
        opened=_by_severity(Finding.objects.filter(in_period)),
        closed=_by_severity(Finding.objects.filter(resolved)),
        mean_days_to_close=(sum((r - o).total_seconds() for o, r in closed_rows) / 86400
                            / len(closed_rows)) if closed_rows else None,
        ageing=[(label, ages.get(label, 0)) for _, _, label in AGES],
        waivers_granted=granted, waivers_expiring=expiring,
        business_lines=sorted(((k, n, in_use[k]) for k, n in lines.items()),
                              key=lambda r: (r[0].startswith("("), r[0])),
        business_line_note=("Models without a business line are grouped by their team."
                            if any(k.startswith("(") for k in lines) else ""),
        monitoring=monitoring_rows())
    board.charts = [tier_chart(mix, period), activity_chart(period)]
    return board
