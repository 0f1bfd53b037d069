"""Runs through outages, at the service and task level (the real broker and database restarts are
in test_outage_broker.py and tests/core/test_outage_database.py): a run still queued long after
its task was sent is sent again, once per delay; a worker that loses its database connection
hands the run back and takes it again, the attempt not counted and the run never failed."""

from __future__ import annotations

import datetime as dt

from django.db import OperationalError
from django.utils import timezone

from core.models import AuditEvent
from evaluation import engine, services
from evaluation.models import Run, RunStatus
from evaluation.tasks import run_evaluation


def test_a_run_still_queued_after_the_delay_is_sent_again_once(validating, german_data, victor,
                                                               queued_runs, settings):
    settings.EVALUATION_REQUEUE_AFTER_S = 60
    run = services.run_launch(actor=victor, version=validating, dataset=german_data)
    assert services.run_reap()["resent"] == 0  # sent a moment ago
    Run.objects.filter(pk=run.pk).update(queued_at=timezone.now() - dt.timedelta(seconds=61))
    assert services.run_reap()["resent"] == 1 and queued_runs.ids == [run.pk]
    assert services.run_reap()["resent"] == 0  # not again before another delay
    # The duplicate a late first delivery meets does nothing: the run is taken once.
    queued_runs.ids.append(run.pk)
    assert sorted(queued_runs.run()) == ["nothing to do", "succeeded"]
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.SUCCEEDED, 1)


def test_a_lost_database_connection_hands_the_run_back_without_counting_it(
        validating, german_data, victor, monkeypatch):
    run = services.run_launch(actor=victor, version=validating, dataset=german_data)
    compute = engine.load_and_evaluate
    calls = []

    def database_drops_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return compute(**kwargs)

    monkeypatch.setattr(engine, "load_and_evaluate", database_drops_once)
    # Eager: the task's retry runs again at once, with the attempt it lost.
    assert run_evaluation.apply(args=[run.pk]).get() == "succeeded"
    run.refresh_from_db()
    assert (run.status, run.attempts, run.error) == (RunStatus.SUCCEEDED, 1, "")
    [released] = AuditEvent.objects.filter(action="evaluation.run_release")
    assert released.payload["attempt"] == 1
    assert AuditEvent.objects.filter(action="evaluation.run_start").count() == 2
    assert not AuditEvent.objects.filter(action="evaluation.run_fail").exists()


def test_releasing_leaves_a_run_another_worker_took_alone(validating, german_data, victor):
    run = services.run_launch(actor=victor, version=validating, dataset=german_data)
    services.run_claim(run_id=run.pk, task_id="a", worker="w")
    Run.objects.filter(pk=run.pk).update(attempts=2)  # taken over since
    assert services.run_release(run_id=run.pk, attempt=1) is False
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.RUNNING, 2)
