"""Keys and DSSE envelopes (core.signing): one purpose per key, private halves only in files,
rotation keeps old signatures valid, revocation discredits a key entirely."""

from __future__ import annotations

import base64
import json
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core import signing
from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent, SigningKey
from core.verify_bundle import EnvelopeError, pae

PURPOSE = "audit_checkpoint"
TYPE = "application/vnd.assay.test+json"


def _sign(payload: bytes = b'{"hello":"world"}') -> signing.SignedEnvelope:
    return signing.sign(purpose=PURPOSE, payload_type=TYPE, payload=payload)


def test_pae_follows_the_dsse_spec():
    # The spec's own example: PAE("http://example.com/HelloWorld", "hello world").
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")


def test_round_trip_and_envelope_shape(db):
    signed = _sign()
    envelope = signed.envelope
    assert set(envelope) == {"payloadType", "payload", "signatures"}
    assert base64.b64decode(envelope["payload"]) == b'{"hello":"world"}'
    assert envelope["signatures"][0]["keyid"] == signed.keyid
    payload, keyid = signing.verify(envelope, purpose=PURPOSE, payload_type=TYPE)
    assert (payload, keyid) == (b'{"hello":"world"}', signed.keyid)


@pytest.mark.parametrize("tamper, reason", [
    (lambda e: e.update(payload=base64.b64encode(b'{"hello":"mars"}').decode()), "does not verify"),
    (lambda e: e.update(payloadType="application/other"), "payloadType"),
    (lambda e: e["signatures"][0].update(keyid="f" * 64), "not among the trusted keys"),
    (lambda e: e.update(signatures=[]), "no signatures"),
    (lambda e: e["signatures"][0].update(sig=base64.b64encode(b"\x30\x06junk").decode()),
     "does not verify"),
])
def test_tampered_envelopes_are_refused_with_the_reason(db, tamper, reason):
    envelope = json.loads(json.dumps(_sign().envelope))
    tamper(envelope)
    with pytest.raises(EnvelopeError, match=reason):
        signing.verify(envelope, purpose=PURPOSE, payload_type=TYPE)


def test_first_use_creates_a_key_whose_private_half_is_a_0600_file(db, own_files):
    signed = _sign()
    key = SigningKey.objects.get()
    assert key.keyid == signed.keyid and key.purpose == PURPOSE and key.status == "active"
    path = own_files / "keys" / f"{key.keyid}.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in path.read_bytes()
    # Never in the database: no column holds private material.
    assert "PRIVATE" not in key.public_key_pem
    assert AuditEvent.objects.filter(action="signing.key_create", object_id=str(key.pk)).count() == 1


def test_a_key_signs_only_for_its_purpose(db):
    signed = _sign()
    with pytest.raises(EnvelopeError, match="not among the trusted keys"):
        signing.verify(signed.envelope, purpose="artifact", payload_type=TYPE)


def test_rotation_keeps_old_signatures_valid_and_signs_with_the_new_key(db):
    old = _sign(b"before")
    new_key = signing.key_rotate(actor=signing.SYSTEM, purpose=PURPOSE)
    assert new_key.keyid != old.keyid
    assert SigningKey.objects.get(keyid=old.keyid).status == "retired"
    assert signing.verify(old.envelope, purpose=PURPOSE, payload_type=TYPE)[1] == old.keyid
    assert _sign(b"after").keyid == new_key.keyid
    assert SigningKey.objects.active().filter(purpose=PURPOSE).count() == 1


def test_revocation_discredits_every_signature_of_the_key_and_activates_a_successor(db):
    old = _sign()
    successor = signing.key_revoke(actor=signing.SYSTEM, keyid=old.keyid, reason="laptop stolen")
    assert successor is not None and successor.keyid != old.keyid
    revoked = SigningKey.objects.get(keyid=old.keyid)
    assert revoked.status == "revoked" and revoked.revocation_reason == "laptop stolen"
    with pytest.raises(EnvelopeError, match="not among the trusted keys"):
        signing.verify(old.envelope, purpose=PURPOSE, payload_type=TYPE)
    assert _sign().keyid == successor.keyid


