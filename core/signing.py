"""The one signing module of Assay: keys with one purpose each, and DSSE envelopes.

Audit checkpoints sign with it (DSSE envelopes); so do approvals: the artifact, in the OpenSSF
Model Signing format, and the approval attestation, both Sigstore bundles (docs/signing.md),
built and verified here from bytes in memory.

* Keys are ECDSA P-256. The private key is a PKCS#8 PEM file ``<KEY_DIR>/<keyid>.pem`` (mode 0600,
  folder 0700); it never enters the database and is never logged. The public key, purpose, id and
  validity are rows of ``SigningKey``, published through the API.
* A key id is the SHA-256 of the public key (DER SubjectPublicKeyInfo), so an id names exactly one
  public key and a substituted key cannot pass under an old id.
* At most one key per purpose is active (a partial unique index). Rotation retires the active key
  and creates its successor: a retired key signs nothing new and its past signatures stay valid.
* Revocation is for compromise only. A revoked key is trusted for nothing, *including signatures it
  made before the revocation*: a signature carries no trustworthy time (whoever holds the key can
  write any date into what they sign), so "valid until the revocation" cannot be checked. Revoking
  activates a successor at once, and a fresh checkpoint re-anchors the chain under it.
* Envelopes follow DSSE (the format of in-toto and OpenSSF Model Signing); the encoding and the
  verification routine are those of the standalone verifier (``core.verify_bundle``), so the server
  and an auditor check signatures with the same code.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit, checkpoint_file, permissions
from core.audit import SYSTEM
from core.errors import Conflict, NotVisible, ValidationFailed
from core.models import User
from core.models.signing import KeyPurpose, SigningKey
from core.verify_bundle import (
    APPROVAL_PREDICATE_TYPE,
    ARTIFACT_FILENAME,
    INTOTO_PAYLOAD_TYPE,
    OMS_PREDICATE_TYPE,
    EnvelopeError,
    canonical_bytes,
    keyid_of,
    load_public_key,
    oms_statement,
    pae,
    sigstore_bundle,
    verify_envelope,
    verify_signature_bundle,
)

__all__ = [
    "EnvelopeError",
    "KeyPurpose",
    "SignedBundle",
    "SignedEnvelope",
    "active_key",
    "artifact_bundle",
    "key_create",
    "key_revoke",
    "key_rotate",
    "public_keys",
    "sign",
    "sign_statement",
    "verify",
    "verify_signed_artifact",
]


@dataclass(frozen=True)
class SignedEnvelope:
    """A DSSE envelope and the key that signed it."""

    envelope: dict[str, Any]
    keyid: str


@dataclass(frozen=True)
class SignedBundle:
    """A Sigstore bundle (JSON), the key that signed it, and (for an artifact) the SHA-256 of
    the bytes signed."""

    bundle: dict[str, Any]
    keyid: str
    artifact_sha256: str = ""


class KeyFileMissing(Conflict):
    """The database names an active key whose private file is not in KEY_DIR."""


def _require_admin(actor: User | None, *, attempted: str) -> None:
    if actor is not SYSTEM and not permissions.is_admin(actor):
        audit.refuse(actor, "Only administrators can create, rotate or revoke signing keys.",
                     attempted=attempted)


def _check_purpose(purpose: str) -> None:
    if purpose not in KeyPurpose.values:
        raise ValidationFailed(
            f"Unknown key purpose {purpose!r}; choose one of: {', '.join(KeyPurpose.values)}.",
            field="purpose",
        )


def key_path(keyid: str) -> Path:
    return Path(settings.KEY_DIR) / f"{keyid}.pem"


def _write_private_key(private_key: ec.EllipticCurvePrivateKey, keyid: str) -> Path:
    """Write the private key readable by the owner only; refuse to overwrite an existing file."""
    folder = Path(settings.KEY_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = key_path(keyid)
    pem = private_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def _load_private_key(key: SigningKey) -> ec.EllipticCurvePrivateKey:
    path = key_path(key.keyid)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileMissing(
            f"The private key of the active {key.purpose} key {key.keyid[:16]} is missing from "
            f"the key folder ({settings.KEY_DIR}). Restore it from backup, or revoke the key and "
            f"create a new one: manage.py keys_revoke {key.keyid} --reason '...'."
        ) from exc
    private_key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or \
            keyid_of(private_key.public_key()) != key.keyid:
        raise Conflict(f"The key file {path.name} does not hold the private key of key "
                       f"{key.keyid[:16]}; restore the right file.")
    return private_key


def _new_key(purpose: str) -> SigningKey:
    """Generate a key pair, write the private half to its file, return the unsaved public row."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    keyid = keyid_of(private_key.public_key())
    _write_private_key(private_key, keyid)
    pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return SigningKey(keyid=keyid, purpose=purpose, public_key_pem=pem)


