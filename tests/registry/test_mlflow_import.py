"""Importing from MLflow, against a real ``mlflow server`` (its own environment, made by
scripts/mlflow-env.sh) whose registry MLflow's own client filled (tests/registry/mlflow/populate.py)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from core.errors import PermissionRefused, ValidationFailed
from core.models import AuditEvent
from core.models.audit import SecurityEventCounter
from registry import mlflow_jobs, services
from registry.mlflow_import import import_from_mlflow
from registry.models import MlflowVersionSource, RegisteredModel, VersionState
from tests.outage_services import free_port
from tests.registry.conftest import model_fields

HERE = Path(__file__).resolve().parent / "mlflow"
BOTH = ["credit-pd", "churn"]


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory):
    """A tracking server on loopback with credit-pd (ONNX flavor) and churn (scikit-learn)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    bin_dir = Path(os.environ.get("ASSAY_TEST_MLFLOW_BIN", cache / "assay/mlflow-server/bin"))
    if not (bin_dir / "mlflow").exists():
        pytest.fail(f"No MLflow server environment at {bin_dir}: scripts/test makes it "
                    "(scripts/mlflow-env.sh), or set ASSAY_TEST_MLFLOW_BIN.")
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(root / "server.log", "wb") as log:
        server = subprocess.Popen(
            [str(bin_dir / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
             "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
            cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("mlflow server did not start:\n"
                            + (root / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        subprocess.run([str(bin_dir / "python"), str(HERE / "populate.py"), url], cwd=root,
                       check=True, timeout=600, capture_output=True)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)


def onnx_sha256(url: str) -> str:
    """The SHA-256 of credit-pd version 1's model.onnx, read straight from MLflow."""
    directory = requests.get(f"{url}/api/2.0/mlflow/model-versions/get-download-uri",
                             params={"name": "credit-pd", "version": "1"},
                             timeout=30).json()["artifact_uri"]
    path = directory.split(":", 1)[1].strip("/")
    body = requests.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/{path}/model.onnx",
                        timeout=30).content
    return hashlib.sha256(body).hexdigest()


def imported(url, actor, teams, **options):
    return import_from_mlflow(actor=actor, tracking_uri=url, team=teams["credit"],
                              **{"models": BOTH, **options})


def test_a_dry_run_says_what_it_would_import_and_writes_nothing(mlflow_url, dana, teams):
    events = AuditEvent.objects.count()

    report = imported(mlflow_url, dana, teams, task="binary_classification",
                      decision_type="marketing", dry_run=True)

    assert [(line.registered_model, line.action, line.mlflow_version) for line in report.lines] \
        == [("churn", "create model", None), ("churn", "create version", 1),
            ("credit-pd", "create model", None), ("credit-pd", "create version", 1)]
    churn_v1, credit_v1 = report.lines[1], report.lines[3]
    assert "without an artifact (flavor sklearn)" in churn_v1.detail
    assert "skl2onnx" in churn_v1.detail
    assert "with its ONNX artifact model.onnx" in credit_v1.detail
    assert "in production in MLflow but not validated here" in credit_v1.detail  # champion
    assert report.summary().startswith("would create 2 model(s) and 2 version(s)")
    assert RegisteredModel.objects.count() == 0
    assert AuditEvent.objects.count() == events


def test_onnx_versions_come_with_their_checked_artifact_and_provenance(mlflow_url, dana, teams):
    report = imported(mlflow_url, dana, teams, task="binary_classification",
                      decision_type="marketing")

    assert report.count("refuse") == 0, report.as_dict()
    credit = RegisteredModel.objects.get(slug="credit-pd")
    assert credit.purpose == "Probability of default, retail loans."
    assert (credit.task, credit.decision_type) == ("binary_classification", "credit")  # tags
    assert credit.mlflow_source.tracking_uri == mlflow_url
    version = credit.versions.get()
    assert version.state == VersionState.DRAFT
    assert version.artifact_sha256 == onnx_sha256(mlflow_url)
    assert [t["name"] for t in version.input_schema] == ["X"]  # read from the graph, as uploads
    source = version.mlflow_source
    assert (source.mlflow_version, source.aliases, source.tags) == (1, ["champion"],
                                                                    {"reviewed": "no"})
    assert source.run_metrics == {"auc": 0.91}
    assert source.source_uri.startswith("models:/") and len(source.run_id) == 32
    assert "onnx" in source.flavors and source.conversion_hint == ""
    assert set(version.authors.values_list("user__username", "kind")) \
        == {("dana", "created"), ("dana", "artifact")}
    event = AuditEvent.objects.get(action="version.import_mlflow",
                                   payload__registered_model="credit-pd")
    assert event.payload["artifact_sha256"] == version.artifact_sha256

    churn = RegisteredModel.objects.get(slug="churn")
    assert (churn.task, churn.decision_type) == ("binary_classification", "marketing")
    assert "without a description" in churn.purpose
    churn_v1 = churn.versions.get()
    assert churn_v1.artifact_sha256 == ""
    assert "skl2onnx" in churn_v1.mlflow_source.conversion_hint


def test_importing_again_adds_only_what_is_new(mlflow_url, dana, teams):
    first = imported(mlflow_url, dana, teams, models=["credit-pd"])
    assert first.count("create version") == 1
    # MLflow registers version 2 of credit-pd from version 1's model.
    v1 = requests.get(f"{mlflow_url}/api/2.0/mlflow/model-versions/get",
                      params={"name": "credit-pd", "version": "1"},
                      timeout=30).json()["model_version"]
    requests.post(f"{mlflow_url}/api/2.0/mlflow/model-versions/create",
                  json={"name": "credit-pd", "source": v1["source"], "run_id": v1["run_id"],
                        "model_id": v1["source"].removeprefix("models:/")},
                  timeout=30).raise_for_status()

    again = imported(mlflow_url, dana, teams, models=["credit-pd"])

    assert [(line.action, line.mlflow_version) for line in again.lines] \
        == [("already imported", 1), ("create version", 2)]
    credit = RegisteredModel.objects.get(slug="credit-pd")
    assert list(credit.versions.order_by("number")
                .values_list("number", "mlflow_source__mlflow_version")) \
        == [(1, 1), (2, 2)]
    assert imported(mlflow_url, dana, teams, models=["credit-pd"]).count("create version") == 0


def test_what_cannot_be_imported_is_refused_with_the_reason_and_the_rest_goes_on(
        mlflow_url, dana, teams, settings):
    services.model_create(actor=dana, team=teams["credit"], slug="churn",
                          **model_fields(name="Churn (ours)"))
    settings.MAX_ARTIFACT_BYTES = 100  # credit-pd's model.onnx is larger

    report = imported(mlflow_url, dana, teams)  # and no --task for churn either

    refusals = {(line.registered_model, line.mlflow_version): line.detail
                for line in report.lines if line.action == "refuse"}
    assert "already has a model with the slug 'churn'" in refusals[("churn", None)]
    assert "larger than the 100-byte artifact limit" in refusals[("credit-pd", 1)]
    credit = RegisteredModel.objects.get(slug="credit-pd")  # the model itself came in
    assert not credit.versions.exists()
    assert not MlflowVersionSource.objects.exists()


def test_bad_addresses_names_and_people_get_clear_errors(mlflow_url, dana, aude, teams):
    with pytest.raises(ValidationFailed, match="not an http"):
        imported("ftp://mlflow.internal", dana, teams)
    with pytest.raises(ValidationFailed, match="could not be reached"):
        imported(f"http://127.0.0.1:{free_port()}", dana, teams)
    with pytest.raises(ValidationFailed, match=r"no registered model named nope\. It has: .*churn"):
        imported(mlflow_url, dana, teams, models=["nope"])
    with pytest.raises(PermissionRefused, match="Only administrators and data scientists"):
        imported(mlflow_url, aude, teams)
    assert SecurityEventCounter.objects.filter(action="governance.refused",
                                               principal="aude").exists()


def test_the_command_prints_the_plan_and_fails_when_something_was_refused(mlflow_url, dana,
                                                                          teams):
    out = io.StringIO()
    call_command("import_mlflow", "--tracking-uri", mlflow_url, "--team", "credit", "--as",
                 "dana", "--model", "credit-pd", "--dry-run", stdout=out)
    assert "create model     credit-pd -> credit-pd" in out.getvalue()
    assert "Dry run, nothing written: would create 1 model(s)" in out.getvalue()

    with pytest.raises(CommandError, match="1 item\\(s\\) refused"):
        call_command("import_mlflow", "--tracking-uri", mlflow_url, "--team", "credit", "--as",
                     "dana", "--model", "churn", stdout=io.StringIO())  # no --task
    with pytest.raises(CommandError, match="No team with the slug 'nope'"):
        call_command("import_mlflow", "--tracking-uri", mlflow_url, "--team", "nope", "--as",
                     "dana")


@pytest.fixture
def queued_imports(monkeypatch) -> list[int]:
    """Import ids the API sent to the broker (kept here; the test runs the worker's side)."""
    sent: list[int] = []
    monkeypatch.setattr(mlflow_jobs, "import_queue", sent.append)
    return sent


def test_through_the_api_an_import_is_queued_run_by_the_worker_and_reported(
        mlflow_url, api, dana, frank, teams, queued_imports, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.as_(dana).post("/api/v1/imports/mlflow/", {
            "tracking_uri": mlflow_url, "team": "credit", "models": ["credit-pd"],
            "dry_run": False}, format="json")
    assert answer.status_code == 202, answer.json()
    job = answer.json()
    assert (job["state"], job["dry_run"], queued_imports) == ("queued", False, [job["id"]])

    assert mlflow_jobs.import_run(import_id=job["id"]) == "done"
    assert mlflow_jobs.import_run(import_id=job["id"]) == "done"  # a redelivery does nothing

    done = api.get(f"/api/v1/imports/mlflow/{job['id']}/").json()
    assert (done["state"], done["progress"]) == ("done", 100)
    assert done["summary"].startswith("created 1 model(s) and ")
    assert [(line["action"], line["assay_model"]) for line in done["lines"]][:2] \
        == [("create model", "credit-pd"), ("create version", "credit-pd")]
    assert AuditEvent.objects.filter(action="registry.mlflow_import_finished").count() == 1
    assert api.as_(frank).get(f"/api/v1/imports/mlflow/{job['id']}/").status_code == 404

    version_page = api.as_(dana).get("/models/credit-pd/versions/1/").content.decode()
    assert "Imported from MLflow" in version_page
    assert "(in production in MLflow; not validated here" in version_page
    import_page = api.get(f"/imports/mlflow/{job['id']}/").content.decode()
    assert "created 1 model(s) and " in import_page
    assert 'href="/models/credit-pd/versions/1/"' in import_page


def test_the_api_refuses_bad_requests_with_the_reason(api, dana, aude, teams, queued_imports):
    def post(user, **body):
        return api.as_(user).post("/api/v1/imports/mlflow/",
                                  {"tracking_uri": "http://mlflow:5000", "team": "credit",
                                   **body}, format="json")

    assert "not an http" in str(post(dana, tracking_uri="ftp://mlflow").json())
    assert post(dana, team="nope").status_code == 400
    assert post(dana, task="clustering").status_code == 400
    assert "read-only" in str(post(dana, state="done").json())
    assert post(aude).status_code == 403
    assert post(dana, team="fraud").status_code == 403  # not her team
    assert queued_imports == []


def test_an_import_that_never_reached_a_worker_is_sent_again(dana, teams, queued_imports,
                                                            settings):
    job = mlflow_jobs.import_request(actor=dana, tracking_uri="http://mlflow:5000",
                                     team=teams["credit"])
    settings.MLFLOW_IMPORT_REQUEUE_AFTER_S = 0

    assert mlflow_jobs.import_reap() == {"resent": 1, "failed": 0}
    assert queued_imports == [job.pk]


def test_the_page_starts_a_dry_run_and_follows_it(client, dana, aude, teams, queued_imports,
                                                  django_capture_on_commit_callbacks):
    client.force_login(dana)
    form = client.get("/imports/mlflow/").content.decode()
    assert re.search(r'<input type="checkbox" name="dry_run"[^>]*checked', form)

    refused = client.post("/imports/mlflow/", {"tracking_uri": "ftp://mlflow", "team": "credit",
                                               "dry_run": "on"})
    assert refused.status_code == 400 and "not an http" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/imports/mlflow/", {"tracking_uri": "http://mlflow:5000",
                                                   "team": "credit", "dry_run": "on"},
                              follow=True)
    page = started.content.decode()
    assert "is queued; this page shows its progress" in page
    assert "Waiting for a worker" in page and 'hx-trigger="every 1s"' in page
    assert len(queued_imports) == 1

    client.force_login(aude)
    assert client.get("/imports/mlflow/").status_code == 403
    assert client.get(f"/imports/mlflow/{queued_imports[0]}/").status_code == 404
