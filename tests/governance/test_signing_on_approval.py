"""Signing on approval (issue 14): every way into approved signs the artifact (OMS) and an approval
attestation; reinstatement signs anew; revoking a key re-signs what is still approved; downloads
from the page and the API; the audit export carries both and the offline verifier checks them."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from core import export, signing
from core.audit import SYSTEM, chain_head
from core.errors import Conflict, PermissionRefused
from core.models import AuditEvent, SigningKey
from core.verify_bundle import verify_lines
from governance import services
from governance.gates import case_for
from governance.models import VersionGovernance
from registry.models import SignatureKind, VersionSignature, VersionState
from tests.core.test_verify_bundle import COPIED_OUT, REPO
from tests.governance.conftest import required_figures
from tests.governance.part2 import raise_high, second_risk_officer

pytestmark = pytest.mark.django_db


def approve(walk, version):
    walk.to_pending(version)
    walk.sign(version, "boris")
    walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED
    return version


def predicate(signature: VersionSignature) -> dict:
    payload = base64.b64decode(signature.bundle["dsseEnvelope"]["payload"])
    return json.loads(payload)["predicate"]


def test_the_final_signoff_signs_the_artifact_and_an_approval_attestation(walk, draft, policy):
    version = approve(walk, draft)
    artifact = version.current_signature(SignatureKind.ARTIFACT)
    approval = version.current_signature(SignatureKind.APPROVAL)
    assert artifact.artifact_sha256 == approval.artifact_sha256 == version.artifact_sha256
    assert artifact.key.purpose == "artifact" and approval.key.purpose == "approval"
    signing.verify_signed_artifact(artifact.bundle, purpose="artifact",
                                   artifact_sha256=version.artifact_sha256)
    statement, _ = signing.verify_signed_artifact(approval.bundle, purpose="approval",
                                                  artifact_sha256=version.artifact_sha256)
    assert statement["subject"] == [{"name": "model.onnx",
                                     "digest": {"sha256": version.artifact_sha256}}]
    said = statement["predicate"]
    gov = VersionGovernance.objects.get(version=version)
    assert said["occasion"] == "approve"
    assert said["model"]["slug"] == version.model.slug and said["version"]["number"] == 1
    assert said["policy_version"] == {"id": policy.pk, "name": str(policy)}
    assert said["tier"] == 2 and said["approved_at"].startswith(f"{gov.decided_at:%Y-%m-%dT%H}")
    assert [(s["signer"], s["role"], s["decision"]) for s in said["signoffs"]] == [
        ("boris", "review_board", "approve"), ("rhea", "risk_officer", "approve")]
    assert said["signoffs"][0]["comment"] == "boris approves"
    assert said["validation"]["validator"] == "victor"
    # The head covers the approval's own event (and the first keys' creation, in the same
    # transaction); the signing event comes right after it.
    approve_event = AuditEvent.objects.get(action="version.approve")
    event = AuditEvent.objects.get(action="signing.version_signed")
    head = AuditEvent.objects.get(seq=event.seq - 1)
    assert said["audit_chain_head"] == {"seq": head.seq, "chain_hash": head.chain_hash}
    assert approve_event.seq <= head.seq and event.payload["occasion"] == "approve"
    assert {s["keyid"] for s in event.payload["signatures"]} == {artifact.key_id,
                                                                 approval.key_id}
    assert version.is_servable()


def test_the_attestation_lists_the_evidence_and_the_waivers_in_force(walk, draft, people):
    version = walk.to_pending(draft)
    services.evidence_record(version=version, check="performance", status="passed",
                             figures=required_figures(version)["performance"], digest="a" * 64,
                             actor=people["victor"],
                             artifact_digest=version.artifact_sha256,
                             dataset_digests=["b" * 64])
    finding = raise_high(walk, version)
    walk.sign(version, "boris")
    walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.PENDING_APPROVAL  # the quorum is met, a finding blocks
    expires = timezone.now() + dt.timedelta(days=30)
    # rhea signed, so another risk officer grants the waiver
    services.waiver_grant(actor=second_risk_officer(), version=version, finding=finding,
                          reason="Remediation in Q3.", compensating_controls="Manual review.",
                          limits_of_use="No automated declines.", expires_at=expires)
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED  # approved by Assay as the last block cleared
    said = predicate(version.current_signature(SignatureKind.APPROVAL))
    listed = {row["check"]: row for row in said["evidence"]}
    assert listed["performance"] == {
        "check": "performance", "required": True, "status": "passed", "origin": "run",
        "result_digest": "a" * 64, "artifact_digest": version.artifact_sha256,
        "dataset_digests": ["b" * 64], "recorded_at": listed["performance"]["recorded_at"]}
    assert {need.check for need in case_for(version).rules.required_evidence} <= set(listed)
    assert [(w["covers"], w["approved_by"]) for w in said["waivers"]] == [
        (f"finding F-{finding.pk}", "rita")]
    assert said["waivers"][0]["expires_at"].startswith(f"{expires:%Y-%m-%dT%H:%M}")
    assert version.is_servable()


def test_reinstatement_signs_a_new_attestation(walk, draft, rhea):
    version = approve(walk, draft)
    first = version.current_signature(SignatureKind.APPROVAL)
    services.version_transition(version=version, to=VersionState.SUSPENDED, actor=rhea,
                                reason="Drift alert.")
    assert not version.is_servable()
    services.version_transition(version=version, to=VersionState.APPROVED, actor=rhea,
                                reason="Drift explained.")
    latest = version.current_signature(SignatureKind.APPROVAL)
    assert latest.pk != first.pk and predicate(latest)["occasion"] == "reinstate"
    assert predicate(latest)["audit_chain_head"]["seq"] > predicate(first)["audit_chain_head"][
        "seq"]
    assert version.signatures.filter(kind=SignatureKind.APPROVAL).count() == 2
    assert version.is_servable()


def test_an_approval_that_cannot_be_signed_is_not_approved(walk, draft, settings):
    version = walk.to_pending(draft)
    walk.sign(version, "boris")
    key = signing.active_key("artifact")
    (settings.KEY_DIR / f"{key.keyid}.pem").unlink()
    with pytest.raises(Conflict, match="private key of the active artifact key"):
        walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.PENDING_APPROVAL
    assert not VersionSignature.objects.exists()
    assert not AuditEvent.objects.filter(action="version.approve").exists()


def test_an_artifact_changed_in_the_store_is_not_signed_nor_approved(walk, draft, settings,
                                                                    tmp_path):
    version = walk.to_pending(draft)
    walk.sign(version, "boris")
    store = tmp_path / "store"
    stored = store / version.artifact_sha256[:2] / version.artifact_sha256
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"not the approved model")
    settings.ARTIFACT_DIR = store
    with pytest.raises(Conflict, match="no longer matches its SHA-256"):
        walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.PENDING_APPROVAL
    assert not VersionSignature.objects.exists()


def test_revoking_the_artifact_key_re_signs_what_is_approved_and_nothing_else(
        walk, draft, rhea, dana, onnx_file):
    from registry import services as registry

    approved = approve(walk, draft)
    suspended = registry.version_create(actor=dana, model=draft.model, artifact=onnx_file())
    approve(walk, suspended)
    services.version_transition(version=suspended, to=VersionState.SUSPENDED, actor=rhea,
                                reason="Drift alert.")
    old = approved.current_signature(SignatureKind.ARTIFACT).key_id
    out = []
    call_command("signing_revoke", old, "--reason", "Key file copied to a laptop.",
                 stdout=_Collect(out))
    assert SigningKey.objects.get(keyid=old).status == "revoked"
    assert f"Re-signed {approved}." in out and f"Re-signed {suspended}." not in out
    renewed = approved.current_signature(SignatureKind.ARTIFACT)
    assert renewed.key_id != old and renewed.key.status == "active"
    assert approved.is_servable()
    # The approval attestation's key was not revoked: it stays as it was.
    assert approved.signatures.filter(kind=SignatureKind.APPROVAL).count() == 1
    # The suspended version is not re-signed: it serves nothing, even once reinstated unsigned...
    assert suspended.current_signature(SignatureKind.ARTIFACT).key_id == old
    assert not suspended.is_servable()
    # ...and its reinstatement signs it afresh with the successor.
    services.version_transition(version=suspended, to=VersionState.APPROVED, actor=rhea,
                                reason="Drift explained.")
    assert suspended.current_signature(SignatureKind.ARTIFACT).key_id == renewed.key_id
    assert suspended.is_servable()
    event = AuditEvent.objects.get(action="signing.approvals_resign")
    assert event.payload["resigned"] == [approved.pk]


def test_a_version_that_cannot_be_re_signed_is_listed_and_stays_unservable(walk, draft, settings,
                                                                         tmp_path):
    version = approve(walk, draft)
    keyid = version.current_signature(SignatureKind.ARTIFACT).key_id
    store = settings.ARTIFACT_DIR
    settings.ARTIFACT_DIR = tmp_path / "empty-store"  # the artifact file is gone
    errors = []
    with pytest.raises(CommandError, match=r"1 approved version\(s\) could not be re-signed"):
        call_command("signing_revoke", keyid, "--reason", "Leaked.", stderr=_Collect(errors))
    assert SigningKey.objects.get(keyid=keyid).status == "revoked"  # the revocation stands
    assert errors[0].startswith(f"NOT re-signed, not servable: {version}: The artifact of")
    assert not version.is_servable()
    failed = AuditEvent.objects.get(action="signing.approvals_resign").payload["failed"]
    assert list(failed) == [str(version.pk)]
    settings.ARTIFACT_DIR = store  # restored from backup
    call_command("approvals_resign", stdout=_Collect([]))
    assert version.is_servable()


def test_a_key_revoked_without_re_signing_stops_serving_until_re_signed(walk, draft, adam,
                                                                        dana):
    version = approve(walk, draft)
    keyid = version.current_signature(SignatureKind.APPROVAL).key_id
    signing.key_revoke(actor=SYSTEM, keyid=keyid, reason="Leaked.")
    assert not version.is_servable()
    assert "revoked on" in version.signature_problems()[0]
    with pytest.raises(PermissionRefused, match="Only administrators"):
        services.approvals_resign(actor=dana)
    outcome = services.approvals_resign(actor=adam)
    assert outcome.resigned == [version] and not outcome.failed
    assert version.is_servable()


def test_a_row_whose_bundle_does_not_verify_does_not_make_a_version_servable(walk, draft):
    """Whoever can write the table could add a row; only a bundle that verifies counts."""
    version = approve(walk, draft)
    current = version.current_signature(SignatureKind.ARTIFACT)
    forged = json.loads(json.dumps(current.bundle))
    forged["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(b"0" * 70).decode()
    VersionSignature.objects.create(version=version, kind=SignatureKind.ARTIFACT,
                                    key_id=current.key_id, bundle=forged,
                                    artifact_sha256=version.artifact_sha256)
    assert not version.is_servable()
    assert "does not verify" in version.signature_problems()[0]
    assert services.approvals_resign(actor=SYSTEM).resigned == [version]
    assert version.is_servable()
    assert version.signatures.filter(kind=SignatureKind.APPROVAL).count() == 1  # it was fine


def test_keys_revoke_sends_artifact_and_approval_keys_to_signing_revoke(walk, draft):
    version = approve(walk, draft)
    keyid = version.current_signature(SignatureKind.ARTIFACT).key_id
    with pytest.raises(CommandError, match="signing_revoke"):
        call_command("keys_revoke", keyid, "--reason", "x")
    assert SigningKey.objects.get(keyid=keyid).status == "active"


# --- downloads --------------------------------------------------------------------------------

def test_api_lists_and_downloads_the_signatures(walk, draft, api, dana, aude, frank):
    version = approve(walk, draft)
    url = f"/api/v1/versions/{version.pk}/signatures/"
    for who in (dana, aude):
        listing = api.as_(who).get(url)
        assert listing.status_code == 200
        body = listing.json()
        assert body["servable"] is True and body["problems"] == []
        assert sorted(s["kind"] for s in body["signatures"] if s["current"]) == [
            "approval", "artifact"]
        download = api.get(f"{url}artifact/")
        assert download.status_code == 200
        assert download["Content-Disposition"].endswith('.model.sig"')
        signing.verify_signed_artifact(json.loads(download.content), purpose="artifact",
                                       artifact_sha256=version.artifact_sha256)
    assert api.as_(frank).get(url).status_code == 404
    assert api.get(f"{url}approval/").status_code == 404
    assert api.as_(dana).get(f"{url}other/").status_code == 404


def test_api_says_when_there_is_nothing_to_download(draft, api, dana):
    url = f"/api/v1/versions/{draft.pk}/signatures/"
    assert api.as_(dana).get(url).json() == {"servable": False, "problems": [], "signatures": []}
    missing = api.get(f"{url}approval/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_the_version_page_links_both_downloads(walk, draft, client, aude):
    version = approve(walk, draft)
    client.force_login(aude)
    page = client.get(reverse("registry:version-detail", args=[version.model.slug, 1]))
    for kind in ("artifact", "approval"):
        link = reverse("registry:signature-download", args=[version.model.slug, 1, kind])
        assert link.encode() in page.content
        download = client.get(link)
        assert download.status_code == 200
        assert json.loads(download.content) == version.current_signature(kind).bundle


def test_the_version_page_says_when_an_approval_is_not_backed_by_signatures(walk, draft, client,
                                                                           aude):
    version = approve(walk, draft)
    signing.key_revoke(actor=SYSTEM, keyid=version.current_signature("artifact").key_id,
                       reason="Leaked.")
    client.force_login(aude)
    page = client.get(reverse("registry:version-detail", args=[version.model.slug, 1]))
    assert b"Approved but <strong>not servable</strong>" in page.content


# --- the audit export ---------------------------------------------------------------------------

def test_the_model_export_carries_both_signatures_and_the_verifier_checks_them(walk, draft, aude,
                                                                             tmp_path):
    version = approve(walk, draft)
    prepared = export.audit_export(actor=aude, model_slug=version.model.slug)
    lines = list(prepared.lines())
    records = [json.loads(line) for line in lines]
    signed = [r for r in records if r["kind"] == "signature"]
    assert sorted(r["signature"] for r in signed) == ["approval", "artifact"]
    verdict = verify_lines(lines)
    assert verdict.ok, verdict.reasons
    assert verdict.signatures_valid == 2
    assert "2 artifact signature(s) and approval attestation(s) verify" in verdict.summary()

    # The verifier copied out alone (no Django, no Assay) checks the same file.
    path = tmp_path / "bundle.jsonl"
    path.write_text("".join(lines))
    alone = tmp_path / "auditor"
    alone.mkdir()
    script = alone / "verify_bundle.py"
    script.write_bytes((REPO / "core" / "verify_bundle.py").read_bytes())
    run = subprocess.run([sys.executable, "-I", "-c", COPIED_OUT, str(script), str(path)],
                         cwd=alone, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout + run.stderr

    # A signature line moved onto another artifact is refused, with the reason.
    for record in records:
        if record["kind"] == "signature" and record["signature"] == "approval":
            record["artifact_sha256"] = "0" * 64
    tampered = verify_lines(json.dumps(r) + "\n" for r in records)
    assert not tampered.ok
    assert any("approval signature of version" in r and "is for artifact" in r
               for r in tampered.reasons)


def test_signatures_by_a_revoked_key_are_left_out_of_the_export(walk, draft, aude):
    version = approve(walk, draft)
    keyid = version.current_signature("artifact").key_id
    signing.key_revoke(actor=SYSTEM, keyid=keyid, reason="Leaked.")
    records = [json.loads(line) for line in
               export.audit_export(actor=aude, model_slug=version.model.slug).lines()]
    assert [r["signature"] for r in records if r["kind"] == "signature"] == ["approval"]
    assert chain_head()[0] > 0


class _Collect:
    """A stdout for call_command that keeps each line written."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def write(self, text: str) -> None:
        self.lines.extend(line for line in text.splitlines() if line)

    def flush(self) -> None:
        pass
