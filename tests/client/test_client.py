"""The Python client and the ``assay`` CLI (clients/python) against a live Assay server on
PostgreSQL: a pipeline submits the demo model, a validator evaluates it, the pipeline waits for
the approval and keeps the evidence; and every refusal reaches the caller in Assay's words with
the exit code a pipeline gates on."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from pathlib import Path

import pytest
from assay_client import AssayClient, AssayError, NotApproved, WaitTimeout
from assay_client.cli import DONE, NOT_DONE, REFUSED, TIMED_OUT, main

from core import services as core
from core.models import AuditEvent
from governance import services as governance
from registry import services as registry
from registry.models import ModelVersion, VersionState
from tests.conftest import PASSWORD
from tests.evaluation.conftest import GERMAN_CSV
from tests.governance.conftest import review_fields

SLUG = "german-credit-scorecard"


@pytest.fixture
def site(transactional_db, live_server) -> str:
    """The live server's address; it reads the database from its own thread, so the test
    commits its data (transactional_db)."""
    return live_server.url


def token_of(user) -> str:
    _row, token = core.token_create(actor=user, name="CI pipeline", expires_in_days=30)
    return token


@pytest.fixture
def as_(site, monkeypatch, tmp_path):
    """``as_(user)``: the CLI's environment set for ``user`` (ASSAY_URL, ASSAY_TOKEN)."""
    tokens: dict[str, str] = {}

    def use(user) -> AssayClient:
        if user.username not in tokens:
            tokens[user.username] = token_of(user)
        monkeypatch.setenv("ASSAY_URL", site)
        monkeypatch.setenv("ASSAY_TOKEN", tokens[user.username])
        return AssayClient()
    return use


@pytest.fixture
def artifact(demo_onnx, tmp_path) -> Path:
    path = tmp_path / "german_credit.onnx"
    path.write_bytes(demo_onnx)
    return path


def cli(capsys, *argv: str) -> tuple[int, dict | list | None, str]:
    """Run ``assay argv…``; returns its exit code, its JSON output and what it said on stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def run_queued_runs_in_background(queued_runs) -> threading.Thread:
    """A worker stand-in: runs each queued evaluation as soon as it is queued."""
    def work() -> None:
        deadline = time.monotonic() + 60
        while not queued_runs.ids and time.monotonic() < deadline:
            time.sleep(0.05)
        queued_runs.run()
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def conclude_and_sign(version: ModelVersion, people) -> None:
    """The validator concludes and the tier's signers approve (through the services)."""
    governance.review_conclude(actor=people["victor"], version=version,
                               **review_fields(version))
    for who in ("boris", "rhea"):
        governance.signoff_record(actor=people[who], version=version, decision="approve",
                                  comment="Approved.", password=PASSWORD)


def test_a_pipeline_submits_the_model_a_validator_evaluates_it_and_the_gate_opens_on_approval(
        german_model, people, as_, artifact, capsys, queued_runs, tmp_path):
    as_(people["dana"])
    code, submitted, err = cli(capsys, "submit", "--model", SLUG, "--artifact", str(artifact),
                               "--changelog", "Retrained on the 2026 vintage.")
    assert code == DONE, err
    version = ModelVersion.objects.get(pk=submitted["version_id"])
    assert version.state == VersionState.SUBMITTED
    assert submitted["artifact_sha256"] == hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert "submitted for validation" in err

    # Not approved yet: the gate stays shut until its timeout.
    code, _, err = cli(capsys, "wait-approved", "--model", SLUG, "--version", "1",
                       "--timeout", "0.2", "--poll", "0.1")
    assert code == TIMED_OUT
    assert "still submitted" in err

    governance.validator_assign(actor=people["rhea"], version=version, validator=people["victor"])
    as_(people["victor"])
    victor = AssayClient()
    dataset = victor.upload_dataset(SLUG, GERMAN_CSV, label_column="good_credit",
                                    sensitive_features=["sex"], version=1)
    run_queued_runs_in_background(queued_runs)
    code, run, err = cli(capsys, "evaluate", "--model", SLUG, "--version", "1",
                         "--dataset-id", str(dataset["id"]), "--wait", "--poll", "0.1")
    assert code == DONE, err
    assert run["status"] == "succeeded"
    assert run["figures"]["performance"]["roc_auc"] > 0.7
    assert "100%" in err  # the progress it followed

    conclude_and_sign(version, people)
    as_(people["dana"])
    code, approved, err = cli(capsys, "wait-approved", "--model", SLUG, "--version", "1",
                              "--timeout", "5", "--poll", "0.1")
    assert code == DONE, err
    assert approved["state"] == "approved"

    out = tmp_path / "evidence"
    code, kept, err = cli(capsys, "evidence", "download", "--model", SLUG, "--version", "1",
                          "--out", str(out))
    assert code == DONE, err
    assert kept["servable"] is True
    assert set(kept["files"]) == {"model-card.json", "README.md", "evidence.json",
                                  "approval.sigstore.json", "artifact.sigstore.json",
                                  "SHA256SUMS"}
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    card = json.loads((out / "model-card.json").read_text())
    assert card["model_details"]["name"] == "German credit scorecard"
    checks = {row["check"] for row in json.loads((out / "evidence.json").read_text())}
    assert {"performance", "bias", "calibration"} <= checks


