"""The evaluation app's Celery tasks: thin, over evaluation.services.

``run_evaluation`` is routed to the ``evaluations`` queue (settings.CELERY_TASK_ROUTES). It is
acknowledged late and rejected (so requeued) when its worker is lost: RabbitMQ delivers it again
to another worker, which takes the run over once the dead worker's lease has run out. Its time
limits are the settings' defaults (20 / 25 minutes), below RabbitMQ's consumer_timeout.
Retries are for transient trouble only — the lease still held by a live worker, the database or
broker unreachable; a problem of the run's inputs fails the run at once (services).
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from core.periodic import periodic_task
from evaluation import explanations, fanout, services
from evaluation.models import Run

log = logging.getLogger(__name__)

# Waiting for a live worker's lease: at most this many times, each at most a lease long.
LEASE_WAIT_RETRIES = 10
TRANSIENT_RETRIES = 5
# A chord body fired early by a chunk delivered twice waits for the other chunks: 5 s a time.
MERGE_WAIT_RETRIES = 60
TRANSIENT = (OperationalError, InterfaceError, BrokerError)


def _backoff(retries: int) -> float:
    """Seconds before retry ``retries + 1`` after a lost connection: doubling from
    ``ASSAY_EVALUATION_RETRY_BACKOFF_S`` (5, 10, 20, 40 s by default), at most a minute."""
    return min(60, 2**retries * settings.EVALUATION_RETRY_BACKOFF_S)


@shared_task(name=services.RUN_TASK, bind=True, acks_late=True, reject_on_worker_lost=True,
             max_retries=LEASE_WAIT_RETRIES + TRANSIENT_RETRIES)
def run_evaluation(self, run_id: int, lost_attempt: int | None = None) -> str:
    """Compute evaluation run ``run_id`` and record its evidence (once, whatever the
    deliveries). ``lost_attempt``: this task's earlier attempt lost the database connection
    and hands the run back before claiming it again."""
    worker = self.request.hostname or "local"
    try:
        run = Run.objects.select_related("version__model", "dataset").filter(pk=run_id).first()
        if run is None:
            return "gone"
        if lost_attempt is not None:
            services.run_release(run_id=run_id, attempt=lost_attempt)
        execute = fanout.run_fan_out if fanout.fans_out(run) else services.run_execute
        return execute(run_id=run_id, task_id=self.request.id or "", worker=worker)
    except services.ConnectionLost as lost:
        log.warning("evaluation run %s: %s; retrying", run_id, lost)
        raise self.retry(countdown=_backoff(self.request.retries), exc=lost,
                         kwargs={"lost_attempt": lost.attempt},
                         max_retries=TRANSIENT_RETRIES) from None
    except services.LeaseHeld as held:
        # A live duplicate, or a dead worker's lease not yet run out: look again then.
        raise self.retry(countdown=max(1.0, held.seconds + 1), max_retries=LEASE_WAIT_RETRIES,
                         exc=held) from None
    except SoftTimeLimitExceeded:
        services.run_fail(run_id, error="The evaluation took longer than the time limit (20 "
                                     "minutes); evaluate a smaller data set or fewer bootstrap "
                                     "replicates.")
        return "failed"
    except TRANSIENT as exc:
        # The database or broker unreachable (before a claim, or while handing a run back):
        # try again later with the same arguments, a lost attempt still to hand back.
        log.warning("evaluation run %s: transient error, retrying: %s", run_id, exc)
        raise self.retry(countdown=_backoff(self.request.retries), exc=exc,
                         max_retries=TRANSIENT_RETRIES) from None


@shared_task(name=fanout.CHUNK_TASK, bind=True, acks_late=True, reject_on_worker_lost=True,
             ignore_result=False, max_retries=TRANSIENT_RETRIES)
def evaluate_chunk(self, run_id: int, attempt: int, plan: dict, stage: int, index: int,
                   edges: dict | None = None) -> str:
    """One chunk of a fanned-out run (evaluation.fanout): a header task of the stage's chord.
    Its result is only the chord's count; the sums are stored as a RunChunk row."""
    try:
        return fanout.chunk_execute(run_id=run_id, attempt=attempt, plan=plan, stage=stage,
                                    index=index, edges=edges,
                                    worker=self.request.hostname or "local")
    except TRANSIENT as exc:
        raise self.retry(countdown=_backoff(self.request.retries), exc=exc) from None


@shared_task(name=fanout.MERGE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True,
             max_retries=MERGE_WAIT_RETRIES)
def merge_chunks(self, run_id: int, attempt: int, plan: dict, stage: int,
                 edges: dict | None = None) -> str:
    """The body of a fanned-out run's chord: merge the stage's chunks (evaluation.fanout)."""
    try:
        return fanout.merge_execute(run_id=run_id, attempt=attempt, plan=plan, stage=stage,
                                    edges=edges)
    except (fanout.ChunksMissing, *TRANSIENT) as exc:
        raise self.retry(countdown=5, exc=exc) from None


@shared_task(name=explanations.EXPLAIN_TASK, bind=True, acks_late=True,
             reject_on_worker_lost=True, max_retries=TRANSIENT_RETRIES)
def explain_row(self, explanation_id: int) -> str:
    """Explain one row of a run's evaluation data (evaluation.explanations); routed to the
    ``evaluations`` queue. A problem of the inputs fails the explanation at once; the database
    or broker unreachable retries."""
    try:
        return explanations.explanation_execute(explanation_id=explanation_id,
                                                task_id=self.request.id or "",
                                                worker=self.request.hostname or "local")
    except SoftTimeLimitExceeded:
        explanations.explanation_fail(explanation_id, error="The explanation took longer than "
                                                            "the time limit (20 minutes).")
        return "failed"
    except TRANSIENT as exc:
        log.warning("row explanation %s: transient error, retrying: %s", explanation_id, exc)
        raise self.retry(countdown=min(60, 2 ** self.request.retries * 5), exc=exc) from None


@periodic_task("evaluation.reap_runs")
def reap_runs() -> dict[str, int]:
    """Hand runs (and row explanations) whose worker died to another worker, or fail them
    ("worker lost"); send again what is still queued long after it was sent."""
    return {**services.run_reap(),
            **{f"explanations_{k}": v for k, v in explanations.explanation_reap().items()}}
