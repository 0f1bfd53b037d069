"""The evidence pack of a model and the certificate archived at approval: an auditor downloads
one zip, the standalone verifier (python -m core.verify_pack, no Django) passes it, and names the
problem when one file, the manifest, an attestation or a report is tampered with."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from core.models import AuditEvent
from core.verify_pack import contents_digest, verify_pack
from governance import services as governance
from governance.models import Finding
from registry.models import ModelVersion, SignatureKind, VersionState
from reports.models import Report, ReportKind
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
    assert client.login(username=user.username, password=PASSWORD)
    response = client.post(reverse("reports:evidence-pack-download", args=[model.slug]))
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/zip"
    return b"".join(response.streaming_content)


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


def test_who_may_download_a_pack_and_a_pack_too_large_is_refused_before_anything(
        draft, people, client):
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
    before = AuditEvent.objects.count()
    with override_settings(MAX_EVIDENCE_PACK_BYTES=0):
        Report.objects.create(version=draft, kind=ReportKind.MODEL_CARD, sha256="0" * 64,
                              size=3 * 2**20, pages=1, seconds=0.1)
        response = client.post(download)
    assert response.status_code == 409
    assert "would hold 3 MB" in response.text and "ASSAY_EVIDENCE_PACK_MAX_MB" in response.text
    assert AuditEvent.objects.count() == before