def _key_record(key: SigningKey, event: str) -> dict[str, Any]:
    """A key's public facts, as a line of the checkpoint file (outside the database)."""
    return {"kind": "key", "event": event, "keyid": key.keyid, "purpose": key.purpose,
            "algorithm": key.algorithm, "public_key_pem": key.public_key_pem,
            "at": audit.format_time(timezone.now()),
            "reason": key.revocation_reason if event == "revoked" else ""}


def key_create(*, actor: User | None, purpose: str) -> SigningKey:
    """Create the active key for a purpose; refuse when one is already active (rotate instead)."""
    _require_admin(actor, attempted="key_create")
    _check_purpose(purpose)
    if SigningKey.objects.active().filter(purpose=purpose).exists():
        raise Conflict(f"A {purpose} key is already active; rotate it with "
                       f"manage.py keys_rotate --purpose {purpose}.", field="purpose")
    key = _new_key(purpose)
    try:
        with transaction.atomic():
            key.save(force_insert=True)
            audit.record(action="signing.key_create", actor=actor, obj=key,
                         payload={"keyid": key.keyid, "purpose": purpose})
    except IntegrityError as exc:  # a concurrent create won the race
        key_path(key.keyid).unlink(missing_ok=True)
        raise Conflict(f"A {purpose} key was created at the same moment; use that one.") from exc
    checkpoint_file.append(_key_record(key, "created"))
    return key


def key_rotate(*, actor: User | None, purpose: str) -> SigningKey:
    """Retire the active key of a purpose (its signatures stay valid) and activate a new one."""
    _require_admin(actor, attempted="key_rotate")
    _check_purpose(purpose)
    new = _new_key(purpose)
    with transaction.atomic():
        old = SigningKey.objects.select_for_update().active().filter(purpose=purpose).first()
        if old is not None:
            old.retired_at = timezone.now()
            old.save(update_fields=["retired_at"])
        new.save(force_insert=True)
        audit.record(action="signing.key_rotate", actor=actor, obj=new,
                     payload={"keyid": new.keyid, "purpose": purpose,
                              "retired": old.keyid if old else None})
    if old is not None:
        checkpoint_file.append(_key_record(old, "retired"))
    checkpoint_file.append(_key_record(new, "created"))
    return new


def key_revoke(*, actor: User | None, keyid: str, reason: str) -> SigningKey | None:
    """Revoke a compromised key; if it was active, activate a successor. Returns the successor.

    Everything the key ever signed stops counting as evidence (see the module docstring).
    """
    _require_admin(actor, attempted="key_revoke")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Say why the key is revoked (revocation is for compromise).",
                               field="reason")
    successor = None
    with transaction.atomic():
        key = SigningKey.objects.select_for_update().filter(keyid=keyid).first()
        if key is None:
            raise NotVisible(f"No signing key has the id {keyid!r}; list them with "
                             f"manage.py keys_list.")
        if key.revoked_at:
            raise Conflict(f"Key {keyid[:16]} was already revoked at {key.revoked_at:%Y-%m-%d}.")
        was_active = key.retired_at is None
        key.revoked_at = timezone.now()
        key.revocation_reason = reason
        key.save(update_fields=["revoked_at", "revocation_reason"])
        if was_active:
            successor = _new_key(key.purpose)
            successor.save(force_insert=True)
        audit.record(action="signing.key_revoke", actor=actor, obj=key,
                     payload={"keyid": keyid, "purpose": key.purpose, "reason": reason,
                              "successor": successor.keyid if successor else None})
    checkpoint_file.append(_key_record(key, "revoked"))
    if successor is not None:
        checkpoint_file.append(_key_record(successor, "created"))
    return successor


