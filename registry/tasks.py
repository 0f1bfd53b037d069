"""The registry's Celery tasks: thin, over registry.mlflow_jobs (acknowledged late and requeued
when their worker is lost; the import's lease lets the redelivered task take it over)."""

from __future__ import annotations

from celery import shared_task

from core.periodic import periodic_task
from registry import mlflow_jobs


@shared_task(name=mlflow_jobs.IMPORT_TASK, acks_late=True, reject_on_worker_lost=True)
def import_mlflow(import_id: int) -> str:
    """Run MLflow import ``import_id`` (once, whatever the deliveries)."""
    return mlflow_jobs.import_run(import_id=import_id)


@periodic_task("registry.reap_mlflow_imports")
def reap_mlflow_imports() -> dict[str, int]:
    """Send again imports that never reached a worker or whose worker died."""
    return mlflow_jobs.import_reap()
