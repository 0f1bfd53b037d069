"""A plan's control charts through the shared renderer (core/charts): each thresholded
statistic over its checks, with the plan's limit and severe level as reference lines and the
range above the limit shaded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.charts import Band, Reference, Svg, TimeSeries, horizontal_bars, time_series
from governance.policy import STATISTICS
from monitoring.models import MonitoringCheck, MonitoringPlan

RATES = frozenset({"missing_rate", "out_of_range_rate", "schema_violation_rate",
                   "override_rate"})


def control_charts(plan: MonitoringPlan, checks: Sequence[MonitoringCheck], *,
                   policy_thresholds: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One chart per statistic in the plan's thresholds, oldest check first; and one per
    statistic thresholded by the tier's policy instead (live fairness) that was computed."""
    ordered = sorted(checks, key=lambda c: (c.at, c.pk))
    charts = []
    own = plan.rules.get("thresholds", {})
    computed = {k: t for k, t in (policy_thresholds or {}).items() if k not in own and any(
        c.statistics.get(k) is not None for c in ordered)}
    for name, threshold in {**own, **computed}.items():
        values = [c.statistics.get(name) for c in ordered]
        limit, severe = threshold.get("limit"), threshold.get("severe")
        references = [Reference(limit, "Limit")] if limit is not None else []
        bands = []
        if severe is not None:
            references.append(Reference(severe, "Severe"))
            bands.append(Band(severe, None, "Severe breach", "bad"))
        if limit is not None:
            bands.append(Band(limit, severe, "Breach", "warn"))
        chart = time_series([TimeSeries(name, [c.at for c in ordered], values)],
                            title=f"{name.replace('_', ' ').capitalize()} over time",
                            y_label=name.replace("_", " "), x_label="Check (UTC)",
                            percent=name in RATES, references=references, bands=bands)
        charts.append({"name": name, "about": STATISTICS.get(name, ""), "chart": chart,
                       "latest": values[-1] if values else None, "threshold": threshold})
    return charts


def feature_drift_chart(check: MonitoringCheck | None) -> Svg | None:
    """PSI per input feature in the latest check, with PSI's conventional bands."""
    features = (check.details or {}).get("features") if check else None
    if not features:
        return None
    return horizontal_bars({f["column"]: f["psi"] for f in features},
                           title="PSI per input feature (latest check)", x_label="PSI",
                           references=[Reference(0.1, "Moderate"),
                                       Reference(0.25, "Significant")])
