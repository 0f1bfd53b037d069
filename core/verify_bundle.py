"""Standalone verifier for Assay audit bundles: ``python -m core.verify_bundle BUNDLE.jsonl``;
and for a version's artifact signature or approval attestation: ``python -m core.verify_bundle
SIGNATURE.json --public-key KEY.pem --model model.onnx`` (or, for a version with no artifact,
``--no-artifact --file FILE ...``: docs/signing.md).

An auditor runs this without trusting the Assay server: it needs only the Python standard library
and ``cryptography`` and imports nothing else from Assay (no Django), so it can be copied out as one
file and read in an afternoon. The server imports the DSSE helpers (``core.signing``) and the
canonical form of events (``core.audit``) from here, so the server and the auditor run the very
same routines.

Bundle format (``assay-audit-bundle/2``; ``/1`` is the same without signature lines), one JSON
object per line, in this order:

1. ``{"kind": "header", "format": "assay-audit-bundle/2", "scope": {...}, "first_seq": 1,
   "last_seq": N, "included": k, "withheld": N-k, "created_at": ..., "exported_by": ...}``;
   ``scope`` is ``{}`` for the whole trail, or holds ``model_id`` (and ``model_slug``) and/or
   ``from``/``to`` (dates, UTC, inclusive).
2. ``{"kind": "key", "keyid", "purpose", "algorithm", "public_key_pem", "created_at",
   "retired_at", "revoked_at"}`` for every public key that signed a bundled checkpoint or
   signature.
3. ``{"kind": "checkpoint", "envelope": <DSSE envelope>}``; the payload is the canonical JSON
   ``{"chain_hash", "seq", "signed_at"}`` with payloadType ``CHECKPOINT_PAYLOAD_TYPE``.
3b. ``{"kind": "signature", "signature": "artifact" | "approval", "keyid", "version": {"id",
   "model_id", "number"}, "artifact_sha256", "created_at", "bundle": <Sigstore bundle>}`` for
   each artifact signature and approval attestation of the exported versions, checked against
   the bundled keys of that purpose and the stated artifact digest (formats: below, and
   docs/signing.md).
4. In sequence order from 1 to N, either ``{"kind": "event", "event": {<the ten canonical
   fields>}, "event_digest", "chain_hash"}`` or ``{"kind": "withheld", "first_seq": s,
   "digests": [...]}`` for a run of events left out of an extract (their digests only).

Checks: every included event's digest is recomputed from its fields (canonical form below); the
chain is recomputed from the genesis through included events and withheld digests, with no gap;
every checkpoint's DSSE signature verifies against a bundled key of purpose ``audit_checkpoint``
that is not revoked (a key missing from the bundle is named and rejected); the recomputed chain
hash at each checkpoint's sequence equals the signed one; the last checkpoint covers the last
event; included events lie inside the declared scope. An extract therefore proves that each of its
events is a member of the chain the server signed. It cannot prove the extract is complete: a
withheld digest says nothing about which model its event concerns.

Exit status (``main``): ``0`` verified; ``1`` rejected; ``2`` the command line was wrong
(argparse); ``3`` the bundle verified, but only with the keys inside it, and ``--require-trust``
asked for a key pinned with ``--trust``. Without a pinned key the verdict says so: whoever could
rewrite the bundle could also re-sign it with a key of their own and ship that key inside it.

Canonical form (docs/audit.md): the event object with exactly the keys ``seq``,
``occurred_at``, ``actor_id``, ``actor_username``, ``request_id``, ``action``, ``object_type``,
``object_id``, ``model_id``, ``payload``; UTF-8 JSON, keys sorted at every level, separators ``,``
and ``:``, non-ASCII characters as themselves, no floats anywhere. ``event_digest`` = SHA-256 of
those bytes (hex); ``chain_hash_n = SHA-256(bytes(chain_hash_{n-1}) || bytes(event_digest_n))``
with ``chain_hash_0`` = 64 zeros. This file holds the only implementation of that form: the
server's audit trail (``core.audit``) imports it from here, so what the server hashes and what an
auditor recomputes cannot drift apart. It lives in this file, and not in a module of its own,
because the verifier is promised as one file an auditor copies out and runs alone.

DSSE (https://github.com/secure-systems-lab/dsse): envelope ``{"payloadType", "payload"
(base64), "signatures": [{"keyid", "sig" (base64)}]}``; the signature is over
``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``. Keys are ECDSA P-256;
signatures ECDSA-SHA256, DER-encoded; a key id is the SHA-256 (hex) of the DER
SubjectPublicKeyInfo, so a key id names exactly one public key.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

BUNDLE_FORMAT = "assay-audit-bundle/2"
# /1 bundles (before signature lines) still verify: they are /2 bundles without them.
READABLE_FORMATS = ("assay-audit-bundle/1", BUNDLE_FORMAT)
CHECKPOINT_PAYLOAD_TYPE = "application/vnd.assay.audit-checkpoint+json"
CHECKPOINT_PURPOSE = "audit_checkpoint"
MAX_REASONS = 25

EXIT_VERIFIED = 0
EXIT_REJECTED = 1
# 2 is argparse's, for a wrong command line.
EXIT_NOT_PINNED = 3
UNPINNED_VERDICT = ("VERIFIED with the keys inside the bundle \N{EM DASH} pin the published key "
                    "with --trust to rule out a re-signed forgery")
PINNED_VERDICT = "VERIFIED with the keys you pinned with --trust"


class EnvelopeError(ValueError):
    """A DSSE envelope is malformed or its signature does not verify; the message says which."""


# --- DSSE, shared with core.signing ----------------------------------------------------------

def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what is actually signed."""
    encoded_type = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(encoded_type), encoded_type, len(payload), payload)