def test_the_gate_says_no_at_once_when_the_version_is_sent_back(
        german_model, people, as_, artifact, capsys):
    as_(people["dana"])
    assert cli(capsys, "submit", "--model", SLUG, "--artifact", str(artifact))[0] == DONE
    version = ModelVersion.objects.get(model__slug=SLUG, number=1)
    governance.validator_assign(actor=people["rhea"], version=version, validator=people["victor"])
    governance.version_transition(version=version, to=VersionState.CHANGES_REQUESTED,
                                  actor=people["victor"], reason="Document the data lineage.")
    code, answer, err = cli(capsys, "wait-approved", "--model", SLUG, "--version", "1",
                            "--timeout", "30", "--poll", "0.1")
    assert code == NOT_DONE
    assert "changes requested" in err
    assert answer["state"] == "changes_requested"


def test_a_pipeline_records_its_own_test_as_external_evidence_bound_to_the_artifact(
        german_model, people, as_, artifact, capsys, tmp_path):
    client = as_(people["dana"])
    version = client.create_version(SLUG, artifact=artifact)
    result = tmp_path / "report.json"
    result.write_text('{"roc_auc": 0.81}')
    code, row, err = cli(capsys, "evidence", "record", "--model", SLUG, "--version", "1",
                         "--check", "performance", "--status", "passed",
                         "--figures", '{"roc_auc": 0.81}', "--result", str(result),
                         "--artifact", str(artifact), "--dataset", str(GERMAN_CSV))
    assert code == DONE, err
    assert row["origin"] == "external"
    assert row["artifact_digest"] == version["artifact_sha256"]
    assert row["digest"] == hashlib.sha256(result.read_bytes()).hexdigest()


def test_refusals_reach_the_pipeline_in_assays_words_and_store_nothing(
        german_model, people, as_, artifact, capsys, tmp_path, monkeypatch):
    as_(people["dana"])
    pickle = tmp_path / "model.pkl"
    pickle.write_bytes(b"\x80\x04\x95" + b"\x00" * 64)
    code, _, err = cli(capsys, "submit", "--model", SLUG, "--artifact", str(pickle))
    assert code == REFUSED
    assert "pickle" in err.lower()
    assert not ModelVersion.objects.filter(model__slug=SLUG).exists()

    code, _, err = cli(capsys, "submit", "--model", "no-such-model", "--artifact", str(artifact))
    assert code == REFUSED
    assert "not found" in err.lower() or "no " in err.lower()

    code, _, err = cli(capsys, "evidence", "record", "--model", SLUG, "--version", "1",
                       "--check", "performance", "--status", "passed", "--figures", "[1",
                       "--result", str(artifact), "--artifact", str(artifact))
    assert code == REFUSED
    assert "--figures is not JSON" in err

    monkeypatch.setenv("ASSAY_TOKEN", "assay_bad_token")
    code, _, err = cli(capsys, "whoami")
    assert code == REFUSED
    assert "Invalid API token" in err

    monkeypatch.setenv("ASSAY_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    code, _, err = cli(capsys, "whoami")
    assert code == REFUSED
    assert "Could not reach Assay" in err

    with pytest.raises(SystemExit) as usage:
        main(["wait-approved", "--model", SLUG])
    assert usage.value.code == 2


def test_the_client_raises_typed_errors_for_waits(german_model, people, as_, artifact):
    client = as_(people["dana"])
    version = client.create_version(SLUG, artifact=artifact)
    with pytest.raises(NotApproved) as refused:
        client.wait_for_approval(version["id"], timeout=5, poll=0.1)  # a draft is not waiting
    assert refused.value.version["state"] == "draft"
    client.submit(version["id"])
    with pytest.raises(WaitTimeout):
        client.wait_for_approval(version["id"], timeout=0.2, poll=0.1)
    with pytest.raises(AssayError) as missing:
        client.find_version(SLUG, 7)
    assert missing.value.status == 404


def test_a_download_damaged_in_transit_is_refused(german_model, people, as_, artifact,
                                                  monkeypatch):
    client = as_(people["dana"])
    version = client.create_version(SLUG, artifact=artifact)
    original = client.session.request

    def damaging(*args, **kwargs):
        response = original(*args, **kwargs)
        response._content = response.content + b" "
        return response

    monkeypatch.setattr(client.session, "request", damaging)
    with pytest.raises(AssayError, match="damaged in transit"):
        client.model_card(version["id"])


def test_the_model_card_api_serves_json_and_markdown_audited(api, people, german_model,
                                                             demo_onnx):
    artifact = io.BytesIO(demo_onnx)
    artifact.name = "german_credit.onnx"
    version = registry.version_create(actor=people["dana"], model=german_model,
                                      artifact=artifact)
    body = api.as_(people["aude"]).get(f"/api/v1/versions/{version.pk}/model-card/")
    assert body.status_code == 200
    assert json.loads(body.content)["model_details"]["name"] == "German credit scorecard"
    assert AuditEvent.objects.filter(action="reports.downloaded",
                                     payload__format="json").exists()
    markdown = api.get(f"/api/v1/versions/{version.pk}/model-card/?as=markdown")
    assert markdown.status_code == 200
    assert markdown.content.startswith(b"---")
    wrong = api.get(f"/api/v1/versions/{version.pk}/model-card/?as=pdf")
    assert wrong.status_code == 400
    assert "use one of: json, markdown" in wrong.content.decode()
    hidden = api.as_(people["frank"]).get(f"/api/v1/versions/{version.pk}/model-card/")
    assert hidden.status_code == 404
