"""Artifact signatures in the OpenSSF Model Signing (OMS) format and approval attestations
(core.signing, core.verify_bundle): round trips, the upstream ``model_signing`` CLI both ways, the
standalone verifier's verdicts, and each refusal with its reason."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core import signing
from core.models import SigningKey
from core.verify_bundle import (
    APPROVAL_PREDICATE_TYPE,
    INTOTO_STATEMENT_TYPE,
    OMS_PREDICATE_TYPE,
    EnvelopeError,
    keyid_of,
    load_public_key,
    verify_signature_bundle,
)

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
MODEL_SIGNING = Path(sys.executable).with_name("model_signing")
ARTIFACT = b"\x08\x07\x12\x04test" + bytes(range(256)) * 4  # any bytes: OMS signs files
OTHER = ARTIFACT[:-1] + b"\x00"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def statement_of(bundle: dict) -> dict:
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))


def approval_statement(artifact_sha256: str) -> dict:
    return {"_type": INTOTO_STATEMENT_TYPE,
            "subject": [{"name": "model.onnx", "digest": {"sha256": artifact_sha256}}],
            "predicateType": APPROVAL_PREDICATE_TYPE,
            "predicate": {"model": {"slug": "credit"}, "version": {"number": 1}}}


def public_pem(purpose: str) -> str:
    return SigningKey.objects.get(purpose=purpose, retired_at=None, revoked_at=None).public_key_pem


def model_dir(tmp_path: Path, data: bytes, bundle: dict | None = None) -> Path:
    """``model.onnx`` in a directory of its own, with the signature beside it."""
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "model.onnx").write_bytes(data)
    if bundle is not None:
        (folder / "model.sig").write_text(json.dumps(bundle))
    return folder


def upstream(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(MODEL_SIGNING), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def offline(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.verify_bundle", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_the_artifact_bundle_is_an_oms_v1_signature_in_key_mode():
    signed = signing.artifact_bundle(name="credit-v1", artifact=ARTIFACT)
    bundle = signed.bundle
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    key = load_public_key(public_pem("artifact"))
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    assert bundle["verificationMaterial"] == {"publicKey": {"hint": sha(pem)}, "tlogEntries": []}
    assert bundle["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json"
    assert bundle["dsseEnvelope"]["signatures"][0]["keyid"] == signed.keyid == keyid_of(key)
    statement = statement_of(bundle)
    assert statement["_type"] == INTOTO_STATEMENT_TYPE
    assert statement["predicateType"] == OMS_PREDICATE_TYPE
    assert statement["predicate"]["resources"] == [
        {"name": "model.onnx", "algorithm": "sha256", "digest": sha(ARTIFACT)}]
    assert statement["predicate"]["serialization"]["method"] == "files"
    # The subject binds the resources: SHA-256 over their digests (one file here).
    assert statement["subject"] == [{"name": "credit-v1", "digest": {
        "sha256": sha(bytes.fromhex(sha(ARTIFACT)))}}]


def test_artifact_signature_and_approval_attestation_round_trip():
    artifact = signing.artifact_bundle(name="credit-v1", artifact=ARTIFACT)
    approval = signing.sign_statement(purpose="approval",
                                      statement=approval_statement(sha(ARTIFACT)))
    assert artifact.keyid != approval.keyid  # one key per purpose
    statement, keyid = signing.verify_signed_artifact(artifact.bundle, purpose="artifact",
                                                      artifact_sha256=sha(ARTIFACT))
    assert keyid == artifact.keyid and statement["predicateType"] == OMS_PREDICATE_TYPE
    statement, keyid = signing.verify_signed_artifact(approval.bundle, purpose="approval",
                                                      artifact_sha256=sha(ARTIFACT))
    assert keyid == approval.keyid and statement["predicate"]["model"] == {"slug": "credit"}


def test_refusals_each_say_why():
    artifact = signing.artifact_bundle(name="credit-v1", artifact=ARTIFACT)
    other_version = signing.artifact_bundle(name="credit-v2", artifact=OTHER)
    approval = signing.sign_statement(purpose="approval",
                                      statement=approval_statement(sha(ARTIFACT)))

    def refused(bundle: dict, purpose: str, digest: str) -> str:
        with pytest.raises(EnvelopeError) as caught:
            signing.verify_signed_artifact(bundle, purpose=purpose, artifact_sha256=digest)
        return str(caught.value)

    # One byte of the artifact changed.
    assert "model.onnx has SHA-256" in refused(artifact.bundle, "artifact", sha(OTHER))
    # Another version's bundle, presented for this artifact.
    assert "another version's" in refused(other_version.bundle, "artifact", sha(ARTIFACT))
    # An attestation for another digest.
    assert f"is for artifact {sha(ARTIFACT)}, not {sha(OTHER)}" in refused(
        approval.bundle, "approval", sha(OTHER))
    # An artifact's attestation, presented as that of a version with no artifact.
    assert "approves an artifact" in refused(approval.bundle, "approval", "")
    # A key of the other purpose is unknown here.
    assert "not among the trusted keys" in refused(approval.bundle, "artifact", sha(ARTIFACT))
    # An unknown key: a bundle signed outside Assay.
    stranger = ec.generate_private_key(ec.SECP256R1())
    forged = json.loads(json.dumps(artifact.bundle))
    forged["verificationMaterial"]["publicKey"]["hint"] = "0" * 64
    assert "not among the trusted keys" in refused(forged, "artifact", sha(ARTIFACT))
    with pytest.raises(EnvelopeError, match="not among the trusted keys"):
        verify_signature_bundle(artifact.bundle, {keyid_of(stranger.public_key()):
                                                  stranger.public_key()}, sha(ARTIFACT))
    # A changed payload no longer matches its signature.
    statement = statement_of(artifact.bundle)
    statement["predicate"]["resources"][0]["digest"] = sha(OTHER)
    tampered = json.loads(json.dumps(artifact.bundle))
    tampered["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    assert "does not verify" in refused(tampered, "artifact", sha(OTHER))


def test_a_revoked_key_counts_for_nothing_and_a_retired_one_still_verifies():
    before = signing.artifact_bundle(name="credit-v1", artifact=ARTIFACT)
    signing.key_rotate(actor=signing.SYSTEM, purpose="artifact")
    after = signing.artifact_bundle(name="credit-v1", artifact=ARTIFACT)
    assert after.keyid != before.keyid
    for signed in (before, after):  # the retired key's signature stays valid
        signing.verify_signed_artifact(signed.bundle, purpose="artifact",
                                       artifact_sha256=sha(ARTIFACT))
    signing.key_revoke(actor=signing.SYSTEM, keyid=before.keyid, reason="Key file leaked.")
    with pytest.raises(EnvelopeError, match=r"not among the trusted keys \(unknown, or revoked\)"):
        signing.verify_signed_artifact(before.bundle, purpose="artifact",
                                       artifact_sha256=sha(ARTIFACT))


# --- the upstream CLI (model_signing 1.1.x, a test-only dependency) ---------------------------

def test_model_signing_verifies_assays_bundle_and_refuses_a_changed_byte(tmp_path):
    bundle = signing.artifact_bundle(name="model", artifact=ARTIFACT).bundle
    folder = model_dir(tmp_path, ARTIFACT, bundle)
    key = tmp_path / "artifact.pub.pem"
    key.write_text(public_pem("artifact"))
    ok = upstream("verify", "key", folder, "--signature", folder / "model.sig",
                  "--public_key", key)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Verification succeeded" in ok.stdout
    (folder / "model.onnx").write_bytes(OTHER)
    changed = upstream("verify", "key", folder, "--signature", folder / "model.sig",
                       "--public_key", key)
    assert changed.returncode != 0
    assert "Verification failed" in changed.stdout + changed.stderr


def test_a_bundle_made_by_model_signing_verifies_in_assay(tmp_path):
    private = ec.generate_private_key(ec.SECP256R1())
    key_file, pub_file = tmp_path / "key.pem", tmp_path / "pub.pem"
    key_file.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    pub_file.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    folder = model_dir(tmp_path, ARTIFACT)
    signature = tmp_path / "model.sig"
    made = upstream("sign", "key", folder, "--signature", signature, "--private_key", key_file)
    assert made.returncode == 0, made.stdout + made.stderr
    bundle = json.loads(signature.read_text())
    assert bundle["dsseEnvelope"]["signatures"][0]["keyid"] == ""  # upstream names no key id
    keys = {keyid_of(private.public_key()): private.public_key()}
    statement, keyid = verify_signature_bundle(bundle, keys, sha(ARTIFACT))
    assert keyid == keyid_of(private.public_key())
    assert statement["predicate"]["resources"][0]["digest"] == sha(ARTIFACT)
    with pytest.raises(EnvelopeError, match=r"model\.onnx has SHA-256"):
        verify_signature_bundle(bundle, keys, sha(OTHER))
    # And with the standalone verifier auditors run.
    verdict = offline(signature, "--public-key", pub_file, "--model", folder / "model.onnx")
    assert verdict.returncode == 0, verdict.stdout
    assert verdict.stdout.startswith("VERIFIED artifact signature (OpenSSF Model Signing v1.0)")


# --- the standalone verifier's command line ---------------------------------------------------

def test_the_offline_verifier_checks_both_kinds_with_clear_verdicts_and_exit_codes(tmp_path):
    artifact = signing.artifact_bundle(name="credit-v1", artifact=ARTIFACT)
    approval = signing.sign_statement(purpose="approval",
                                      statement=approval_statement(sha(ARTIFACT)))
    folder = model_dir(tmp_path, ARTIFACT, artifact.bundle)
    (tmp_path / "approval.json").write_text(json.dumps(approval.bundle))
    (tmp_path / "artifact.pem").write_text(public_pem("artifact"))
    (tmp_path / "approval.pem").write_text(public_pem("approval"))

    run = offline(folder / "model.sig", "--public-key", tmp_path / "artifact.pem",
                  "--model", folder / "model.onnx")
    assert run.returncode == 0 and f"signed by key {artifact.keyid}" in run.stdout
    run = offline(tmp_path / "approval.json", "--public-key", tmp_path / "approval.pem",
                  "--public-key", tmp_path / "artifact.pem", "--artifact-sha256", sha(ARTIFACT))
    assert run.returncode == 0
    assert run.stdout.startswith("VERIFIED approval attestation of credit version 1")

    run = offline(tmp_path / "approval.json", "--public-key", tmp_path / "approval.pem",
                  "--artifact-sha256", sha(OTHER))
    assert run.returncode == 1 and "REJECTED: the attestation is for artifact" in run.stdout
    run = offline(folder / "model.sig", "--public-key", tmp_path / "approval.pem",
                  "--model", folder / "model.onnx")
    assert run.returncode == 1 and "not among the trusted keys" in run.stdout
    (folder / "model.onnx").write_bytes(OTHER)
    run = offline(folder / "model.sig", "--public-key", tmp_path / "artifact.pem",
                  "--model", folder / "model.onnx")
    assert run.returncode == 1 and "REJECTED: model.onnx has SHA-256" in run.stdout
    run = offline(folder / "model.sig", "--public-key", tmp_path / "artifact.pem")
    assert run.returncode == 2 and "--model FILE or --artifact-sha256" in run.stderr
