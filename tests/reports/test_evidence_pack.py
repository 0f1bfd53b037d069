"""The evidence pack of a model and the certificate archived at approval: an auditor downloads
one zip, the standalone verifier (python -m core.verify_pack, no Django) passes it, and names the
problem when one file, the manifest, an attestation or a report is tampered with."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import AuditEvent
from core.verify_pack import contents_digest, verify_pack
from governance import services as governance
from governance.models import Finding, Notification, NotificationKind
from registry.models import ModelVersion, SignatureKind, VersionState
from reports import jobs
from reports.models import ExportState, GeneratedReport, Report, ReportKind
from tests.conftest import PASSWORD
from tests.governance.conftest import review_fields
from tests.reports.conftest import pdf_bytes, pdf_text

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]

# The verifier in a fresh interpreter whose imports refuse Django and every Assay module but
# the two verifier files.
STANDALONE = """
import importlib.abc, runpy, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in {"django", "rest_framework", "celery", "config", "registry", "reports"} or (
                top == "core" and name not in {"core", "core.verify_bundle", "core.verify_pack"}):
            raise ImportError(f"the standalone verifier must not import {name}")
        return None
sys.meta_path.insert(0, Refuse())
sys.path.insert(0, sys.argv.pop(1))
sys.argv[0] = "verify_pack"
runpy.run_module("core.verify_pack", run_name="__main__")
"""


@pytest.fixture
def committed(evaluated, walk, people, django_capture_on_commit_callbacks) -> ModelVersion:
    """The evaluated version with a finding (challenged, answered, with an attachment), reviewed
    and signed by boris and rhea, each write committed (so what runs after commit runs)."""
    with django_capture_on_commit_callbacks(execute=True):
        finding = governance.finding_raise(
            actor=people["victor"], version=evaluated, severity="low",
            title="Thin file applicants under-represented",
            description="Only 41 applicants with no credit history in the sample.")
        governance.finding_attach(
            actor=people["victor"], finding=finding, filename="thin-file-backtest.csv",
            upload=SimpleUploadedFile("thin-file-backtest.csv", b"segment,auc\nthin,0.74\n"))
        governance.review_conclude(actor=people["victor"], version=evaluated, **review_fields(
            evaluated, conclusion="approve_with_conditions"))
        walk.sign(evaluated, "boris")
        walk.sign(evaluated, "rhea")
    evaluated.refresh_from_db()
    assert evaluated.state == VersionState.APPROVED
    return evaluated


def _download(client, user, model) -> bytes:
    """The pack as the model's page gives it: asked for, made at once (a small model), and
    downloaded straight away from the stored export."""
    assert client.login(username=user.username, password=PASSWORD)
    response = client.post(reverse("reports:evidence-pack-download", args=[model.slug]))
    job = GeneratedReport.objects.get(kind="evidence_pack")
    assert response.status_code == 302 and response["Location"] == reverse(
        "reports:export-download", args=[job.pk])
    assert not job.on_worker and job.state == ExportState.DONE
    response = client.get(response["Location"])
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/zip"
    content = b"".join(response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == job.sha256 and len(content) == job.size
    return content


def _rewrite(content: bytes, tmp_path: Path, name: str, *, change: dict[str, bytes],
             fix_manifest: bool = False) -> Path:
    """A copy of the pack with files replaced; with ``fix_manifest`` their manifest lines are
    updated to match (the forger's next step)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    manifest = json.loads(source.read("manifest.json"))
    if fix_manifest:
        for item in manifest["files"]:
            if item["path"] in change:
                item["sha256"] = hashlib.sha256(change[item["path"]]).hexdigest()
                item["size"] = len(change[item["path"]])
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as target:
        for entry in source.namelist():
            if entry == "manifest.json":
                target.writestr(entry, json.dumps(manifest))
            else:
                target.writestr(entry, change.get(entry, source.read(entry)))
    return path


def test_the_certificate_is_archived_at_approval_and_never_changes(committed, people, client,
                                                                    tmp_path):
    signature = committed.current_signature(SignatureKind.APPROVAL)
    certificate = Report.objects.get(version=committed, kind=ReportKind.CERTIFICATE)
    assert certificate.frozen and certificate.signature_id == signature.pk
    assert certificate.generated_by is None  # made by Assay when the approval committed
    archived = pdf_bytes(certificate)
    text = pdf_text(archived, tmp_path)
    assert "python -m core.verify_pack german-credit-scorecard-evidence-pack.zip" in text

    # Later events (a comment on the finding) change nothing: the download serves the archive.
    finding = Finding.objects.get(version=committed)
    governance.finding_comment_add(actor=people["victor"], finding=finding, kind="note",
                                   body="Re-checked in the monthly monitoring.")
    assert client.login(username="aude", password=PASSWORD)
    response = client.get(reverse("reports:certificate-pdf",
                                  args=[committed.model.slug, committed.number]))
    assert b"".join(response.streaming_content) == archived
    assert Report.objects.filter(kind=ReportKind.CERTIFICATE).count() == 1
    certificate.refresh_from_db()
    assert pdf_bytes(certificate) == archived
    assert AuditEvent.objects.filter(action="reports.generated",
                                     payload__kind="certificate").count() == 1


def test_the_evidence_pack_verifies_offline_and_tampering_is_named(committed, people, client,
                                                                   tmp_path):
    content = _download(client, people["aude"], committed.model)
    pack = zipfile.ZipFile(io.BytesIO(content))
    manifest = json.loads(pack.read("manifest.json"))
    names = set(pack.namelist())
    version = "versions/v1"
    for expected in [f"{version}/approval-attestation.json", f"{version}/artifact-signature.json",
                     f"{version}/validation-report.pdf", f"{version}/approval-certificate.pdf",
                     f"{version}/model-card.pdf", f"{version}/model-card.json",
                     manifest["audit_bundle"]]:
        assert expected in names, expected
    attachment = next(n for n in names if n.endswith("thin-file-backtest.csv"))
    assert pack.read(attachment) == b"segment,auc\nthin,0.74\n"
    runs = manifest["versions"][0]["runs"]
    assert runs and all(hashlib.sha256(pack.read(r["results"])).hexdigest()
                        == r["results_digest"] for r in runs)
    report = Report.objects.get(version=committed, kind=ReportKind.VALIDATION_REPORT, frozen=True)
    assert pack.read(f"{version}/validation-report.pdf") == pdf_bytes(report)
    # Making the pack is in the audit trail, with the digest of its file list.
    event = AuditEvent.objects.get(action="reports.evidence_pack")
    assert event.actor_username == "aude" and event.model_id == committed.model_id
    assert event.payload["contents_sha256"] == manifest["contents_sha256"] == contents_digest(
        [f for f in manifest["files"] if f["path"] != manifest["audit_bundle"]])

    good = tmp_path / "pack.zip"
    good.write_bytes(content)
    run = subprocess.run([sys.executable, "-I", "-c", STANDALONE, str(REPO), str(good)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("VERIFIED evidence pack of german-credit-scorecard")
    assert "1 approval attestation(s)" in run.stdout

    # One file changed: named, with both digests.
    bad = _rewrite(content, tmp_path, "file.zip", change={attachment: b"segment,auc\nthin,0.91\n"})
    verdict = verify_pack(str(bad))
    assert not verdict.ok
    assert any(r.startswith(f"{attachment}: its SHA-256 is") for r in verdict.reasons)

    # The file and its manifest line changed together: the signed audit trail disagrees.
    bad = _rewrite(content, tmp_path, "manifest.zip", fix_manifest=True,
                   change={attachment: b"segment,auc\nthin,0.91\n"})
    verdict = verify_pack(str(bad))
    assert [r for r in verdict.reasons if "is not the one the audit trail recorded" in r]
    assert not [r for r in verdict.reasons if r.startswith(attachment)]

    # An attestation edited (its signed payload), manifest fixed: the signature fails.
    bundle = json.loads(pack.read(f"{version}/approval-attestation.json"))
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["predicate"]["tier"] = 3
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    bad = _rewrite(content, tmp_path, "attestation.zip", fix_manifest=True,
                   change={f"{version}/approval-attestation.json": json.dumps(bundle).encode()})
    verdict = verify_pack(str(bad))
    assert any(r.startswith(f"{version}/approval-attestation.json (version 1): the approval "
                            f"signature does not verify") for r in verdict.reasons), verdict.reasons

    # Another report in place of the archived one: the attestation's digest names it.
    other = pack.read(f"{version}/model-card.pdf")
    bad = _rewrite(content, tmp_path, "report.zip", fix_manifest=True,
                   change={f"{version}/validation-report.pdf": other})
    verdict = verify_pack(str(bad))
    assert any(r.startswith(f"{version}/validation-report.pdf (version 1): its SHA-256 is")
               and "the approval attestation signs" in r for r in verdict.reasons), verdict.reasons

    # The command line says REJECTED, lists the reasons and exits 1.
    run = subprocess.run([sys.executable, "-I", "-c", STANDALONE, str(REPO), str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stdout.startswith("REJECTED evidence pack")


def test_who_may_ask_for_a_pack(draft, people, client, api):
    model = draft.model
    page = reverse("reports:evidence-pack", args=[model.slug])
    download = reverse("reports:evidence-pack-download", args=[model.slug])
    assert client.login(username="dana", password=PASSWORD)
    assert "Auditors and administrators download" in client.get(page).text
    response = client.post(download)
    assert response.status_code == 403
    client.logout()
    assert client.login(username="frank", password=PASSWORD)  # another team's data scientist
    assert client.get(page).status_code == 404
    assert client.post(download).status_code == 404
    client.logout()
    assert client.login(username="aude", password=PASSWORD)
    assert client.get(download).status_code == 405
    # The API: the same kind of export, the same permission, a bad model named.
    refused = api.as_(people["dana"]).post("/api/v1/reports/exports/", {
        "kind": "evidence_pack", "params": {"model": model.slug}}, format="json")
    assert refused.status_code == 403 and "evidence packs" in refused.json()["detail"]
    for params, message in (({}, "Name the model"), ({"model": "nope"}, "No model 'nope'")):
        bad = api.as_(people["aude"]).post("/api/v1/reports/exports/", {
            "kind": "evidence_pack", "params": params}, format="json")
        assert bad.status_code == 400 and "model" in bad.json()["fields"], bad.content
        assert message in bad.json()["detail"]
    assert not GeneratedReport.objects.exists()


def test_a_large_pack_is_made_by_a_worker_with_progress_and_fetched_through_the_api(
        committed, people, client, api, settings, queued_exports, tmp_path,
        django_capture_on_commit_callbacks):
    settings.REPORTS_PACK_WORKER_ABOVE_BYTES = 1024  # the archived reports exceed it
    aude = people["aude"]
    assert client.login(username="aude", password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:evidence-pack-download",
                                       args=[committed.model.slug]))
    job = GeneratedReport.objects.get(kind="evidence_pack")
    assert response.status_code == 302 and response["Location"] == reverse(
        "reports:export", args=[job.pk])
    assert job.on_worker and job.state == ExportState.QUEUED and queued_exports.ids == [job.pk]
    assert job.params == {"model": committed.model.slug}
    waiting = client.get(response["Location"]).content.decode()
    assert "Waiting for a worker" in waiting and "files" in waiting
    assert not AuditEvent.objects.filter(action="reports.evidence_pack").exists()
    # Its task lost by the broker: the reaper sends it again.
    GeneratedReport.objects.filter(pk=job.pk).update(
        queued_at=job.queued_at - dt.timedelta(hours=1))
    assert jobs.export_reap() == {"resent": 1, "failed": 0}
    # Both deliveries run: the first makes it, the second finds it done.
    assert queued_exports.run() == ["done", "done"]
    job.refresh_from_db()
    assert job.attempts == 1
    assert (job.state, job.filename, job.content_type) == (
        ExportState.DONE, "german-credit-scorecard-evidence-pack.zip", "application/zip")
    assert job.rows >= 8  # files in the pack
    [note] = Notification.objects.filter(user=aude, kind=NotificationKind.REPORT_READY)
    assert note.url == f"/reports/exports/{job.pk}/" and "Evidence pack" in note.title
    # Through the API: listed, polled, downloaded (audited); the verifier passes it.
    body = api.as_(aude).get(f"/api/v1/reports/exports/{job.pk}/").json()
    assert body["kind"] == "evidence_pack" and body["sha256"] == job.sha256
    download = api.as_(aude).get(body["download"])
    assert download.status_code == 200 and download["X-Content-SHA256"] == job.sha256
    path = tmp_path / "pack.zip"
    path.write_bytes(b"".join(download.streaming_content))
    verdict = verify_pack(str(path))
    assert verdict.ok, verdict.reasons
    event = AuditEvent.objects.filter(action="reports.downloaded").latest("seq")
    assert event.payload == {"kind": "evidence_pack", "format": "zip", "export_id": job.pk,
                             "sha256": job.sha256}
    # The manifest digest is in the trail, under the checkpoint the bundle inside carries.
    recorded = AuditEvent.objects.get(action="reports.evidence_pack")
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    assert recorded.payload["contents_sha256"] == manifest["contents_sha256"]


def test_a_small_pack_is_asked_for_through_the_api_and_made_at_once(committed, people, api):
    client = api.as_(people["aude"])
    created = client.post("/api/v1/reports/exports/", {
        "kind": "evidence_pack", "params": {"model": committed.model.slug}}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["state"], body["on_worker"], body["params"]) == (
        "done", False, {"model": committed.model.slug})
    content = b"".join(client.get(body["download"]).streaming_content)
    assert hashlib.sha256(content).hexdigest() == body["sha256"]
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(content)).namelist()
