"""Monitoring's Celery tasks (docs/monitoring.md). Thin: each calls the service."""

from __future__ import annotations

from celery import shared_task

from core.periodic import periodic_task
from monitoring import services


@periodic_task("monitoring.scan")
def scan() -> int:
    """Beat: queue the check of every monitoring plan that is due; enforce log retention."""
    return services.monitoring_scan()


@shared_task(name=services.CHECK_TASK)
def check(plan_id: int) -> str:
    """One plan's scheduled check; nothing when the plan is gone or its version retired."""
    result = services.plan_check(plan_id=plan_id)
    return result.status if result is not None else "skipped"