def b64decode(text: object) -> bytes:
    """Standard or URL-safe base64, as the DSSE spec allows either."""
    if not isinstance(text, str):
        raise EnvelopeError("a base64 field is not a string")
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError("a base64 field is not valid base64") from exc


def load_public_key(pem: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeError) as exc:
        raise EnvelopeError("the public key is not a PEM-encoded public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise EnvelopeError("the public key is not an ECDSA P-256 key")
    return key


def keyid_of(public_key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo: the key id that names this public key."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def verify_envelope(
    envelope: Any, keys: dict[str, ec.EllipticCurvePublicKey], *, payload_type: str
) -> tuple[bytes, list[str]]:
    """Check a DSSE envelope; return its payload and the ids of the keys that signed it.

    Every signature must name a key in ``keys`` and verify: a signature by an unknown key is an
    error, not something to skip, so a forger cannot hide behind one good signature.
    """
    if not isinstance(envelope, dict):
        raise EnvelopeError("the envelope is not a JSON object")
    if envelope.get("payloadType") != payload_type:
        raise EnvelopeError(
            f"payloadType is {envelope.get('payloadType')!r}, expected {payload_type!r}")
    payload = b64decode(envelope.get("payload"))
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeError("the envelope has no signatures")
    signed = pae(payload_type, payload)
    keyids = []
    for signature in signatures:
        if not isinstance(signature, dict):
            raise EnvelopeError("a signature entry is not a JSON object")
        keyid = signature.get("keyid")
        if keyid not in keys:
            raise EnvelopeError(f"signed by key {keyid!r}, which is not among the trusted keys")
        try:
            keys[keyid].verify(b64decode(signature.get("sig")), signed, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise EnvelopeError(f"the signature by key {keyid} does not verify") from exc
        keyids.append(keyid)
    return payload, keyids


# --- Signed artifacts and approvals (Sigstore bundles), shared with core.signing -------------
# docs/signing.md describes both formats. An artifact signature is an OpenSSF Model Signing (OMS)
# v1.0 signature in key mode, as ``model_signing`` 1.1 writes and verifies it: a Sigstore bundle
# v0.3 whose verification material is a public-key hint (SHA-256, hex, of the key's PEM
# SubjectPublicKeyInfo) and whose DSSE envelope carries an in-toto Statement v1. An approval
# attestation is the same bundle around a Statement with Assay's approval predicate.

SIGSTORE_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
INTOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
OMS_PREDICATE_TYPE = "https://model_signing/signature/v1.0"
APPROVAL_PREDICATE_TYPE = "https://assay/approval/v1"
ARTIFACT_FILENAME = "model.onnx"
# What model_signing records for a directory signed with its defaults ("files" serialisation).
OMS_SERIALIZATION = {"method": "files", "hash_type": "sha256", "allow_symlinks": False,
                     "ignore_paths": [".git", ".gitattributes", ".github", ".gitignore"]}
# What the approval attestation of a version with no artifact says it is approved for (its
# predicate's ``no_artifact.use``): its subjects are then the files the approval was decided on.
NO_ARTIFACT_USE = "outside_gateway"
PURPOSE_OF_PREDICATE = {OMS_PREDICATE_TYPE: "artifact", APPROVAL_PREDICATE_TYPE: "approval"}
SIGNATURE_KINDS = ("artifact", "approval")


def key_hint(public_key: ec.EllipticCurvePublicKey) -> str:
    """The public-key hint of a Sigstore bundle in key mode, as model_signing computes it:
    SHA-256 (hex) of the PEM SubjectPublicKeyInfo (not of the DER, which the key id hashes)."""
    pem = public_key.public_bytes(serialization.Encoding.PEM,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def oms_statement(name: str, files: dict[str, str]) -> dict[str, Any]:
    """The OMS v1.0 in-toto Statement over ``files`` (name -> SHA-256 hex).

    The subject's digest is the SHA-256 of the files' digests (raw bytes) in name order, which is
    how model_signing binds the list of resources to the subject.
    """
    names = sorted(files)
    root = hashlib.sha256(b"".join(bytes.fromhex(files[n]) for n in names)).hexdigest()
    return {
        "_type": INTOTO_STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": root}}],
        "predicateType": OMS_PREDICATE_TYPE,
        "predicate": {
            "serialization": OMS_SERIALIZATION,
            "resources": [{"name": n, "algorithm": "sha256", "digest": files[n]} for n in names],
        },
    }


def sigstore_bundle(payload: bytes, signature: bytes, public_key: ec.EllipticCurvePublicKey,
                    keyid: str) -> dict[str, Any]:
    """A Sigstore bundle v0.3 (key mode) around a DSSE envelope of an in-toto payload."""
    return {
        "mediaType": SIGSTORE_BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key_hint(public_key)}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode("ascii"),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode("ascii"), "keyid": keyid}],
        },
    }


