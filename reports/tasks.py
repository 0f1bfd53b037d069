"""The reports app's Celery tasks: thin, over reports.jobs.

``generate_export`` is acknowledged late and rejected (so requeued) when its worker is lost;
the export's lease lets the redelivered task take it over. Its time limits are the settings'
defaults (20 / 25 minutes), below RabbitMQ's consumer_timeout."""

from __future__ import annotations

from celery import shared_task

from core.periodic import periodic_task
from reports import jobs


@shared_task(name=jobs.EXPORT_TASK, acks_late=True, reject_on_worker_lost=True)
def generate_export(export_id: int) -> str:
    """Make export ``export_id`` (once, whatever the deliveries) and notify its requester."""
    return jobs.export_run(export_id=export_id)


@periodic_task("reports.reap_exports")
def reap_exports() -> dict[str, int]:
    """Send again exports that never reached a worker or whose worker died."""
    return jobs.export_reap()
