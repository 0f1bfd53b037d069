"""The home page's dashboard, per person: what waits for them, and for those who oversee, what
is overdue or expiring; models by tier and state; recent activity on models they may see.

Governance puts it on core's home page through the ``core.home`` panel slot (governance.apps),
so core's page knows nothing of governance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.utils import timezone

from core import audit_display, charts, permissions
from core.models import AuditEvent, Role
from governance import worklists
from governance.models import Finding, VersionGovernance, Waiver
from governance.services.attestations import OK, OVERDUE, AttestationStanding, attestation_standings
from governance.services.waivers import WAIVER_WARNING_DAYS
from registry.models import ModelVersion, RegisteredModel, VersionState

RECENT_EVENTS = 10


@dataclass
class Dashboard:
    validations: list[VersionGovernance]
    signoffs: list[ModelVersion]
    findings: list[Finding]
    open_queue: list[VersionGovernance] | None  # for those who take or assign validations
    oversight: worklists.Board | None  # for risk officers, the board, auditors, administrators
    expiring_waivers: list[Waiver] = field(default_factory=list)
    # The user's own models whose attestation is due or overdue; for oversight, every overdue one.
    attestations: list[AttestationStanding] = field(default_factory=list)
    overdue_attestations: list[AttestationStanding] = field(default_factory=list)
    models_chart: charts.Svg | None = None
    model_count: int = 0
    recent: list[audit_display.ReadableEvent] = field(default_factory=list)
    today: dt.date = field(default_factory=lambda: timezone.localdate())

    @property
    def queue_size(self) -> int:
        return (len(self.validations) + len(self.signoffs) + len(self.findings)
                + len(self.open_queue or []) + len(self.attestations))


def _models_chart(models: Any) -> tuple[charts.Svg | None, int]:
    """Models by state, a bar per tier: the state of the version in use or the newest."""
    counts = (models.annotate(tier=worklists.tier_expression()).values("tier", "status")
              .annotate(n=Count("pk")).order_by("tier", "status"))
    by_tier: dict[str, dict[str, float]] = {}
    total = 0
    for row in counts:
        tier = f"Tier {row['tier']}" if row["tier"] else "No tier yet"
        state = VersionState(row["status"]).label
        by_tier.setdefault(tier, {})[state] = row["n"]
        total += row["n"]
    if not total:
        return None, 0
    states = [label for value, label in VersionState.choices
              if any(label in tiers for tiers in by_tier.values())]
    series = [charts.BarSeries(tier, [charts.Bar(state, tiers.get(state, 0))
                                      for state in states])
              for tier, tiers in sorted(by_tier.items())]
    return charts.group_bars(series, title="Models by state and tier", y_label="Models",
                             x_label="State of the newest version", width=640,
                             height=320), total


def dashboard(user: Any, *, now: dt.datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    work = worklists.my_work(user)
    takes_validations = user.has_role(Role.VALIDATOR, Role.RISK_OFFICER)
    oversight = worklists.board(now=now) if permissions.can_view_board(user) else None
    visible = RegisteredModel.objects.visible_to(user)
    chart, count = _models_chart(visible)
    soon = now + dt.timedelta(days=WAIVER_WARNING_DAYS)
    events = list(AuditEvent.objects.filter(model_id__in=visible.values("pk"))
                  .order_by("-seq")[:RECENT_EVENTS])
    return Dashboard(
        validations=list(work.validations), signoffs=work.signoffs,
        findings=list(work.findings[:20]),
        open_queue=list(worklists.validation_queue()[:20]) if takes_validations else None,
        oversight=oversight,
        expiring_waivers=[w for w in oversight.waivers if w.expires_at <= soon]
        if oversight else [],
        models_chart=chart, model_count=count, recent=audit_display.readable(events),
        today=now.date(),
        attestations=[s for s in attestation_standings(
            RegisteredModel.objects.filter(owner_id=user.pk), today=now.date())
            if s.status != OK],
        overdue_attestations=[s for s in attestation_standings(
            RegisteredModel.objects.select_related("owner"), today=now.date())
            if s.status == OVERDUE] if oversight else [])