def verify_sigstore_bundle(
    bundle: Any, keys: dict[str, ec.EllipticCurvePublicKey]
) -> tuple[dict[str, Any], str]:
    """Check a Sigstore bundle's DSSE signature against ``keys`` (key id -> public key); return
    the in-toto Statement it signs and the id of the key that signed it.

    The key is the one whose hint the bundle names (bundles made by model_signing leave the
    DSSE key id empty); a key id in the signature, when there is one, must name the same key.
    Raises ``EnvelopeError`` saying why the bundle is refused.
    """
    if not isinstance(bundle, dict):
        raise EnvelopeError("the signature file is not a JSON object")
    if bundle.get("mediaType") != SIGSTORE_BUNDLE_MEDIA_TYPE:
        raise EnvelopeError(f"mediaType is {bundle.get('mediaType')!r}, expected "
                            f"{SIGSTORE_BUNDLE_MEDIA_TYPE!r} (a Sigstore bundle v0.3)")
    material = bundle.get("verificationMaterial")
    hint = (material.get("publicKey") or {}).get("hint") if isinstance(material, dict) else None
    if not isinstance(hint, str) or not hint:
        raise EnvelopeError("the bundle names no public key (verificationMaterial.publicKey.hint)")
    matches = [keyid for keyid, key in keys.items() if key_hint(key) == hint]
    if not matches:
        raise EnvelopeError(f"signed by the key with hint {hint[:16]}..., which is not among the "
                            f"trusted keys (unknown, or revoked)")
    keyid = matches[0]
    envelope = bundle.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        raise EnvelopeError("the bundle holds no DSSE envelope")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1 or \
            not isinstance(signatures[0], dict):
        raise EnvelopeError("the envelope must hold exactly one signature")
    if signatures[0].get("keyid") not in ("", None, keyid):
        raise EnvelopeError("the signature's key id and the bundle's key hint name different keys")
    payload, _ = verify_envelope({**envelope, "signatures": [{**signatures[0], "keyid": keyid}]},
                                 {keyid: keys[keyid]}, payload_type=INTOTO_PAYLOAD_TYPE)
    try:
        statement = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EnvelopeError("the signed payload is not JSON") from exc
    if not isinstance(statement, dict) or statement.get("_type") != INTOTO_STATEMENT_TYPE:
        raise EnvelopeError(f"the signed payload is not an in-toto Statement "
                            f"({INTOTO_STATEMENT_TYPE})")
    return statement, keyid


def _one_subject_digest(statement: dict[str, Any]) -> str:
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise EnvelopeError("the statement must have exactly one subject")
    digest = (subjects[0].get("digest") or {}).get("sha256")
    if not _is_hex64(digest):
        raise EnvelopeError("the statement's subject has no SHA-256 digest")
    return digest


def check_oms_statement(statement: dict[str, Any], files: dict[str, str]) -> None:
    """Check that an OMS statement signs exactly ``files`` (name -> SHA-256 hex).

    Raises ``EnvelopeError`` naming the first difference: a changed file, one missing from the
    signature, one the signature lists that was not given, a subject that does not bind them.
    """
    if statement.get("predicateType") != OMS_PREDICATE_TYPE:
        raise EnvelopeError(f"predicateType is {statement.get('predicateType')!r}, expected "
                            f"{OMS_PREDICATE_TYPE!r} (an OpenSSF Model Signing signature)")
    subject_digest = _one_subject_digest(statement)
    predicate = statement.get("predicate")
    resources = predicate.get("resources") if isinstance(predicate, dict) else None
    if not isinstance(resources, list) or not resources:
        raise EnvelopeError("the signature lists no files (predicate.resources)")
    signed: dict[str, str] = {}
    for item in resources:
        if not isinstance(item, dict) or item.get("algorithm") != "sha256" \
                or not _is_hex64(item.get("digest")) or not isinstance(item.get("name"), str):
            raise EnvelopeError("a listed file has no name or no SHA-256 digest")
        signed[item["name"]] = item["digest"]
    ordered = b"".join(bytes.fromhex(item["digest"]) for item in resources)
    if hashlib.sha256(ordered).hexdigest() != subject_digest:
        raise EnvelopeError("the subject's digest does not match the listed files")
    for name in sorted(set(signed) | set(files)):
        if name not in files:
            raise EnvelopeError(f"the signature lists {name}, which was not given")
        if name not in signed:
            raise EnvelopeError(f"{name} is not among the signed files")
        if signed[name] != files[name]:
            raise EnvelopeError(f"{name} has SHA-256 {files[name]}, but the signature is for "
                                f"{signed[name]} (the file was changed, or the signature is "
                                f"another version's)")


def check_approval_statement(statement: dict[str, Any], artifact_sha256: str) -> None:
    """Check that an approval attestation is about the artifact with ``artifact_sha256``; with
    ``artifact_sha256`` empty, that it is the attestation of a version with no artifact
    (``no_artifact_subjects``)."""
    if statement.get("predicateType") != APPROVAL_PREDICATE_TYPE:
        raise EnvelopeError(f"predicateType is {statement.get('predicateType')!r}, expected "
                            f"{APPROVAL_PREDICATE_TYPE!r} (an Assay approval attestation)")
    if not isinstance(statement.get("predicate"), dict):
        raise EnvelopeError("the attestation has no predicate")
    if not artifact_sha256:
        no_artifact_subjects(statement)
        return
    if statement["predicate"].get("no_artifact") is not None:
        raise EnvelopeError(f"the attestation is of a version with no artifact (approved for "
                            f"use outside Assay's gateway), not of artifact {artifact_sha256}")
    digest = _one_subject_digest(statement)
    if digest != artifact_sha256:
        raise EnvelopeError(f"the attestation is for artifact {digest}, not {artifact_sha256} "
                            f"(it approves another artifact)")


