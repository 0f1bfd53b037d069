"""Periodic work of the core app (Celery beat): thin wrappers over the audit services.

The task names are strings that beat schedules of running installations refer to: never rename
them. Time limits are the global ones in settings (``CELERY_TASK_SOFT_TIME_LIMIT`` /
``CELERY_TASK_TIME_LIMIT``) unless a task says otherwise.
"""

from __future__ import annotations

from celery import shared_task

from core import audit, checkpoints, verification
from core.periodic import periodic_task


@periodic_task("core.tasks.flush_security_counts")
def flush_security_counts() -> int:
    """Write the folded security events of every minute that is over (Celery beat, each minute)."""
    return audit.flush_security_counts(batch=None)


# Signing the head is one index read and one signature: a run that takes minutes is stuck (on
# the checkpoint file's storage, say), and the next one is due within ASSAY_CHECKPOINT_INTERVAL_S.
@periodic_task("core.checkpoint_audit_chain", soft_time_limit=240, time_limit=300)
def checkpoint_audit_chain() -> int | None:
    """Sign the chain's head every ``ASSAY_CHECKPOINT_INTERVAL_S`` seconds (default 600), only
    when events were added since the last checkpoint. Returns the new checkpoint's seq, or None."""
    checkpoint = checkpoints.checkpoint_if_new_events()
    return checkpoint.seq if checkpoint else None


@shared_task(name=verification.VERIFY_TASK)
def verify_audit_trail(verification_id: int) -> str:
    """A full verification asked for from the trail page (trails too large for the request)."""
    return verification.run_verification(verification_id).status
