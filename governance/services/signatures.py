"""Signing on approval (docs/signing.md): the artifact in the OpenSSF Model Signing format with
the ``artifact`` key, and the approval attestation with the ``approval`` key.

``version_transition`` calls ``approval_sign`` inside the approval's transaction, on every edge
into approved (the last sign-off, the automatic approval when the last blocker clears, a
reinstatement). Signing there, rather than after commit, means an approval and its signatures
commit together or not at all: if the artifact cannot be read or a key file is missing, the
approval is refused with the reason, and nothing is approved unsigned. What can still leave an
approved version without valid signatures — a key revoked later, an approval from before
signing existed — makes it unservable (``ModelVersion.is_servable``), is shown on its page, and
is repaired by ``approvals_resign`` (``manage.py approvals_resign``, and ``manage.py
signing_revoke``, which revokes a key and re-signs in one command).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from core import audit, permissions, signing
from core.audit import SYSTEM, refuse
from core.errors import Conflict, DomainError, ValidationFailed
from core.models import User
from core.models.signing import KeyPurpose, SigningKey
from core.verify_bundle import canonical_bytes
from governance.attestation import (
    after_approval_commit,
    approval_documents,
    approval_statement,
)
from governance.gates import case_for
from registry import storage
from registry.models import ModelVersion, SignatureKind, VersionSignature, VersionState


def _artifact_bytes(version: ModelVersion) -> bytes:
    """The stored artifact's bytes (``approval_sign`` checks them against the version's digest
    as it signs: one pass over a file of up to ASSAY_MAX_ARTIFACT_MB)."""
    try:
        with storage.open_stored(version.artifact_sha256) as handle:
            return handle.read()
    except (FileNotFoundError, ValueError) as exc:
        raise Conflict(f"The artifact of {version} ({version.artifact_sha256[:16]}) is missing "
                       f"from the artifact store; restore it from backup, then approve or "
                       f"re-sign again.") from exc


def approval_sign(*, version: ModelVersion, actor: User | None, occasion: str,
                  kinds: tuple[str, ...] = tuple(SignatureKind.values)) -> list[VersionSignature]:
    """Sign an approved version's artifact (OMS) and its approval attestation, store both and
    record one audited event. Runs inside the caller's transaction, which holds the version's
    row lock; ``occasion`` says why (approve, reinstate, re-sign).

    A version with no ONNX form has no artifact to sign: only its approval attestation is
    signed, about the files its approval was decided on (``governance.attestation``); it is
    still never served (``ModelVersion.servability_problems``)."""
    now = timezone.now()
    signed: list[VersionSignature] = []
    kinds = tuple(kind for kind in kinds if kind in version.signature_kinds)
    with transaction.atomic():
        for kind in kinds:  # a first key is itself an event: before the head the attestation names
            signing.active_key(kind)
        if SignatureKind.ARTIFACT in kinds:
            bundle = signing.artifact_bundle(name=f"{version.model.slug}-v{version.number}",
                                             artifact=_artifact_bytes(version))
            if bundle.artifact_sha256 != version.artifact_sha256:
                raise Conflict(f"The stored artifact of {version} no longer matches its SHA-256; "
                               f"restore it from backup, then approve or re-sign again.")
            signed.append(_store(version, SignatureKind.ARTIFACT, bundle, now))
        if SignatureKind.APPROVAL in kinds:
            documents = approval_documents(version, actor=actor, now=now)
            statement = approval_statement(version, case_for(version), occasion=occasion, now=now,
                                           documents=documents)
            bundle = signing.sign_statement(purpose=KeyPurpose.APPROVAL, statement=statement)
            signed.append(_store(version, SignatureKind.APPROVAL, bundle, now))
            after_approval_commit(version_id=version.pk, signature_id=signed[-1].pk)
        for row in signed:  # what is stored verifies, as a server or an auditor will check it
            try:
                signing.verify_signed_artifact(row.bundle, purpose=row.kind,
                                               artifact_sha256=version.artifact_sha256)
            except signing.EnvelopeError as exc:
                raise Conflict(f"The {row.get_kind_display().lower()} just made for {version} "
                               f"does not verify ({exc}); check the key folder.") from exc
        audit.record(action="signing.version_signed", actor=actor, obj=version, payload={
            "number": version.number, "occasion": occasion,
            "artifact_sha256": version.artifact_sha256,
            "signatures": [{"kind": s.kind, "keyid": s.key_id, "signature_id": s.pk,
                            "bundle_sha256": hashlib.sha256(canonical_bytes(s.bundle)).hexdigest()}
                           for s in signed]})
    return signed


def _store(version: ModelVersion, kind: str, signed: signing.SignedBundle,
           now: dt.datetime) -> VersionSignature:
    return VersionSignature.objects.create(version=version, kind=kind, key_id=signed.keyid,
                                           artifact_sha256=version.artifact_sha256,
                                           bundle=signed.bundle, created_at=now)


@dataclass
class Resigned:
    """What ``approvals_resign`` did: versions re-signed, and those it could not re-sign."""

    resigned: list[ModelVersion] = field(default_factory=list)
    failed: list[tuple[ModelVersion, str]] = field(default_factory=list)


def _require_admin(actor: User | None, attempted: str) -> None:
    if actor is not SYSTEM and not permissions.is_admin(actor):
        refuse(actor, "Only administrators can revoke signing keys and re-sign approvals.",
               attempted=attempted)


def approvals_resign(*, actor: User | None) -> Resigned:
    """Re-sign every approved version whose artifact signature or approval attestation is
    missing, made by a revoked key, for another artifact or does not verify — with the active
    keys.

    Each version is re-signed in its own transaction under its row lock, so one that fails (its
    artifact file is missing) does not hold back the others; it stays unservable and is listed.
    Versions no longer approved are not re-signed: they serve nothing until reinstated, which
    signs them afresh.
    """
    _require_admin(actor, "approvals_resign")
    outcome = Resigned()
    for version in ModelVersion.objects.filter(state=VersionState.APPROVED).select_related(
            "model").order_by("pk"):
        kinds = _kinds_to_resign(version)
        if not kinds:
            continue
        try:
            with transaction.atomic():
                locked = ModelVersion.objects.select_for_update().select_related("model").get(
                    pk=version.pk)
                if locked.state != VersionState.APPROVED:
                    continue
                approval_sign(version=locked, actor=actor, occasion="re-sign", kinds=kinds)
            outcome.resigned.append(version)
        except DomainError as exc:
            outcome.failed.append((version, exc.message))
    with transaction.atomic():
        audit.record(action="signing.approvals_resign", actor=actor,
                     object_type="registry.versionsignature", payload={
                         "resigned": [v.pk for v in outcome.resigned],
                         "failed": {str(v.pk): reason for v, reason in outcome.failed}})
    return outcome


def _kinds_to_resign(version: ModelVersion) -> tuple[str, ...]:
    return tuple(kind for kind in version.signature_kinds if version.signature_problem(kind))


def signing_key_revoke(*, actor: User | None, keyid: str, reason: str) -> tuple[
        SigningKey | None, Resigned]:
    """Revoke a compromised ``artifact`` or ``approval`` key and re-sign every current approval
    with its successor. The revocation commits first (it is recorded in the checkpoint file
    too); the re-signing follows version by version, and can be run again with
    ``approvals_resign`` for any that failed."""
    _require_admin(actor, "signing_key_revoke")
    key = SigningKey.objects.filter(keyid=keyid).first()
    if key is not None and key.purpose not in (KeyPurpose.ARTIFACT, KeyPurpose.APPROVAL):
        raise ValidationFailed(f"Key {keyid[:16]} signs {key.purpose}, not artifacts or "
                               f"approvals; revoke it with manage.py keys_revoke.", field="keyid")
    successor = signing.key_revoke(actor=actor, keyid=keyid, reason=reason)
    return successor, approvals_resign(actor=actor)
