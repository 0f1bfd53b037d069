"""The monitoring panel of the dashboard: the plans you may see that are not within their
thresholds, and how many are."""

from __future__ import annotations

from typing import Any

from django import template

from monitoring.models import MonitoringPlan, PlanStatus

register = template.Library()


@register.simple_tag(takes_context=True)
def monitoring_dashboard(context: Any) -> dict[str, Any]:
    user = context.get("user")
    plans = MonitoringPlan.objects.visible_to(user).select_related("version__model")
    counts = {status: 0 for status in PlanStatus.values}
    for status in plans.values_list("status", flat=True):
        counts[status] += 1
    return {"counts": counts, "total": sum(counts.values()),
            "attention": list(plans.filter(status__in=[PlanStatus.BREACH, PlanStatus.SEVERE])
                              [:10])}
