"""Writes of one-row explanations: a person asks, a worker explains, the run page polls.

The same life as a run (evaluation.services), smaller:

* ``explanation_request`` (a person) checks the run and the row number, stores the intent — the
  row, the run's artifact and data set digests — and one audit event in one transaction, and
  queues the task once it commits; asking again for a row already explained (or being
  explained) returns that explanation;
* the task (evaluation.tasks.explain_row) calls ``explanation_execute``: it takes the
  explanation with a lease, explains the row as the run's explainability check explains (same
  seed and background, ``engine.explain_row``), reporting its progress onto the row, and
  records the result with its digest and an audit event in one transaction;
* ``explanation_reap`` (beat, with the runs' reaper) sends again what is still queued
  ``EVALUATION_REQUEUE_AFTER_S`` after it was sent, and hands over or fails what a dead worker
  left running.

No step is long enough to outlive the lease without a progress report (reading the data set is
the longest), so there is no heartbeat thread: each report renews the lease.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.errors import Conflict, ValidationFailed
from core.leases import Lease
from core.models import User
from evaluation import engine
from evaluation.metrics import digest
from evaluation.models import FINISHED, RowExplanation, Run, RunStatus
from evaluation.services import INPUT_ERRORS
from evaluation.tables import read_table
from governance import gates
from registry import storage

EXPLAIN_TASK = "evaluation.explain_row"
EXPLANATION_LEASE = Lease(model=RowExplanation, state_field="status", queued=RunStatus.QUEUED,
                          running=RunStatus.RUNNING, lease_s_setting="EVALUATION_LEASE_S",
                          max_attempts_setting="EVALUATION_MAX_ATTEMPTS",
                          requeue_after_s_setting="EVALUATION_REQUEUE_AFTER_S")


def explanation_queue(explanation_id: int) -> None:
    """Send the explanation's task to the broker (the ``evaluations`` queue, by settings).
    Tests replace this function."""
    current_app.send_task(EXPLAIN_TASK, args=[explanation_id])


def _row_number(run: Run, row: Any) -> int:
    rows = run.dataset.row_count
    number = row if isinstance(row, int) and not isinstance(row, bool) else None
    if isinstance(row, str) and row.strip().isdigit():
        number = int(row.strip())
    if number is None or not 1 <= number <= rows:
        raise ValidationFailed(f"Choose a row number from 1 to {rows} (the data set's rows in "
                               f"file order, 1 = the first row under the header); got "
                               f"{str(row)[:40]!r}.", field="row")
    return number


def explanation_permission(*, actor: User, run: Run) -> None:
    """Refuse (403, recorded) whoever may not ask for explanations of the run: the model's
    team, the version's validator and risk officers may (as for launching a run). The API
    checks this before it validates the input."""
    reason = permissions.reason_cannot_launch_evaluation(actor, gates.case_for(run.version))
    if reason:
        audit.refuse(actor, reason, attempted="explanation_request", target=run)


def explanation_request(*, actor: User, run: Run, row: Any) -> RowExplanation:
    """Ask for row ``row`` (1 = the first data row) of the run's evaluation data to be
    explained on a worker (``explanation_permission``); the run must have computed the
    explainability check."""
    explanation_permission(actor=actor, run=run)
    if run.status != RunStatus.SUCCEEDED or "explainability" not in run.checks:
        raise Conflict(f"Run {run.pk} has no explanations to add a row to: only a run that "
                       "computed the explainability check and succeeded explains single rows.")
    number = _row_number(run, row)
    with transaction.atomic():
        # One explanation per row of a run: the run's inputs are frozen, so it cannot change.
        Run.objects.select_for_update().filter(pk=run.pk).first()
        existing = (RowExplanation.objects.filter(run=run, row=number)
                    .exclude(status__in=[RunStatus.FAILED, RunStatus.CANCELLED]).first())
        if existing is not None:
            return existing
        explanation = RowExplanation.objects.create(
            run=run, row=number, artifact_digest=run.artifact_digest,
            dataset_digests=run.dataset_digests, requested_by=actor)
        audit.record(action="evaluation.explanation_request", actor=actor, obj=explanation,
                     payload={"run": run.pk, "row": number,
                              "artifact_digest": run.artifact_digest,
                              "dataset_digests": run.dataset_digests})
        transaction.on_commit(lambda: explanation_queue(explanation.pk), robust=True)
    return explanation


class _Stopped(Exception):
    """The explanation is no longer this attempt's (taken over after its lease ran out)."""


def explanation_claim(*, explanation_id: int, task_id: str, worker: str
                      ) -> RowExplanation | None:
    """Take the explanation for this task: queued, or running with its lease run out. None
    when there is nothing to do (gone, finished, held by a live worker, or failed now as
    "worker lost" after too many attempts)."""
    now = timezone.now()
    with transaction.atomic():
        if EXPLANATION_LEASE.take(explanation_id, now=now, task_id=task_id[:64],
                                  worker=worker[:200]):
            explanation = RowExplanation.objects.select_related(
                "run__version__model", "run__dataset", "run__reference").get(pk=explanation_id)
            audit.record(action="evaluation.explanation_start", actor=None, obj=explanation,
                         payload={"run": explanation.run_id, "row": explanation.row,
                                  "attempt": explanation.attempts, "worker": explanation.worker})
            return explanation
    explanation = RowExplanation.objects.filter(pk=explanation_id).first()
    if explanation is None or explanation.status in FINISHED:
        return None
    if explanation.status == RunStatus.RUNNING and explanation.lease_expires_at \
            and explanation.lease_expires_at >= now:
        return None  # a live worker has it; the reaper hands it over if that worker dies
    explanation_fail(explanation_id, error=f"Worker lost: the explanation was started "
                                           f"{explanation.attempts} times and its worker stopped "
                                           "each time. Ask for it again.",
                     expired_lease_only=True)
    return None


