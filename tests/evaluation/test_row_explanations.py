"""One row explained on a worker: asked for on the run page or through the API, stored as intent
with its audit event, computed by the task (here in-process, through Celery's ``apply``; the last
test on a real worker over RabbitMQ, on its own queue), polled by the page, and stored bound to
the artifact and data set digests. Bad rows are refused with the reason; a worker that died is
replaced by the reaper."""

from __future__ import annotations

import datetime as dt
import io
import math
import time
import uuid

import pandas as pd
import pytest
from django.utils import timezone

from core.models import AuditEvent
from evaluation import engine, explanations
from evaluation.metrics import digest
from evaluation.models import RowExplanation, RunStatus
from evaluation.tables import read_table
from registry import services as registry
from registry import storage
from tests.evaluation.conftest import upload
from tests.evaluation.test_part2_runs import (  # noqa: F401  (the module's policy fixture)
    FAST,
    api_for,
    csv_bytes,
    evaluation_policy,
    german_frame,
    reference_and_drifted,
    run_now,
)


@pytest.fixture(autouse=True)
def longer_lease(settings):
    """As test_part2_runs' ``long_lease``, longer still: on a loaded machine a run here can take
    minutes, and the lease's heartbeat thread cannot see the test's uncommitted run."""
    settings.EVALUATION_LEASE_S = 3600


@pytest.fixture
def tree_version(german_model, dana):
    """A gradient-boosting version of the credit team's model: explained on the exact tree
    path, in milliseconds a row (the permutation path is tested in test_explain.py)."""
    from tests.evaluation.part2_models import tree_model

    return registry.version_create(actor=dana, model=german_model,
                                   artifact=upload(tree_model("gbc").onnx_bytes, "gbc.onnx"))


@pytest.fixture
def explained_run(tree_version, dana, queued_runs, django_capture_on_commit_callbacks):
    """A run of the tree version that computed explanations, on data with a reference."""
    _reference, data = reference_and_drifted(tree_version.model, dana)
    return run_now(queued_runs, django_capture_on_commit_callbacks, actor=dana,
                   version=tree_version, dataset=data, checks=["explainability"],
                   options={**FAST, "shap_rows": 5})


def test_a_row_is_explained_on_a_worker_and_stored_bound_to_its_inputs(
        explained_run, dana, queued_explanations, django_capture_on_commit_callbacks):
    run = explained_run
    with django_capture_on_commit_callbacks(execute=True):
        asked = explanations.explanation_request(actor=dana, run=run, row="7")
    # The intent is stored with its audit event before any work; the task is queued on commit.
    assert (asked.status, asked.row, asked.progress) == (RunStatus.QUEUED, 7, 0)
    assert queued_explanations.ids == [asked.pk]
    assert asked.artifact_digest == run.artifact_digest
    assert asked.dataset_digests == run.dataset_digests
    assert AuditEvent.objects.filter(action="evaluation.explanation_request",
                                     object_id=str(asked.pk)).count() == 1

    assert queued_explanations.run() == ["succeeded"]
    asked.refresh_from_db()
    assert (asked.status, asked.progress, asked.attempts) == (RunStatus.SUCCEEDED, 100, 1)
    assert asked.result_digest == digest(asked.result)
    local = asked.result["local"][0]
    assert local["row"] == 6 and asked.result["method"] == "tree"
    assert asked.result["output_space"] == "log_odds"  # the scale it explains, stated
    assert sum(local["contributions"].values()) + local["base_value"] == pytest.approx(
        local["prediction"], abs=1e-5)
    assert 1 / (1 + math.exp(-local["prediction"])) == pytest.approx(local["score"], abs=1e-5)
    # What the run's check computes for that row, with the run's seed and background.
    with storage.open_stored(run.dataset.sha256) as f:
        frame = read_table(f, run.dataset.file_format)
    with storage.open_stored(run.reference.sha256) as f:
        reference = read_table(f, run.reference.file_format)
    with storage.open_stored(run.artifact_digest) as f:
        model_bytes = f.read()
    expected = engine.explain_row(
        task="binary_classification", model_bytes=model_bytes,
        input_specs=run.version.input_schema, frame=frame, label_column="good_credit",
        favourable_class=run.favourable_class, threshold=run.threshold, row=6,
        seed=run.options["seed"], reference=reference)
    assert asked.result == expected
    assert list(AuditEvent.objects.filter(object_id=str(asked.pk),
                                          object_type="evaluation.rowexplanation")
                .values_list("action", flat=True).order_by("seq")) == [
        "evaluation.explanation_request", "evaluation.explanation_start",
        "evaluation.explanation_complete"]
    complete = AuditEvent.objects.get(action="evaluation.explanation_complete")
    assert complete.payload["result_digest"] == asked.result_digest
    assert complete.payload["artifact_digest"] == run.artifact_digest

    # Asking again for the same row returns the same explanation; nothing is queued.
    with django_capture_on_commit_callbacks(execute=True):
        again = explanations.explanation_request(actor=dana, run=run, row=7)
    assert again.pk == asked.pk and queued_explanations.ids == []


