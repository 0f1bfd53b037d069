"""Scheduled governance work (Celery beat): thin wrappers over the services, which are idempotent."""

from __future__ import annotations

from celery import shared_task

from governance import services


@shared_task(name="governance.expire_waivers")
def expire_waivers() -> int:
    """Expire waivers past their date: the block returns, a finding opens, maybe a suspension."""
    return services.waivers_expire()


@shared_task(name="governance.scan_due_dates")
def scan_due_dates() -> dict[str, int]:
    """Notify what is coming due or overdue: periodic reviews, findings, expiring waivers."""
    return {"reviews": services.reviews_scan(), "findings": services.findings_notify_due(),
            "waivers": services.waivers_notify_expiring()}