def no_artifact_subjects(statement: dict[str, Any]) -> list[tuple[str, str]]:
    """The subjects of the approval attestation of a version with no artifact, as (name,
    SHA-256): the files its approval was decided on (its documentation, its predictions files).

    Raises ``EnvelopeError`` when the attestation does not say the version has no artifact and
    is approved for use outside Assay's gateway (``predicate.no_artifact``), or when a subject
    has no name or no SHA-256.
    """
    predicate = statement.get("predicate")
    no_artifact = predicate.get("no_artifact") if isinstance(predicate, dict) else None
    if not isinstance(no_artifact, dict) or no_artifact.get("use") != NO_ARTIFACT_USE:
        raise EnvelopeError("the attestation approves an artifact (it has no "
                            "predicate.no_artifact): check it against that artifact's SHA-256")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise EnvelopeError("the attestation names no subject")
    named: list[tuple[str, str]] = []
    for subject in subjects:
        name = subject.get("name") if isinstance(subject, dict) else None
        digest = (subject.get("digest") or {}).get("sha256") if isinstance(subject, dict) \
            else None
        if not isinstance(name, str) or not name or not _is_hex64(digest):
            raise EnvelopeError("a subject of the attestation has no name or no SHA-256 digest")
        named.append((name, digest))
    return named


def check_subject_files(statement: dict[str, Any], files: dict[str, str]) -> dict[str, str]:
    """Check files (label -> SHA-256 hex) against the subjects of the approval attestation of a
    version with no artifact: each must be one of them. Returns label -> the subject's name;
    raises ``EnvelopeError`` naming the first file that is none of them."""
    signed = {digest: name for name, digest in no_artifact_subjects(statement)}
    matched: dict[str, str] = {}
    for label, digest in sorted(files.items()):
        if digest not in signed:
            raise EnvelopeError(f"{label} has SHA-256 {digest}, which is none of the "
                                f"attestation's subjects (the file was changed, or the approval "
                                f"was not decided on it)")
        matched[label] = signed[digest]
    return matched


def verify_signature_bundle(
    bundle: Any, keys: dict[str, ec.EllipticCurvePublicKey], artifact_sha256: str
) -> tuple[dict[str, Any], str]:
    """Verify an artifact signature or an approval attestation (told apart by its predicate
    type) against ``keys`` and the artifact's SHA-256 (empty for the approval attestation of a
    version with no artifact); return (statement, keyid)."""
    statement, keyid = verify_sigstore_bundle(bundle, keys)
    if statement.get("predicateType") == OMS_PREDICATE_TYPE:
        check_oms_statement(statement, {ARTIFACT_FILENAME: artifact_sha256})
    else:
        check_approval_statement(statement, artifact_sha256)
    return statement, keyid


# --- The canonical form and the chain, shared with core.audit ------------------------------

GENESIS_HASH = "0" * 64
EVENT_KEYS = frozenset({
    "seq", "occurred_at", "actor_id", "actor_username", "request_id", "action", "object_type",
    "object_id", "model_id", "payload",
})


class NotCanonical(ValueError):
    """The value has no canonical form: it holds a float (NaN and infinity included)."""


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_float(v) for v in value)
    return False


def canonical_bytes(value: Any) -> bytes:
    """UTF-8 JSON, keys sorted by code point at every level, no whitespace, non-ASCII characters
    as themselves; refuses floats (``NotCanonical``), whose text forms differ between writers."""
    if _has_float(value):
        raise NotCanonical("Floats have no canonical form; the server stores them as strings.")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           allow_nan=False).encode
_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses for strings
_EVENT_ROW = ('{"action":%s,"actor_id":%s,"actor_username":%s,"model_id":%s,"object_id":%s,'
              '"object_type":%s,"occurred_at":"%s","payload":%s,"request_id":%s,"seq":%d}')


def canonical_event_row(seq: int, occurred_at: str, actor_id: int | None, actor_username: str,
                        request_id: str, action: str, object_type: str, object_id: str,
                        model_id: int | None, payload: Any) -> bytes:
    """``canonical_bytes`` of an event, assembled by hand for the server's ``verify_chain``,
    which does it a million times: the top-level keys are fixed, so they are written in sorted
    order. The fields must already have their canonical types (database columns do; a bundle's
    lines need not, so the verifier below uses ``canonical_bytes``) and the payload no floats.
    ``tests/core/test_audit_chain.py`` pins the two to the same bytes."""
    return (_EVENT_ROW % (
        _string(action), "null" if actor_id is None else actor_id, _string(actor_username),
        "null" if model_id is None else model_id, _string(object_id), _string(object_type),
        occurred_at, _encode(payload), _string(request_id), seq,
    )).encode("utf-8")