def test_the_run_page_asks_follows_the_progress_and_shows_the_row(
        explained_run, dana, client, queued_explanations, django_capture_on_commit_callbacks):
    run = explained_run
    client.force_login(dana)
    page = client.get(f"/evaluation/runs/{run.pk}/").content.decode()
    assert "Explain one row" in page and 'method="post"' in page

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/evaluation/runs/{run.pk}/explain/", {"row": "7"})
    asked = RowExplanation.objects.get(run=run, row=7)
    url = f"/evaluation/runs/{run.pk}/explanations/{asked.pk}/"
    assert answer.status_code == 302 and answer["Location"] == f"{url}#local"
    waiting = client.get(url).content.decode()
    assert 'id="local-progress"' in waiting and "Waiting for a worker" in waiting
    assert f'hx-get="{url}"' in waiting  # polled
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    assert "Explaining row 7" in fragment.content.decode()

    assert queued_explanations.run() == ["succeeded"]
    done = client.get(url, headers={"HX-Request": "true"})
    assert done.status_code == 204 and done["HX-Refresh"] == "true"  # polling stops
    shown = client.get(url).content.decode()
    frame = pd.read_csv(io.BytesIO(csv_bytes(german_frame().assign(
        duration=german_frame()["duration"] * 3))))
    assert "Row 7: the model&#x27;s score" in shown or "Row 7: the model's score" in shown
    assert f"<code>duration</code></td><td>{frame['duration'][6]}</td>" in shown
    assert "Row 7: from the base value" in shown  # the row's SHAP bars
    assert 'id="local-progress"' not in shown

    for bad in ("0", "1001", "seven", ""):
        answer = client.post(f"/evaluation/runs/{run.pk}/explain/", {"row": bad})
        assert answer.status_code == 400, bad
        assert "Choose a row number from 1 to 1000" in answer.content.decode(), bad
    assert RowExplanation.objects.filter(run=run).count() == 1  # nothing stored for them


def test_the_api_asks_and_polls_and_refuses_what_it_must(
        explained_run, dana, people, api_for, queued_explanations, queued_runs,  # noqa: F811
        django_capture_on_commit_callbacks):
    run = explained_run
    api = api_for(dana)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/v1/runs/{run.pk}/explanations/", {"row": 7}, format="json")
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert (body["status"], body["row"], body["result"]) == ("queued", 7, None)
    assert body["page"] == f"/evaluation/runs/{run.pk}/explanations/{body['id']}/"
    assert queued_explanations.run() == ["succeeded"]
    polled = api.get(f"/api/v1/explanations/{body['id']}/").json()
    assert polled["status"] == "succeeded" and polled["progress"] == 100
    assert polled["result"]["local"][0]["row"] == 6
    assert polled["result"]["output_space"] == "log_odds"
    assert polled["artifact_digest"] == run.artifact_digest
    assert polled["dataset_digests"] == run.dataset_digests
    listed = api.get("/api/v1/explanations/", {"run": run.pk}).json()
    assert [e["id"] for e in listed["results"]] == [body["id"]]

    for bad in (0, 1001, "seven", None):
        answer = api.post(f"/api/v1/runs/{run.pk}/explanations/", {"row": bad}, format="json")
        assert answer.status_code == 400, bad
        assert answer.json()["fields"]["row"][0].startswith(
            "Choose a row number from 1 to 1000"), bad
    answer = api.post(f"/api/v1/runs/{run.pk}/explanations/", {"row": 1, "rows": 2},
                      format="json")
    assert answer.status_code == 400  # unknown fields are refused
    # An auditor may read but not ask (403); another team's data scientist sees no run (404).
    for refused in ({"row": 1}, {}, {"junk": "\x00"}):  # permission before validation
        answer = api_for(people["aude"]).post(f"/api/v1/runs/{run.pk}/explanations/", refused,
                                              format="json")
        assert answer.status_code == 403 and "Auditors" in answer.json()["detail"]
    assert api_for(people["aude"]).get(f"/api/v1/explanations/{body['id']}/").status_code == 200
    assert api_for(people["frank"]).post(f"/api/v1/runs/{run.pk}/explanations/", {"row": 1},
                                         format="json").status_code == 404
    assert api_for(people["frank"]).get(
        f"/api/v1/explanations/{body['id']}/").status_code == 404

    # A run that did not compute explanations explains no row (409).
    plain = run_now(queued_runs, django_capture_on_commit_callbacks, actor=dana,
                    version=run.version, dataset=run.dataset, checks=["performance"],
                    options=FAST)
    answer = api.post(f"/api/v1/runs/{plain.pk}/explanations/", {"row": 1}, format="json")
    assert answer.status_code == 409 and "explainability" in answer.json()["detail"]
    assert RowExplanation.objects.count() == 1