def explanation_fail(explanation_id: int, *, error: str, attempt: int | None = None,
                     expired_lease_only: bool = False) -> bool:
    """Mark the explanation failed with ``error`` (if it is still this attempt's, or its lease
    ran out); one audit event. Returns whether it did."""
    now = timezone.now()
    with transaction.atomic():
        rows = RowExplanation.objects.filter(pk=explanation_id,
                                             status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
        if attempt is not None:
            rows = rows.filter(attempts=attempt)
        if expired_lease_only:
            rows = rows.filter(status=RunStatus.RUNNING, lease_expires_at__lt=now)
        if not rows.update(status=RunStatus.FAILED, error=error[:5000], finished_at=now,
                           lease_expires_at=None, step="Failed"):
            return False
        explanation = RowExplanation.objects.select_related("run__version").get(
            pk=explanation_id)
        audit.record(action="evaluation.explanation_fail", actor=None, obj=explanation,
                     payload={"run": explanation.run_id, "row": explanation.row,
                              "attempts": explanation.attempts, "error": explanation.error})
    return True


def explanation_execute(*, explanation_id: int, task_id: str, worker: str) -> str:
    """The task's body: claim, explain, record. Returns ``succeeded``, ``failed``,
    ``stopped`` or ``nothing to do``; database errors propagate (the task retries)."""
    explanation = explanation_claim(explanation_id=explanation_id, task_id=task_id,
                                    worker=worker)
    if explanation is None:
        return "nothing to do"
    attempt = explanation.attempts

    def report(percent: int, step: str) -> None:
        if not EXPLANATION_LEASE.renew(explanation_id, attempt,
                                       progress=max(1, min(99, percent)), step=step[:200]):
            raise _Stopped()

    try:
        result = _explain(explanation, report)
    except _Stopped:
        return "stopped"
    except INPUT_ERRORS as exc:  # the stored inputs no longer score: say why, as a run would
        explanation_fail(explanation_id, attempt=attempt,
                         error=f"Row {explanation.row} could not be explained: {exc}")
        return "failed"
    return "succeeded" if explanation_complete(explanation_id=explanation_id, attempt=attempt,
                                               result=result) else "stopped"


def _explain(explanation: RowExplanation, report: Any) -> dict[str, Any]:
    run = explanation.run
    version, dataset, reference = run.version, run.dataset, run.reference
    report(10, "Reading the model and the data set")
    with storage.open_stored(explanation.artifact_digest) as f:
        model_bytes = f.read()
    with storage.open_stored(dataset.sha256) as data:
        frame = read_table(data, dataset.file_format)
    reference_frame = None
    if reference is not None:
        report(30, "Reading the reference data set (the background)")
        with storage.open_stored(reference.sha256) as data:
            reference_frame = read_table(data, reference.file_format)
    report(50, f"Explaining row {explanation.row}")
    result = engine.explain_row(
        task=version.model.task, model_bytes=model_bytes, input_specs=version.input_schema,
        frame=frame, label_column=dataset.label_column, favourable_class=run.favourable_class,
        threshold=run.threshold, row=explanation.row - 1, seed=int(run.options.get("seed", 0)),
        reference=reference_frame)
    report(95, "Recording the explanation")
    return result


def explanation_complete(*, explanation_id: int, attempt: int, result: dict[str, Any]) -> bool:
    """Record the explanation's result and digest, once, with an audit event; a stale attempt
    records nothing (returns False)."""
    with transaction.atomic():
        explanation = (RowExplanation.objects.select_for_update()
                       .select_related("run__version").filter(pk=explanation_id).first())
        if explanation is None or explanation.status != RunStatus.RUNNING \
                or explanation.attempts != attempt:
            return False
        explanation.result, explanation.result_digest = result, digest(result)
        explanation.status, explanation.progress, explanation.step = (
            RunStatus.SUCCEEDED, 100, "Done")
        explanation.finished_at, explanation.lease_expires_at = timezone.now(), None
        explanation.save(update_fields=["result", "result_digest", "status", "progress", "step",
                                        "finished_at", "lease_expires_at"])
        audit.record(action="evaluation.explanation_complete", actor=None, obj=explanation,
                     payload={"run": explanation.run_id, "row": explanation.row,
                              "attempt": attempt, "result_digest": explanation.result_digest,
                              "artifact_digest": explanation.artifact_digest,
                              "dataset_digests": explanation.dataset_digests})
    return True


def explanation_reap() -> dict[str, int]:
    """Explanations a worker left: still queued long after their task was sent (sent again),
    or running with the lease run out (sent again, or failed after their attempts)."""
    now = timezone.now()
    resent = EXPLANATION_LEASE.resend_waiting(explanation_queue, now)
    requeued = failed = 0
    for pk, attempts in EXPLANATION_LEASE.expired(now):
        if attempts >= settings.EVALUATION_MAX_ATTEMPTS:
            failed += explanation_fail(pk, error=f"Worker lost: the explanation was started "
                                                 f"{attempts} times and its worker stopped each "
                                                 "time. Ask for it again.",
                                       expired_lease_only=True)
        else:
            explanation_queue(pk)
            requeued += 1
    return {"resent": resent, "requeued": requeued, "failed": failed}