def test_revoking_needs_a_reason_and_an_existing_key(db):
    key = signing.active_key(PURPOSE)
    with pytest.raises(ValidationFailed, match="Say why"):
        signing.key_revoke(actor=signing.SYSTEM, keyid=key.keyid, reason=" ")
    with pytest.raises(Exception, match="No signing key has the id"):
        signing.key_revoke(actor=signing.SYSTEM, keyid="nope", reason="x")


def test_only_administrators_manage_keys(db, aude, adam):
    with pytest.raises(PermissionRefused):
        signing.key_create(actor=aude, purpose=PURPOSE)
    key = signing.key_create(actor=adam, purpose=PURPOSE)
    with pytest.raises(Conflict, match="already active"):
        signing.key_create(actor=adam, purpose=PURPOSE)
    with pytest.raises(PermissionRefused):
        signing.key_revoke(actor=aude, keyid=key.keyid, reason="x")


def test_unknown_purpose_is_refused(db):
    with pytest.raises(ValidationFailed, match="Unknown key purpose"):
        signing.key_create(actor=signing.SYSTEM, purpose="everything")


def test_a_missing_private_key_file_is_an_actionable_error(db, own_files):
    key = signing.active_key(PURPOSE)
    (own_files / "keys" / f"{key.keyid}.pem").unlink()
    with pytest.raises(signing.KeyFileMissing, match="missing from the key folder"):
        _sign()


def test_a_key_row_whose_id_is_not_its_fingerprint_is_not_trusted(db):
    signed = _sign()
    other = signing.key_rotate(actor=signing.SYSTEM, purpose=PURPOSE)
    # A database superuser swaps the public key of the old id for another one.
    SigningKey.objects.filter(keyid=signed.keyid).update(public_key_pem=other.public_key_pem)
    assert signed.keyid not in signing.trusted_keys(PURPOSE)


def test_key_commands(db, capsys):
    call_command("keys_create", purpose=PURPOSE)
    first = SigningKey.objects.get()
    call_command("keys_rotate", purpose=PURPOSE)
    second = SigningKey.objects.active().get()
    call_command("keys_revoke", second.keyid, reason="leaked in a log")
    call_command("keys_list")
    out = capsys.readouterr().out
    assert first.keyid in out and second.keyid in out
    assert SigningKey.objects.get(keyid=first.keyid).status == "retired"
    assert SigningKey.objects.get(keyid=second.keyid).status == "revoked"
    assert SigningKey.objects.active().count() == 1
    with pytest.raises(CommandError, match="already active"):
        call_command("keys_create", purpose=PURPOSE)
    actions = list(AuditEvent.objects.filter(action__startswith="signing.").values_list(
        "action", flat=True))
    assert actions == ["signing.key_create", "signing.key_rotate", "signing.key_revoke"]


def test_public_keys_are_published_through_the_api(db, api, dana):
    key = signing.active_key(PURPOSE)
    signing.key_rotate(actor=signing.SYSTEM, purpose=PURPOSE)
    client = api.as_(dana)
    listed = client.get("/api/v1/signing/keys/", {"purpose": PURPOSE}).json()["results"]
    assert {k["keyid"] for k in listed} == set(SigningKey.objects.values_list("keyid", flat=True))
    one = client.get(f"/api/v1/signing/keys/{key.keyid}/").json()
    assert one["status"] == "retired" and one["retired_at"]
    assert one["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "private" not in json.dumps(listed).lower()
    bad = client.get("/api/v1/signing/keys/", {"purpose": "everything"})
    assert bad.status_code == 400 and "purpose" in bad.json()["fields"]
    assert client.get("/api/v1/signing/keys/nope/").status_code == 404
