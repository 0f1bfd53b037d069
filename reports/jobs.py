"""Exports as jobs: asking for one, making it (in the request while small, by a worker with
progress above ``REPORTS_WORKER_ABOVE_ROWS``, or as the kind decides: ``Kind.on_worker``), storing the file with its SHA-256, notifying
the requester, sending again what never reached a worker, and recording every download.

The request's intent (a ``GeneratedReport`` row and its audit event) is written in one
transaction, and the task is sent once it commits; a broker that is down leaves the row queued
for ``export_reap`` to send again. A worker claims the row with a lease it renews with each
progress report, so a redelivered task takes over a dead worker's export and a live duplicate
does nothing (the house's claim, as evaluation runs do)."""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core import audit
from core.audit import refuse
from core.errors import Conflict, DomainError, NotVisible, PermissionRefused
from core.leases import Lease
from core.models import User
from governance import services as governance
from governance.models import NotificationKind
from registry import storage
from reports import exports
from reports.models import ExportState, GeneratedReport

log = logging.getLogger(__name__)
EXPORT_TASK = "reports.generate_export"
EXPORT_LEASE = Lease(model=GeneratedReport, state_field="state", queued=ExportState.QUEUED,
                     running=ExportState.RUNNING, lease_s_setting="REPORTS_LEASE_S",
                     max_attempts_setting="REPORTS_MAX_ATTEMPTS",
                     requeue_after_s_setting="REPORTS_REQUEUE_AFTER_S")


class Stopped(Exception):
    """The export is no longer this attempt's (taken over after its lease ran out)."""


def export_queue(export_id: int) -> None:
    """Send the export's task to the broker. Services queue by name and never import the tasks
    module; tests replace this function."""
    current_app.send_task(EXPORT_TASK, args=[export_id])


def export_url(job: GeneratedReport) -> str:
    return reverse("reports:export", kwargs={"pk": job.pk})


def export_request(*, actor: User, kind: str, params: dict[str, Any]) -> GeneratedReport:
    """Ask for an export of ``kind`` with the page's filter ``params``: made now when it covers
    few rows, else queued for a worker (the requester is notified when it is ready). An unknown
    kind or a bad filter is a 400 naming it; a kind the actor may not export is a 403."""
    spec = exports.kind_of(kind)
    if not spec.may(actor):
        refuse(actor, spec.refusal, attempted="export_request")
    clean = spec.clean(actor, params)
    rows = spec.count(actor, clean)
    on_worker = spec.on_worker(actor, clean, rows)
    with transaction.atomic():
        job = GeneratedReport.objects.create(kind=spec.value, params=clean, rows=rows,
                                             on_worker=on_worker, requested_by=actor)
        audit.record(action="reports.export_requested", actor=actor, obj=job, payload={
            "kind": spec.value, "params": clean, "rows": rows, "on_worker": on_worker})
        if on_worker:
            # robust: with the broker down the request still succeeds; the export waits as
            # queued and export_reap sends it again.
            transaction.on_commit(lambda: export_queue(job.pk), robust=True)
    if not on_worker:
        EXPORT_LEASE.take(job.pk)
        job.refresh_from_db()
        _generate(job)
        job.refresh_from_db()
    return job




