"""Evaluation runs through the services and the task, as a worker runs them: launch, claim with
a lease, compute, record the evidence once; redelivery, takeover, worker lost, cancel, refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent
from evaluation import services
from evaluation.models import Run, RunStatus
from evaluation.tasks import run_evaluation
from governance.gates import blocking_items, case_for, is_exploratory
from governance.models import Evidence, Finding
from registry.models import VersionAuthor
from tests.conftest import approve_policy

CHECKS = ["performance", "bias", "calibration"]


def launch(version, dataset, actor, **kw) -> Run:
    return services.run_launch(actor=actor, version=version, dataset=dataset, **kw)


def test_a_validators_run_records_one_evidence_per_check_bound_to_what_it_computed_on(
        validating, german_data, victor, queued_runs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = launch(validating, german_data, victor)
    assert run.status == RunStatus.QUEUED and queued_runs.ids == [run.pk]
    assert queued_runs.run() == ["succeeded"]
    run.refresh_from_db()
    assert (run.status, run.progress, run.attempts) == (RunStatus.SUCCEEDED, 100, 1)
    assert run.started_at and run.finished_at and run.worker
    assert run.artifact_digest == validating.artifact_sha256
    assert run.dataset_digests == [german_data.sha256]
    assert set(run.library_versions) >= {"numpy", "onnxruntime"}
    rows = Evidence.objects.filter(version=validating).order_by("check_name")
    assert [e.check_name for e in rows] == sorted(CHECKS)
    for row in rows:
        assert row.status == "passed", row.figures
        assert row.origin == "run" and row.recorded_by is None and row.launched_by == victor
        assert row.artifact_digest == validating.artifact_sha256
        assert row.dataset_digests == [german_data.sha256]
        assert row.source_url == f"/evaluation/runs/{run.pk}/"
        assert row.digest == run.results["checks"][row.check_name]["digest"]
    performance = rows.get(check_name="performance").figures
    assert 0.81 < performance["roc_auc"] < 0.83 and performance["n"] == 1000
    assert rows.get(check_name="bias").figures["dp_ratio"] >= 0.8
    assert not [b for b in blocking_items(validating) if b.kind == "evidence"]


def test_worker_audit_events_carry_the_task_id(validating, german_data, victor, queued_runs,
                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = launch(validating, german_data, victor)
    result = run_evaluation.apply(args=[run.pk], task_id="0f1e2d3c-kill-test-task")
    assert result.get() == "succeeded"
    events = AuditEvent.objects.filter(action__in=["evaluation.run_start",
                                                   "evaluation.run_complete",
                                                   "evidence.record"])
    assert events.count() == 2 + len(CHECKS)
    assert {e.request_id for e in events} == {"task:0f1e2d3c-kill-test-task"}
    assert {e.actor_id for e in events} == {None}


def test_a_redelivered_task_records_nothing_twice(validating, german_data, victor, queued_runs,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = launch(validating, german_data, victor)
    assert run_evaluation.apply(args=[run.pk]).get() == "succeeded"
    assert run_evaluation.apply(args=[run.pk]).get() == "nothing to do"
    assert Evidence.objects.filter(version=validating).count() == len(CHECKS)
    assert AuditEvent.objects.filter(action="evaluation.run_complete").count() == 1


def test_a_live_lease_keeps_a_duplicate_out_and_an_expired_one_lets_it_take_over(
        validating, german_data, victor):
    run = launch(validating, german_data, victor)
    first = services.run_claim(run_id=run.pk, task_id="a", worker="w1")
    assert first.attempts == 1
    with pytest.raises(services.LeaseHeld):
        services.run_claim(run_id=run.pk, task_id="b", worker="w2")
    Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - dt.timedelta(1))
    second = services.run_claim(run_id=run.pk, task_id="b", worker="w2")
    assert (second.attempts, second.worker) == (2, "w2")
    # The first worker comes back to life: its results are refused, the second's count.
    outcome = _outcome(second)
    assert services.run_complete(run_id=run.pk, attempt=1, outcome=outcome) is False
    assert not Evidence.objects.filter(version=validating).exists()
    assert services.run_complete(run_id=run.pk, attempt=2, outcome=outcome) is True
    assert Evidence.objects.filter(version=validating).count() == len(CHECKS)


def _outcome(run: Run):
    from evaluation import engine
    from registry import storage

    with storage.open_stored(run.version.artifact_sha256) as f:
        model_bytes = f.read()
    with storage.open_stored(run.dataset.sha256) as data:
        return engine.load_and_evaluate(
            model_bytes=model_bytes, input_specs=run.version.input_schema,
            task=run.version.model.task, data=data, file_format=run.dataset.file_format,
            label_column=run.dataset.label_column, favourable_class=run.favourable_class,
            threshold=run.threshold, checks=run.checks,
            sensitive_features=run.dataset.sensitive_features, options=run.options,
            inputs={"artifact_digest": run.artifact_digest,
                    "dataset_digests": run.dataset_digests})


def test_a_run_whose_worker_keeps_dying_fails_as_worker_lost(validating, german_data, victor,
                                                             settings):
    run = launch(validating, german_data, victor)
    expired = timezone.now() - dt.timedelta(seconds=1)
    for attempt in range(settings.EVALUATION_MAX_ATTEMPTS):
        assert services.run_claim(run_id=run.pk, task_id=str(attempt), worker="w").attempts \
            == attempt + 1
        Run.objects.filter(pk=run.pk).update(lease_expires_at=expired)
    assert services.run_claim(run_id=run.pk, task_id="last", worker="w") is None
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.error.startswith("Worker lost")
    assert AuditEvent.objects.filter(action="evaluation.run_fail").count() == 1


def test_the_reaper_hands_a_dead_workers_run_on_or_fails_it(validating, german_data, victor,
                                                            queued_runs, settings):
    run = launch(validating, german_data, victor)
    services.run_claim(run_id=run.pk, task_id="a", worker="w")
    assert services.run_reap() == {"requeued": 0, "failed": 0, "resent": 0}  # lease alive
    Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - dt.timedelta(1))
    assert services.run_reap() == {"requeued": 1, "failed": 0, "resent": 0}
    assert queued_runs.ids[-1] == run.pk
    assert queued_runs.run()[-1] == "succeeded"
    other = launch(validating, german_data, victor)
    Run.objects.filter(pk=other.pk).update(
        status=RunStatus.RUNNING, attempts=settings.EVALUATION_MAX_ATTEMPTS,
        lease_expires_at=timezone.now() - dt.timedelta(1))
    assert services.run_reap() == {"requeued": 0, "failed": 1, "resent": 0}
    other.refresh_from_db()
    assert other.status == RunStatus.FAILED and "Worker lost" in other.error


def test_a_cancelled_run_stops_and_records_nothing(validating, german_data, victor,
                                                   queued_runs):
    run = launch(validating, german_data, victor)
    claimed = services.run_claim(run_id=run.pk, task_id="a", worker="w")
    services.run_cancel(actor=victor, run=run)
    assert services.run_complete(run_id=run.pk, attempt=claimed.attempts,
                                 outcome=_outcome(claimed)) is False
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert not Evidence.objects.exists()
    with pytest.raises(Conflict):
        services.run_cancel(actor=victor, run=run)


def test_a_failing_check_fails_its_evidence_raises_a_finding_and_blocks_approval(
        validating, german_data, victor, queued_runs, adam,
        django_capture_on_commit_callbacks):
    from governance import services as governance
    from tests.evaluation.conftest import policy_definition

    strict = [{"check": "performance", "metric": "roc_auc", "comparator": ">=",
               "threshold": 0.9}]
    pv = governance.policy_version_create(actor=adam, policy_slug="evaluated",
                                          name="Evaluated",
                                          definition=policy_definition(strict))
    approve_policy(pv)
    # The version is bound to the policy it was submitted under; this one is a new draft.
    from registry import services as registry
    from tests.evaluation.conftest import upload

    draft = registry.version_create(actor=validating.created_by, model=validating.model,
                                    artifact=upload(_artifact_bytes(validating), "m.onnx"))
    with django_capture_on_commit_callbacks(execute=True):
        run = launch(draft, german_data, validating.created_by, checks=["performance"])
    assert queued_runs.run() == ["succeeded"]
    run.refresh_from_db()
    assert run.verdicts["performance"]["status"] == "failed"
    assert "roc_auc" in run.verdicts["performance"]["reasons"][0]
    assert Evidence.objects.get(version=draft).status == "failed"
    finding = Finding.objects.get(version=draft)
    assert finding.severity == "high" and "performance" in finding.title
    assert any(b.kind == "evidence" and b.key == "performance" for b in blocking_items(draft))


def _artifact_bytes(version) -> bytes:
    from registry import storage

    with storage.open_stored(version.artifact_sha256) as f:
        return f.read()


def test_a_run_on_data_that_no_longer_fits_fails_with_the_reason(validating, german_data,
                                                                 victor, queued_runs):
    run = launch(validating, german_data, victor)
    Run.objects.filter(pk=run.pk).update(favourable_class="excellent")
    queued_runs.ids[:] = [run.pk]
    assert queued_runs.run() == ["failed"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "excellent" in run.error
    assert not Evidence.objects.exists()


def test_who_may_launch(validating, german_data, people):
    # Developers may run exploratory evaluations; their runs are marked so in the trail.
    mine = launch(validating, german_data, people["dana"])
    event = AuditEvent.objects.filter(action="evaluation.run_launch").last()
    assert mine.launched_by == people["dana"] and event.payload["exploratory"] is True
    launch(validating, german_data, people["rhea"])
    for who in ("aude", "boris"):
        with pytest.raises(PermissionRefused):
            launch(validating, german_data, people[who])
    assert Run.objects.count() == 2


def test_a_risk_officers_runs_still_count_after_her_first_made_her_an_author(
        validating, german_data, people, queued_runs, django_capture_on_commit_callbacks):
    """Supplying evidence makes rhea an author (she may not sign this version off), but her
    later runs are judged as the gate judges them: still independent, so not exploratory."""
    rhea = people["rhea"]
    with django_capture_on_commit_callbacks(execute=True):
        launch(validating, german_data, rhea)
    assert queued_runs.run() == ["succeeded"]
    assert VersionAuthor.objects.filter(version=validating, user=rhea, kind="evidence").exists()
    launch(validating, german_data, rhea)
    event = AuditEvent.objects.filter(action="evaluation.run_launch").last()
    assert event.payload["exploratory"] is False
    assert not any(is_exploratory(row, case_for(validating))
                   for row in Evidence.objects.filter(version=validating))


def test_launch_refuses_what_cannot_run(validating, german_data, victor):
    with pytest.raises(ValidationFailed, match="Unknown checks"):
        launch(validating, german_data, victor, checks=["shap"])
    with pytest.raises(ValidationFailed, match="n_bootstrap"):
        launch(validating, german_data, victor, options={"n_bootstrap": 10**6})
    with pytest.raises(ValidationFailed, match="Unknown options"):
        launch(validating, german_data, victor, options={"threads": 8})
    assert not Run.objects.exists()


def test_a_draft_model_recorded_by_mistake_is_deleted_with_its_data_and_runs(
        german_version, dana):
    from registry import services as registry
    from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE, upload

    model = german_version.model
    dataset = services.dataset_upload(actor=dana, model=model, file=upload(GERMAN_CSV),
                                      filename="g.csv", label_column="good_credit",
                                      sensitive_features=SENSITIVE)
    launch(german_version, dataset, dana)
    registry.model_delete(actor=dana, model=model)
    assert not Run.objects.exists() and not type(dataset).objects.exists()
