"""Scheduled checkpoints: Celery beat runs ``checkpoint_audit_chain`` every
``ASSAY_CHECKPOINT_INTERVAL_S`` seconds (default 600); it signs the chain's head only when events
were added since the last checkpoint.
"""

from __future__ import annotations

from celery import shared_task

from core import checkpoints


@shared_task(name="core.checkpoint_audit_chain", ignore_result=True, time_limit=300)
def checkpoint_audit_chain() -> int | None:
    """Return the seq of the new checkpoint, or None when nothing was added since the last."""
    checkpoint = checkpoints.checkpoint_if_new_events()
    return checkpoint.seq if checkpoint else None
