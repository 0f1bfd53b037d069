"""Imports from MLflow asked for through the API or the page, run by a worker with progress.

As exports do (reports.jobs): the request writes the intent (an ``MlflowImport`` row and its
audit event) in one transaction and sends the task once it commits, so a broker that is down
leaves it queued for ``import_reap`` to send again; a worker claims it with a lease renewed at
each progress report. An import is idempotent (each MLflow version is imported once, under a
unique constraint), so a redelivered or re-sent task only finishes what is left.
"""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import DomainError, NotVisible, ValidationFailed
from core.leases import Lease
from core.models import Team, User
from registry.mlflow import MlflowRegistry
from registry.mlflow_import import import_from_mlflow
from registry.models import DecisionType, ImportState, MlflowImport, Task

IMPORT_TASK = "registry.import_mlflow"
IMPORT_LEASE = Lease(model=MlflowImport, state_field="state", queued=ImportState.QUEUED,
                     running=ImportState.RUNNING, lease_s_setting="MLFLOW_IMPORT_LEASE_S",
                     max_attempts_setting="MLFLOW_IMPORT_MAX_ATTEMPTS",
                     requeue_after_s_setting="MLFLOW_IMPORT_REQUEUE_AFTER_S")


class Stopped(Exception):
    """The import is no longer this attempt's (taken over after its lease ran out)."""


def import_queue(import_id: int) -> None:
    """Send the import's task to the broker (tests replace this function)."""
    current_app.send_task(IMPORT_TASK, args=[import_id])


def import_request(*, actor: User, tracking_uri: str, team: Team, owner: User | None = None,
                   models: list[str] | None = None, task: str = "", decision_type: str = "",
                   dry_run: bool = True) -> MlflowImport:
    """Ask for an import (a dry run unless ``dry_run`` is False). 403 for anyone but the team's
    data scientists and administrators; 400 for a malformed address or an unknown choice."""
    if not permissions.can_create_model(actor, team):
        refuse(actor, f"Only administrators and data scientists of the team {team.name} can "
                      "import models into it.", attempted="import_mlflow", target=team)
    tracking_uri = MlflowRegistry(tracking_uri).tracking_uri  # refuses what is not http(s)
    if task and task not in Task.values:
        raise ValidationFailed(f"Choose a task from {', '.join(Task.values)}.", field="task")
    if decision_type and decision_type not in DecisionType.values:
        raise ValidationFailed(f"Choose a decision type from {', '.join(DecisionType.values)}.",
                               field="decision_type")
    with transaction.atomic():
        job = MlflowImport.objects.create(
            requested_by=actor, tracking_uri=tracking_uri, team=team, owner=owner,
            registered_models=list(models or []), task=task, decision_type=decision_type,
            dry_run=dry_run)
        audit.record(action="registry.mlflow_import_requested", actor=actor, obj=job, payload={
            "tracking_uri": tracking_uri, "team": team.slug, "models": job.registered_models,
            "dry_run": dry_run, "owner": owner.username if owner else ""})
        transaction.on_commit(lambda: import_queue(job.pk), robust=True)
    return job


def _fail(job: MlflowImport, error: str) -> None:
    with transaction.atomic():
        if MlflowImport.objects.filter(pk=job.pk).exclude(
                state__in=[ImportState.DONE, ImportState.FAILED]).update(
                state=ImportState.FAILED, error=error, finished_at=timezone.now()):
            audit.record(action="registry.mlflow_import_failed", actor=None, obj=job,
                         payload={"error": error})


def import_run(*, import_id: int) -> str:
    """The worker's side: claim the import (queued, or running with its lease run out) and do
    it. Gone, finished or held by a live worker: nothing to do."""
    taken = IMPORT_LEASE.take(import_id)
    job = MlflowImport.objects.select_related("requested_by", "team", "owner").filter(
        pk=import_id).first()
    if job is None:
        return "gone"
    if not taken:
        return job.state

    def progress(done: int, total: int, step: str) -> None:
        percent = max(1, min(99, round(100 * done / total))) if total else 1
        if not IMPORT_LEASE.renew(job.pk, job.attempts, progress=percent, step=step[:200]):
            raise Stopped()

    try:
        report = import_from_mlflow(
            actor=job.requested_by, tracking_uri=job.tracking_uri, team=job.team,
            owner=job.owner, task=job.task, decision_type=job.decision_type,
            models=job.registered_models or None, dry_run=job.dry_run,
            token=settings.MLFLOW_TRACKING_TOKEN, progress=progress)
    except Stopped:
        return "taken over"
    except DomainError as exc:
        _fail(job, exc.message)
        return "failed"
    with transaction.atomic():
        if not IMPORT_LEASE.held(job.pk, job.attempts).update(state=ImportState.DONE, progress=100, step="Done",
                                 report=report.as_dict(), finished_at=timezone.now()):
            return "taken over"
        audit.record(action="registry.mlflow_import_finished", actor=job.requested_by, obj=job,
                     payload={"summary": report.summary(), "dry_run": job.dry_run})
    return "done"


def import_reap() -> dict[str, int]:
    """Imports still queued ``MLFLOW_IMPORT_REQUEUE_AFTER_S`` after their task was sent, and
    imports whose worker stopped renewing its lease: sent again, or failed once they used
    their attempts. Called by beat."""
    now = timezone.now()
    resent = IMPORT_LEASE.resend_waiting(import_queue, now)
    failed = 0
    for pk, attempts in IMPORT_LEASE.expired(now):
        if attempts >= settings.MLFLOW_IMPORT_MAX_ATTEMPTS:
            _fail(MlflowImport.objects.get(pk=pk),
                  f"Worker lost: the import was started {attempts} times and its worker "
                  "stopped each time. Ask for it again; it continues where it stopped.")
            failed += 1
        else:
            import_queue(pk)
            resent += 1
    return {"resent": resent, "failed": failed}


def visible_import(actor: User, pk: int) -> MlflowImport:
    """An import its requester, or an administrator, may look at; anyone else's answers 404."""
    job = MlflowImport.objects.select_related("team", "requested_by").filter(pk=pk).first()
    if job is None or not (job.requested_by_id == actor.pk or permissions.is_admin(actor)):
        raise NotVisible("No such import.")
    return job
