"""Periodic work of the core app."""

from __future__ import annotations

from celery import shared_task

from core import audit


@shared_task(name="core.tasks.flush_security_counts")
def flush_security_counts() -> int:
    """Write the folded security events of every minute that is over (Celery beat, each minute)."""
    return audit.flush_security_counts(batch=None)