def _generate(job: GeneratedReport) -> str:
    """Make the claimed export's file, store it under its digest and record it."""
    spec = exports.kind_of(job.kind)

    def progress(percent: int, step: str) -> None:
        if not EXPORT_LEASE.renew(job.pk, job.attempts, progress=max(1, min(99, percent)),
                                  step=step[:200]):
            raise Stopped()

    now = timezone.now()
    try:
        with tempfile.TemporaryFile() as out:
            output = spec.write(job.requested_by, job.params, out, progress, now)
            out.flush()
            sha256, size = storage.sha256_of(out)
            storage.store(out, sha256)
    except Stopped:
        return "taken over"
    except DomainError as exc:
        _fail(job, str(exc))
        return "failed"
    with transaction.atomic():
        if not EXPORT_LEASE.held(job.pk, job.attempts).update(
                state=ExportState.DONE, progress=100, step="Done", sha256=sha256, size=size,
                filename=output.filename, content_type=output.content_type, rows=output.rows,
                pages=output.pages, finished_at=timezone.now()):
            return "taken over"
        job.refresh_from_db()
        audit.record(action="reports.generated", actor=job.requested_by, obj=job, payload={
            "kind": job.kind, "export_id": job.pk, "params": job.params, "sha256": sha256,
            "size": size, "rows": output.rows, "pages": output.pages})
        if job.on_worker:
            governance.notify(users=[job.requested_by], kind=NotificationKind.REPORT_READY,
                              obj=job, title=f"{job.get_kind_display()} is ready",
                              body=f"{output.filename}, {output.rows:,} {spec.unit}.",
                              url=export_url(job))
    return "done"


def _fail(job: GeneratedReport, error: str) -> None:
    with transaction.atomic():
        if GeneratedReport.objects.filter(pk=job.pk).exclude(
                state__in=[ExportState.DONE, ExportState.FAILED]).update(
                state=ExportState.FAILED, error=error, finished_at=timezone.now()):
            audit.record(action="reports.export_failed", actor=None, obj=job, payload={
                "kind": job.kind, "export_id": job.pk, "error": error})


def export_run(*, export_id: int) -> str:
    """The worker's side: claim the export (queued, or running with its lease run out), make it
    and notify the requester. Gone, finished or held by a live worker: nothing to do."""
    now = timezone.now()
    taken = EXPORT_LEASE.take(export_id, now=now)
    job = GeneratedReport.objects.select_related("requested_by").filter(pk=export_id).first()
    if job is None:
        return "gone"
    if not taken:
        if job.attempts >= settings.REPORTS_MAX_ATTEMPTS and EXPORT_LEASE.is_expired(job, now):
            _fail(job, f"Worker lost: the export was started {job.attempts} times and its "
                       "worker stopped each time. Ask for it again.")
            return "failed"
        return job.state
    return _generate(job)


def export_reap() -> dict[str, int]:
    """Exports still queued ``REPORTS_REQUEUE_AFTER_S`` after their task was sent (the broker
    was down, or lost it) and exports whose worker stopped renewing its lease: sent again, or
    failed as "worker lost" once they used their attempts. Called by beat."""
    now = timezone.now()
    resent = EXPORT_LEASE.resend_waiting(export_queue, now)
    failed = 0
    for pk, attempts in EXPORT_LEASE.expired(now):
        if attempts >= settings.REPORTS_MAX_ATTEMPTS:
            _fail(GeneratedReport.objects.get(pk=pk),
                  f"Worker lost: the export was started {attempts} times and its worker "
                  "stopped each time. Ask for it again.")
            failed += 1
        else:
            export_queue(pk)
            resent += 1
    return {"resent": resent, "failed": failed}


def visible_export(actor: User, pk: int) -> GeneratedReport:
    """An export its requester may look at; anyone else's answers 404."""
    job = GeneratedReport.objects.filter(pk=pk, requested_by=actor).first()
    if job is None:
        raise NotVisible(f"No export {pk} of yours; ask for one on the Exports page.")
    return job


def export_download_record(*, actor: User, job: GeneratedReport) -> None:
    """Record that ``actor`` downloaded the export (as the report downloads are recorded:
    ``reports.downloaded`` with the kind, the format and the digest). Only a finished export
    of a kind the actor may still export downloads."""
    spec = exports.kind_of(job.kind)
    if not spec.may(actor):
        raise PermissionRefused(spec.refusal)
    if job.state != ExportState.DONE:
        raise Conflict(f"Export {job.pk} has no file yet: it is "
                       f"{job.get_state_display().lower()}. Its page shows the progress.")
    with transaction.atomic():
        audit.record(action="reports.downloaded", actor=actor, obj=job, payload={
            "kind": job.kind, "format": job.filename.rsplit(".", 1)[-1], "export_id": job.pk,
            "sha256": job.sha256})