def event_digest(fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of the event's canonical bytes."""
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


def link(previous_hash: str, digest: str) -> str:
    """The chain hash that follows ``previous_hash`` when an event with ``digest`` is appended."""
    return hashlib.sha256(bytes.fromhex(previous_hash) + bytes.fromhex(digest)).hexdigest()


def _is_hex64(value: object) -> TypeGuard[str]:
    if not isinstance(value, str) or len(value) != 64:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return value == value.lower()


# --- the verifier ----------------------------------------------------------------------------

@dataclass
class Verdict:
    """What the verifier found: ``ok`` and the reasons when it is not."""

    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    last_seq: int = 0
    included: int = 0
    withheld: int = 0
    checkpoints_valid: int = 0
    signatures_valid: int = 0
    head: dict[str, Any] | None = None
    scope: dict[str, Any] = field(default_factory=dict)
    # Whether checkpoints were checked against keys the auditor pinned (--trust), rather than
    # against whatever keys the bundle itself carries.
    pinned: bool = False

    @property
    def ok(self) -> bool:
        return not self.reasons

    def fail(self, reason: str) -> None:
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(reason)
        elif len(self.reasons) == MAX_REASONS:
            self.reasons.append("... further problems not listed")

    def summary(self) -> str:
        """The verdict: one line when rejected; when verified, the verdict (saying whose keys it
        rests on) and, indented on a second line, what was verified."""
        if not self.ok:
            count = len(self.reasons)
            return f"REJECTED: {count} problem{'s' if count != 1 else ''} (first: {self.reasons[0]})"
        head = self.head or {}
        scope = _describe_scope(self.scope)
        return (
            f"{PINNED_VERDICT if self.pinned else UNPINNED_VERDICT}\n"
            f"  events 1..{self.last_seq} chained ({self.included} included, "
            f"{self.withheld} withheld); {self.checkpoints_valid} signed checkpoint"
            f"{'s' if self.checkpoints_valid != 1 else ''} match; head seq {head.get('seq')} "
            f"signed at {head.get('signed_at')} by key {str(head.get('keyid'))[:16]}; "
            f"scope: {scope}"
            + (f"; {self.signatures_valid} artifact signature(s) and approval attestation(s) "
               f"verify" if self.signatures_valid else "")
        )


def _describe_scope(scope: dict[str, Any]) -> str:
    parts = []
    if scope.get("model_id") is not None:
        parts.append(f"model {scope.get('model_slug') or ''} (id {scope['model_id']})".strip())
    if scope.get("from") or scope.get("to"):
        parts.append(f"dates {scope.get('from') or '...'} to {scope.get('to') or '...'}")
    return ", ".join(parts) or "whole trail"


@dataclass
class _Checkpoint:
    line: int
    seq: int
    chain_hash: str
    signed_at: str
    keyid: str


def _parse_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    return dt.date.fromisoformat(str(value))


def _lines(source: Iterable[str]) -> Iterator[tuple[int, dict[str, Any], str]]:
    """Each non-empty line: its number, its JSON object, and why it is not one ({} then)."""
    for number, raw in enumerate(source, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, {}, f"line {number} is not valid JSON ({exc.msg})"
            continue
        if not isinstance(record, dict):
            yield number, {}, f"line {number} is not a JSON object"
            continue
        yield number, record, ""


def _read_key(verdict: Verdict, number: int, record: dict[str, Any],
              keys: dict[str, dict[str, ec.EllipticCurvePublicKey]],
              trusted: set[str] | None) -> None:
    """Add a bundled key to ``keys[purpose]`` unless it is malformed, revoked or not pinned."""
    keyid = record.get("keyid")
    try:
        public_key = load_public_key(str(record.get("public_key_pem", "")))
    except EnvelopeError as exc:
        verdict.fail(f"key {keyid} (line {number}): {exc}")
        return
    if keyid_of(public_key) != keyid:
        verdict.fail(f"key {keyid} (line {number}): its id is not the fingerprint of its public key")
    elif record.get("purpose") not in keys:
        verdict.notes.append(f"key {keyid} has purpose {record.get('purpose')!r}: not used")
    elif record.get("revoked_at"):
        verdict.notes.append(f"key {keyid} was revoked at {record['revoked_at']}: not trusted")
    elif trusted is not None and keyid not in trusted:
        verdict.notes.append(f"key {keyid} is not among the keys you pinned with --trust")
    else:
        keys[record["purpose"]][keyid] = public_key


def _check_signature_line(verdict: Verdict, number: int, record: dict[str, Any],
                          keys: dict[str, dict[str, ec.EllipticCurvePublicKey]]) -> None:
    """A version's artifact signature or approval attestation, checked against the bundled keys
    of its purpose and the artifact digest the line states. An approval attestation of a
    version with no artifact states none (``""``): its signature and its subjects' form are
    checked, and a note says its subjects' files are not in the bundle."""
    kind, artifact = record.get("signature"), record.get("artifact_sha256")
    name = f"{kind} signature of version {record.get('version')!r} (line {number})"
    no_artifact = kind == "approval" and artifact == ""
    if kind not in SIGNATURE_KINDS or not (_is_hex64(artifact) or no_artifact):
        verdict.fail(f"line {number}: a signature line needs a kind ({', '.join(SIGNATURE_KINDS)}) "
                     f"and the artifact's SHA-256")
        return
    try:
        statement, _ = verify_signature_bundle(record.get("bundle"), keys[kind], str(artifact))
    except EnvelopeError as exc:
        verdict.fail(f"{name} rejected: {exc}")
        return
    if PURPOSE_OF_PREDICATE.get(str(statement.get("predicateType"))) != kind:
        verdict.fail(f"{name}: the bundle is not an {kind} signature")
        return
    verdict.signatures_valid += 1
    if no_artifact:
        verdict.notes.append(
            f"{name}: a version with no artifact; the files its approval was decided on "
            f"({len(no_artifact_subjects(statement))} subjects) are not in this bundle \N{EM DASH} "
            f"check them with the evidence pack, or with --no-artifact --file FILE")


def _read_checkpoint(verdict: Verdict, number: int, record: dict[str, Any],
                     keys: dict[str, ec.EllipticCurvePublicKey]) -> _Checkpoint | None:
    try:
        payload, keyids = verify_envelope(record.get("envelope"), keys,
                                          payload_type=CHECKPOINT_PAYLOAD_TYPE)
        body = json.loads(payload)
    except EnvelopeError as exc:
        verdict.fail(f"checkpoint on line {number} rejected: {exc}")
        return None
    except (json.JSONDecodeError, UnicodeDecodeError):
        verdict.fail(f"checkpoint on line {number}: its signed payload is not JSON")
        return None
    seq, chain_hash = body.get("seq") if isinstance(body, dict) else None, None
    if isinstance(body, dict):
        chain_hash = body.get("chain_hash")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1 or not _is_hex64(chain_hash):
        verdict.fail(f"checkpoint on line {number}: its payload lacks a valid seq and chain_hash")
        return None
    return _Checkpoint(number, seq, chain_hash, str(body.get("signed_at")), keyids[0])


def _check_event(verdict: Verdict, number: int, record: dict[str, Any], expected_seq: int,
                 scope: dict[str, Any]) -> str | None:
    """Return the recomputed digest of an included event, or None after recording why not."""
    event = record.get("event")
    if not isinstance(event, dict) or set(event) != EVENT_KEYS:
        verdict.fail(f"line {number}: the event does not have exactly the canonical fields")
        return None
    if event["seq"] != expected_seq:
        verdict.fail(f"line {number}: expected seq {expected_seq}, found {event['seq']!r} "
                     f"(an event is missing, added or out of order)")
        return None
    try:
        digest = event_digest(event)
    except NotCanonical:
        verdict.fail(f"seq {expected_seq}: the event contains a float, which the canonical "
                     f"form forbids (the line was edited)")
        return None
    if record.get("event_digest") not in (None, digest):
        verdict.fail(f"seq {expected_seq} (line {number}): the event's content does not match "
                     f"its stated digest (the event was edited)")
    model_id = scope.get("model_id")
    if model_id is not None and event["model_id"] != model_id:
        verdict.fail(f"seq {expected_seq}: the event belongs to model {event['model_id']!r}, "
                     f"outside this extract's scope (model {model_id})")
    day = str(event["occurred_at"])[:10]
    if (scope.get("from") and day < scope["from"]) or (scope.get("to") and day > scope["to"]):
        verdict.fail(f"seq {expected_seq}: occurred on {day}, outside this extract's dates")
    return digest


def verify_lines(source: Iterable[str], *, trusted: set[str] | None = None) -> Verdict:
    """Verify a bundle given as lines of text (see the module docstring for what is checked).

    ``trusted`` pins the key ids whose checkpoints count; None trusts the keys in the bundle.
    """
    verdict = Verdict(pinned=trusted is not None)
    records = _lines(source)
    first = next(records, None)
    if first is None:
        verdict.fail("the bundle is empty")
        return verdict
    number, header, error = first
    if error or header.get("kind") != "header":
        verdict.fail(error or "the first line is not the bundle header")
        return verdict
    if header.get("format") not in READABLE_FORMATS:
        verdict.fail(f"unknown bundle format {header.get('format')!r}; this verifier reads "
                     f"{', '.join(READABLE_FORMATS)}")
        return verdict
    scope = header.get("scope")
    if not isinstance(scope, dict):
        scope = {}
    verdict.scope = scope
    try:
        for name in ("from", "to"):
            _parse_date(scope.get(name))
    except ValueError:
        verdict.fail("the header's scope has a date that is not YYYY-MM-DD")
        return verdict

    keys: dict[str, dict[str, ec.EllipticCurvePublicKey]] = {
        purpose: {} for purpose in (CHECKPOINT_PURPOSE, *SIGNATURE_KINDS)}
    checkpoints: list[_Checkpoint] = []
    at_seq: dict[int, str] = {}  # recomputed chain hash at each checkpointed seq
    expected_seq, chain = 1, GENESIS_HASH
    for number, record, error in records:
        if error:
            verdict.fail(error)
            continue
        kind = record.get("kind")
        if kind == "key":
            if expected_seq > 1 or checkpoints:
                verdict.fail(f"line {number}: keys must come before checkpoints and events")
            _read_key(verdict, number, record, keys, trusted)
        elif kind == "checkpoint":
            if expected_seq > 1:
                verdict.fail(f"line {number}: checkpoints must come before the events")
            checkpoint = _read_checkpoint(verdict, number, record, keys[CHECKPOINT_PURPOSE])
            if checkpoint is not None:
                checkpoints.append(checkpoint)
                at_seq.setdefault(checkpoint.seq, "")
        elif kind == "signature":
            if expected_seq > 1:
                verdict.fail(f"line {number}: signatures must come before the events")
            _check_signature_line(verdict, number, record, keys)
        elif kind == "event":
            digest = _check_event(verdict, number, record, expected_seq, scope)
            if digest is None:
                if not verdict.ok and "expected seq" in verdict.reasons[-1]:
                    break  # the sequence is broken: everything after would only repeat it
                stated = record.get("event_digest")
                digest = stated if _is_hex64(stated) else GENESIS_HASH
            chain = link(chain, digest)
            if record.get("chain_hash") not in (None, chain):
                verdict.fail(f"seq {expected_seq} (line {number}): the stated chain hash does "
                             f"not follow from the events before it")
            if expected_seq in at_seq:
                at_seq[expected_seq] = chain
            verdict.included += 1
            expected_seq += 1
        elif kind == "withheld":
            digests = record.get("digests")
            if record.get("first_seq") != expected_seq or not isinstance(digests, list):
                verdict.fail(f"line {number}: withheld digests should start at seq "
                             f"{expected_seq}, found {record.get('first_seq')!r} (events are "
                             f"missing, added or out of order)")
                break
            for digest in digests:
                if not _is_hex64(digest):
                    verdict.fail(f"seq {expected_seq}: the withheld digest is not a SHA-256 hex")
                    digest = GENESIS_HASH
                chain = link(chain, digest)
                if expected_seq in at_seq:
                    at_seq[expected_seq] = chain
                verdict.withheld += 1
                expected_seq += 1
        else:
            verdict.fail(f"line {number}: unknown record kind {kind!r}")
    verdict.last_seq = expected_seq - 1

    if header.get("last_seq") != verdict.last_seq:
        verdict.fail(f"the header says the bundle ends at seq {header.get('last_seq')!r} but its "
                     f"events end at seq {verdict.last_seq} (events were removed or added)")
    if (header.get("included"), header.get("withheld")) != (verdict.included, verdict.withheld):
        verdict.fail(f"the header counts {header.get('included')!r} included and "
                     f"{header.get('withheld')!r} withheld events, the bundle holds "
                     f"{verdict.included} and {verdict.withheld}")
    for cp in checkpoints:
        name = f"checkpoint at seq {cp.seq} (line {cp.line}, signed {cp.signed_at} by key " \
               f"{cp.keyid[:16]})"
        if cp.seq > verdict.last_seq:
            verdict.fail(f"{name} is beyond the bundle's last event (seq {verdict.last_seq}): "
                         f"events are missing from the end")
        elif at_seq.get(cp.seq) != cp.chain_hash:
            verdict.fail(f"{name} does not match the chain: recomputed "
                         f"{at_seq.get(cp.seq, '')[:16]}, signed {cp.chain_hash[:16]}")
        else:
            verdict.checkpoints_valid += 1
    if checkpoints:
        last = max(checkpoints, key=lambda cp: cp.seq)
        verdict.head = {"seq": last.seq, "signed_at": last.signed_at, "keyid": last.keyid}
    if verdict.last_seq == 0:
        verdict.fail("the bundle holds no events")
    elif not checkpoints or max(cp.seq for cp in checkpoints) != verdict.last_seq:
        verdict.fail(f"no valid signed checkpoint covers the last event (seq {verdict.last_seq})")
    return verdict


def verify_file(path: str, *, trusted: set[str] | None = None) -> Verdict:
    try:
        with open(path, encoding="utf-8") as handle:
            return verify_lines(handle, trusted=trusted)
    except (OSError, UnicodeDecodeError) as exc:
        verdict = Verdict(pinned=trusted is not None)
        verdict.fail(f"cannot read {path}: {exc}")
        return verdict


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_signature_file(path: str, *, public_keys: list[str], model: str | None = None,
                          artifact_sha256: str | None = None, no_artifact: bool = False,
                          files: list[str] | None = None) -> tuple[bool, str]:
    """Verify an artifact signature or approval attestation file offline: (ok, verdict line).

    ``public_keys`` are PEM files (the bundle's hint picks one); the artifact is ``model`` (a
    file, hashed here) or its ``artifact_sha256``. With ``no_artifact``, the file is the
    approval attestation of a version with no artifact, and each of ``files`` (its
    documentation, its predictions files) must be one of its subjects.
    """
    try:
        keys = {}
        for key_path in public_keys:
            with open(key_path, encoding="ascii") as handle:
                key = load_public_key(handle.read())
            keys[keyid_of(key)] = key
        if model is not None:
            artifact_sha256 = _file_sha256(model)
        given = {name: _file_sha256(name) for name in files or []}
        with open(path, encoding="utf-8") as handle:
            bundle = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, EnvelopeError) as exc:
        return False, f"REJECTED: cannot read the inputs ({exc})"
    if no_artifact:
        artifact_sha256 = ""
    elif not _is_hex64(artifact_sha256):
        return False, "REJECTED: the artifact digest is not a SHA-256 hex"
    matched: dict[str, str] = {}
    try:
        if no_artifact:
            statement, keyid = verify_sigstore_bundle(bundle, keys)
            if statement.get("predicateType") == OMS_PREDICATE_TYPE:
                raise EnvelopeError("this is an artifact signature: check it against its "
                                    "artifact (--model or --artifact-sha256), not --no-artifact")
            check_approval_statement(statement, "")
            matched = check_subject_files(statement, given)
        else:
            statement, keyid = verify_signature_bundle(bundle, keys, str(artifact_sha256))
    except EnvelopeError as exc:
        return False, f"REJECTED: {exc}"
    if no_artifact:
        predicate = statement["predicate"]
        subjects = no_artifact_subjects(statement)
        unchecked = sorted({name for name, _ in subjects} - set(matched.values()))
        return True, (
            f"VERIFIED approval attestation of {predicate.get('model', {}).get('slug')} version "
            f"{predicate.get('version', {}).get('number')}, which has no artifact (approved for "
            f"use outside Assay's gateway), approved at {predicate.get('approved_at')}, signed "
            f"by key {keyid}; {len(subjects)} subject(s), "
            + (", ".join(f"{label} is {name}" for label, name in matched.items())
               or "none checked against a file")
            + (f"; not checked against a file: {', '.join(unchecked)}" if matched and unchecked
               else ""))
    if statement["predicateType"] == OMS_PREDICATE_TYPE:
        what = f"artifact signature (OpenSSF Model Signing v1.0) of {ARTIFACT_FILENAME}"
    else:
        predicate = statement["predicate"]
        what = (f"approval attestation of {predicate.get('model', {}).get('slug')} version "
                f"{predicate.get('version', {}).get('number')}, approved at "
                f"{predicate.get('approved_at')}")
    return True, f"VERIFIED {what}, SHA-256 {artifact_sha256}, signed by key {keyid}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.verify_bundle",
        description="Verify offline, without trusting the server, an Assay audit bundle or "
                    "(with --public-key) an artifact signature or approval attestation.",
        epilog=f"Exit status: {EXIT_VERIFIED} verified, {EXIT_REJECTED} rejected, 2 wrong "
               f"command line, {EXIT_NOT_PINNED} verified only with the keys inside the bundle "
               f"while --require-trust asked for a pinned key.")
    parser.add_argument("bundle", help="the audit bundle (.jsonl), or with --public-key the "
                                       "signature or attestation file (.json) exported from Assay")
    parser.add_argument("--trust", action="append", metavar="KEYID",
                        help="accept checkpoints only from this key id (repeatable); pin the "
                             "ids Assay published earlier so a substituted key is refused")
    parser.add_argument("--require-trust", action="store_true",
                        help=f"exit with status {EXIT_NOT_PINNED} unless a key is pinned with "
                             f"--trust (for scripts that must not accept a bundle on its own "
                             f"keys)")
    parser.add_argument("--public-key", action="append", metavar="PEM",
                        help="verify a signature or attestation with this public key file "
                             "(repeatable: the bundle's key hint picks one)")
    artifact = parser.add_mutually_exclusive_group()
    artifact.add_argument("--model", metavar="FILE", help="the ONNX artifact the signature or "
                                                          "attestation must be about")
    artifact.add_argument("--artifact-sha256", metavar="HEX",
                          help="the artifact's SHA-256, instead of the file")
    artifact.add_argument("--no-artifact", action="store_true",
                          help="the approval attestation of a version with no artifact: its "
                               "subjects are the files its approval was decided on")
    parser.add_argument("--file", action="append", metavar="FILE",
                        help="with --no-artifact: a file (documentation, predictions) that must "
                             "be one of the attestation's subjects (repeatable)")
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):  # a verdict must print on any terminal's encoding
        sys.stdout.reconfigure(errors="backslashreplace")
    if args.file and not args.no_artifact:
        parser.error("--file checks the subjects of a version with no artifact: give "
                     "--no-artifact too")
    if args.public_key:
        if not (args.model or args.artifact_sha256 or args.no_artifact):
            parser.error("--public-key needs the artifact: --model FILE or --artifact-sha256 "
                         "HEX (or --no-artifact for a version that has none)")
        ok, line = verify_signature_file(args.bundle, public_keys=args.public_key,
                                         model=args.model, artifact_sha256=args.artifact_sha256,
                                         no_artifact=args.no_artifact, files=args.file)
        print(line)
        return EXIT_VERIFIED if ok else EXIT_REJECTED
    if args.model or args.artifact_sha256 or args.no_artifact:
        parser.error("--model, --artifact-sha256 and --no-artifact verify a signature: give "
                     "--public-key too")
    verdict = verify_file(args.bundle, trusted=set(args.trust) if args.trust else None)
    return print_verdict(verdict, require_trust=args.require_trust)


class _Verdict(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def pinned(self) -> bool: ...
    @property
    def reasons(self) -> list[str]: ...
    @property
    def notes(self) -> list[str]: ...

    def summary(self) -> str: ...


def print_verdict(verdict: _Verdict, *, require_trust: bool) -> int:
    """Print a verdict (its summary, reasons and notes) and return the exit status; the bundle's
    and the evidence pack's commands (core.verify_pack) answer alike."""
    print(verdict.summary())
    for reason in verdict.reasons:
        print(f"  - {reason}")
    for note in verdict.notes:
        print(f"  note: {note}")
    if not verdict.ok:
        return EXIT_REJECTED
    if require_trust and not verdict.pinned:
        print(f"NOT ACCEPTED: --require-trust was given but no key was pinned with --trust; "
              f"pass the key id Assay published (GET /api/v1/signing/keys/) as --trust KEYID "
              f"(exit status {EXIT_NOT_PINNED}).")
        return EXIT_NOT_PINNED
    return EXIT_VERIFIED


if __name__ == "__main__":
    sys.exit(main())