def test_the_reaper_sends_again_what_waits_and_hands_over_what_a_dead_worker_left(
        explained_run, dana, queued_explanations, settings,
        django_capture_on_commit_callbacks):
    run = explained_run
    with django_capture_on_commit_callbacks(execute=True):
        waiting = explanations.explanation_request(actor=dana, run=run, row=1)
        left = explanations.explanation_request(actor=dana, run=run, row=2)
    queued_explanations.ids[:] = []  # the broker lost both messages
    long_ago = timezone.now() - dt.timedelta(seconds=settings.EVALUATION_REQUEUE_AFTER_S + 1)
    RowExplanation.objects.filter(pk=waiting.pk).update(queued_at=long_ago)
    # The other was taken by a worker that died: its lease ran out.
    RowExplanation.objects.filter(pk=left.pk).update(
        status=RunStatus.RUNNING, attempts=1, lease_expires_at=timezone.now()
        - dt.timedelta(seconds=1))
    assert explanations.explanation_reap() == {"resent": 1, "requeued": 1, "failed": 0}
    assert sorted(queued_explanations.ids) == sorted([waiting.pk, left.pk])
    assert queued_explanations.run() == ["succeeded", "succeeded"]
    left.refresh_from_db()
    assert left.attempts == 2 and left.status == RunStatus.SUCCEEDED

    # Out of attempts: failed as "worker lost", with its audit event.
    with django_capture_on_commit_callbacks(execute=True):
        lost = explanations.explanation_request(actor=dana, run=run, row=3)
    RowExplanation.objects.filter(pk=lost.pk).update(
        status=RunStatus.RUNNING, attempts=settings.EVALUATION_MAX_ATTEMPTS,
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert explanations.explanation_reap()["failed"] == 1
    lost.refresh_from_db()
    assert lost.status == RunStatus.FAILED and lost.error.startswith("Worker lost")
    assert AuditEvent.objects.filter(action="evaluation.explanation_fail",
                                     object_id=str(lost.pk)).count() == 1


@pytest.mark.worker
def test_a_real_worker_explains_a_row_on_its_own_queue(
        transactional_db, tree_version, dana, queued_runs, queued_explanations, tmp_path):
    from config.celery import app
    from tests.evaluation.test_worker_kill import start_worker

    _reference, data = reference_and_drifted(tree_version.model, dana)
    queue = f"evalwire_explain_{uuid.uuid4().hex}"
    queued_runs.send_to(lambda pk: app.send_task("evaluation.run_evaluation", args=[pk],
                                                 queue=queue))
    queued_explanations.send_to(lambda pk: app.send_task(explanations.EXPLAIN_TASK, args=[pk],
                                                         queue=queue))
    worker = start_worker("explain", queue, tmp_path)
    from evaluation import services as evaluation

    steps = set()
    asked = None
    try:
        run = evaluation.run_launch(actor=dana, version=tree_version, dataset=data,
                                    checks=["explainability"], options={**FAST, "shap_rows": 5})
        # Generous: the worker imports shap and onnxruntime first, on a machine others share.
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and not run.is_finished:
            time.sleep(0.2)
            run.refresh_from_db()
        if run.status == RunStatus.SUCCEEDED:
            asked = explanations.explanation_request(actor=dana, run=run, row=7)
            while time.monotonic() < deadline and not asked.is_finished:
                steps.add(asked.step)
                time.sleep(0.05)
                asked.refresh_from_db()
    finally:
        worker.terminate()
        log = worker.communicate(timeout=30)[0].decode(errors="replace")
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    assert run.status == RunStatus.SUCCEEDED, (run.status, run.error, log[-3000:])
    assert asked is not None and asked.status == RunStatus.SUCCEEDED, (
        asked and asked.status, asked and asked.error, log[-3000:])
    assert asked.worker.startswith("explain@") and asked.result["local"][0]["row"] == 6
    assert asked.result_digest == digest(asked.result)
    assert steps - {"", "Done"}, steps  # the page had progress to poll