def active_key(purpose: str) -> SigningKey:
    """The key that signs for ``purpose`` now; created on first use if the purpose never had one.

    Creating on first use keeps a fresh installation working; once a purpose has had keys, a
    missing active key is an error the operator must look at, never silently papered over.
    """
    _check_purpose(purpose)
    key = SigningKey.objects.active().filter(purpose=purpose).first()
    if key is not None:
        return key
    if SigningKey.objects.filter(purpose=purpose).exists():
        raise Conflict(f"No {purpose} key is active; create one with "
                       f"manage.py keys_create --purpose {purpose}.")
    return key_create(actor=SYSTEM, purpose=purpose)


def sign(*, purpose: str, payload_type: str, payload: bytes) -> SignedEnvelope:
    """Sign ``payload`` with the active key of ``purpose`` into a DSSE envelope."""
    key = active_key(purpose)
    private_key = _load_private_key(key)
    signature = private_key.sign(pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
    envelope = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": key.keyid, "sig": base64.b64encode(signature).decode("ascii")}],
    }
    return SignedEnvelope(envelope=envelope, keyid=key.keyid)


def trusted_keys(purpose: str) -> dict[str, ec.EllipticCurvePublicKey]:
    """Public keys whose signatures count for ``purpose``: active and retired, never revoked."""
    keys = {}
    for key in SigningKey.objects.filter(purpose=purpose, revoked_at__isnull=True):
        public_key = load_public_key(key.public_key_pem)
        if keyid_of(public_key) == key.keyid:  # a row whose id lies about its key counts for nothing
            keys[key.keyid] = public_key
    return keys


def verify(envelope: Any, *, purpose: str, payload_type: str) -> tuple[bytes, str]:
    """Verify a DSSE envelope against the trusted keys of ``purpose``; return (payload, keyid).

    Raises ``EnvelopeError`` saying why it does not verify (unknown or revoked key, bad
    signature, wrong payload type).
    """
    payload, keyids = verify_envelope(envelope, trusted_keys(purpose), payload_type=payload_type)
    return payload, keyids[0]


def public_keys(purpose: str | None = None) -> list[SigningKey]:
    keys = SigningKey.objects.all()
    if purpose:
        keys = keys.filter(purpose=purpose)
    return list(keys)


def sign_statement(*, purpose: str, statement: dict[str, Any]) -> SignedBundle:
    """Sign an in-toto Statement with the active key of ``purpose`` into a Sigstore bundle v0.3
    (key mode: the bundle names the key by its hint, docs/signing.md)."""
    key = active_key(purpose)
    private_key = _load_private_key(key)
    payload = canonical_bytes(statement)
    signature = private_key.sign(pae(INTOTO_PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
    return SignedBundle(bundle=sigstore_bundle(payload, signature, private_key.public_key(),
                                               key.keyid), keyid=key.keyid)


def artifact_bundle(*, name: str, artifact: bytes) -> SignedBundle:
    """Sign an ONNX artifact as ``model.onnx`` in the OpenSSF Model Signing format (what
    ``model_signing verify key`` checks), with the active ``artifact`` key."""
    digest = hashlib.sha256(artifact).hexdigest()
    signed = sign_statement(purpose=KeyPurpose.ARTIFACT,
                            statement=oms_statement(name, {ARTIFACT_FILENAME: digest}))
    return SignedBundle(bundle=signed.bundle, keyid=signed.keyid, artifact_sha256=digest)


def verify_signed_artifact(
    bundle: Any, *, purpose: str, artifact_sha256: str,
    keys: dict[str, ec.EllipticCurvePublicKey] | None = None,
) -> tuple[dict[str, Any], str]:
    """Verify an artifact signature (``purpose`` artifact) or an approval attestation
    (``approval``) against the trusted keys of that purpose and the artifact's SHA-256.

    ``keys`` replaces the database's trusted keys: the serving gateway passes the keys of its
    own trust file, so a row written into the key table cannot make it trust a key.

    Returns (statement, keyid); raises ``EnvelopeError`` saying why not: another artifact, a
    changed file, an unknown or revoked key, a bad signature, the other kind of bundle.
    """
    trusted = trusted_keys(purpose) if keys is None else keys
    statement, keyid = verify_signature_bundle(bundle, trusted, artifact_sha256)
    expected = {"artifact": OMS_PREDICATE_TYPE, "approval": APPROVAL_PREDICATE_TYPE}[purpose]
    if statement.get("predicateType") != expected:
        raise EnvelopeError(f"this is not an {purpose} signature (predicateType "
                            f"{statement.get('predicateType')!r})")
    return statement, keyid
