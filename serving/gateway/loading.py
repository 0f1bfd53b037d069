"""Loading a version into the gateway, fail-closed: verify everything, then build the session.

A version is loaded from the bytes read once from the artifact store: their SHA-256 must be the
version's, the artifact signature and the approval attestation must verify for that digest with
keys from the gateway's trust file (and not revoked in the database), the version must be
approved, with no expired waiver its policy makes suspending. Only then is the onnxruntime
session built — from those same bytes. Any failure is a ``Refused`` with the reason, which the
gateway answers with (503) instead of serving anything else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import onnxruntime as ort

from core import signing
from core.errors import Unavailable
from core.verify_bundle import EnvelopeError, b64decode
from governance.gates import case_for
from registry import storage
from registry.models import ModelVersion, SignatureKind, VersionSignature, VersionState
from serving.gateway.trust import TrustedKeys


@dataclass(frozen=True)
class Facts:
    """What the servability view reads about a version on every refresh (cheap columns only).
    While they stay the same, a verified version stays loaded; any change re-verifies it."""

    version_id: int
    label: str  # "<model slug> v<number>"
    state: str
    artifact_sha256: str
    artifact_signature: tuple[int, str, bool] | None  # (row id, key id, key revoked in the db)
    approval_signature: tuple[int, str, bool] | None
    expired_waiver: str  # why an expired waiver suspends serving ("" when none does)
    file_stamp: tuple[int, int, int]  # (mtime ns, size, inode) of the stored artifact
    trust_stamp: tuple[float, int]


@dataclass(frozen=True)
class Loaded:
    """A verified version, ready to answer."""

    facts: Facts
    model_slug: str
    number: int
    attestation_id: int
    attestation_sha256: str  # SHA-256 of the attestation's signed statement (DSSE payload)
    session: Any = field(repr=False, compare=False)  # onnxruntime.InferenceSession
    input_specs: tuple[dict[str, Any], ...] = ()
    output_names: tuple[str, ...] = ()

    @property
    def version_id(self) -> int:
        return self.facts.version_id

    @property
    def artifact_sha256(self) -> str:
        return self.facts.artifact_sha256


@dataclass(frozen=True)
class Refused:
    """A version the gateway will not serve, and why (``code`` for metrics, ``reason`` for
    people)."""

    facts: Facts
    code: str
    reason: str

    @property
    def version_id(self) -> int:
        return self.facts.version_id


def expired_waiver_reason(version: ModelVersion, waiver_ids: list[int]) -> str:
    """Why an expired waiver still marked active suspends serving of ``version`` ("" when the
    version's policy does not make an expired waiver suspending). The beat task suspends such a
    version within minutes; the gateway does not wait for it."""
    rules = case_for(version).rules
    if rules is None or not rules.expired_waiver_suspends:
        return ""
    listed = ", ".join(str(pk) for pk in sorted(waiver_ids))
    return (f"Waiver {listed} of {version} has expired and its policy suspends serving when a "
            "waiver expires.")


def file_stamp(sha256: str) -> tuple[int, int, int]:
    """The stored artifact's identity without reading it: a changed or replaced file changes it,
    so the view re-verifies the bytes without hashing them on every refresh."""
    return storage.stamp(sha256)


def session_options() -> ort.SessionOptions:
    """One thread per session, not spinning: each gunicorn worker answers one request at a
    time, and an idle pool spinning on every core would take the CPU the other workers need."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def quick_refusal(facts: Facts) -> Refused | None:
    """The refusals the facts alone decide (no artifact read, no signature check): the view
    applies them at once, even while other versions are being loaded."""
    def refuse(code: str, reason: str) -> Refused:
        return Refused(facts=facts, code=code, reason=reason)

    label = facts.label
    if facts.state != VersionState.APPROVED:
        return refuse("not_approved", f"{label} is {facts.state}; only approved versions are "
                      "served.")
    if facts.expired_waiver:
        return refuse("waiver_expired", facts.expired_waiver)
    if not facts.artifact_sha256:
        return refuse("no_artifact", f"{label} is approved for use outside Assay's gateway; it "
                      "has no artifact to serve.")
    for kind, signature in ((SignatureKind.ARTIFACT, facts.artifact_signature),
                            (SignatureKind.APPROVAL, facts.approval_signature)):
        what = SignatureKind(kind).label.lower()
        if signature is None:
            return refuse("unsigned", f"{label} has no {what}.")
        if signature[2]:
            return refuse("key_revoked", f"The {what} of {label} was made by key "
                          f"{signature[1][:16]}, which is revoked.")
    return None


def verify_and_load(facts: Facts, trusted: TrustedKeys, sessions: dict[str, Any]
                    ) -> Loaded | Refused:
    """Check the version ``facts`` describe and build (or reuse, per digest) its session."""
    def refuse(code: str, reason: str) -> Refused:
        return Refused(facts=facts, code=code, reason=reason)

    refused = quick_refusal(facts)
    if refused is not None:
        return refused
    label = facts.label
    present: dict[str, tuple[int, str, bool]] = {
        kind: signature for kind, signature in (
            (SignatureKind.ARTIFACT, facts.artifact_signature),
            (SignatureKind.APPROVAL, facts.approval_signature)) if signature is not None}
    try:
        data = storage.read_bytes(facts.artifact_sha256)
    except (OSError, ValueError):
        return refuse("artifact_missing", f"The artifact of {label} is not in the store.")
    except Unavailable:
        return refuse("store_unavailable", f"The file store holding the artifact of {label} "
                      "cannot be reached.")
    if hashlib.sha256(data).hexdigest() != facts.artifact_sha256:
        return refuse("digest_mismatch", f"The stored artifact of {label} does not match its "
                      "SHA-256: it was changed or replaced.")
    bundles = dict(VersionSignature.objects.filter(
        pk__in=[s[0] for s in present.values()]).values_list("pk", "bundle"))
    for kind, signature in present.items():
        what = SignatureKind(kind).label.lower()
        try:
            signing.verify_signed_artifact(
                bundles.get(signature[0]), purpose=kind, artifact_sha256=facts.artifact_sha256,
                keys=trusted.of(kind))
        except EnvelopeError as exc:
            return refuse(f"{kind}_signature", f"The {what} of {label} does not verify with the "
                          f"gateway's trusted keys: {exc}. If its key is new, export the trust "
                          "file again (manage.py gateway_trust_export).")
    version = ModelVersion.objects.select_related("model").get(pk=facts.version_id)
    session = sessions.get(facts.artifact_sha256)
    if session is None:
        try:
            session = ort.InferenceSession(data, session_options(),
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            return refuse("session", f"onnxruntime cannot load the artifact of {label}: {exc}.")
        sessions[facts.artifact_sha256] = session
    approval = present[SignatureKind.APPROVAL]
    return Loaded(
        facts=facts, model_slug=version.model.slug, number=version.number,
        attestation_id=approval[0],
        attestation_sha256=hashlib.sha256(b64decode(
            bundles[approval[0]]["dsseEnvelope"]["payload"])).hexdigest(),
        session=session, input_specs=tuple(version.input_schema),
        output_names=tuple(o.name for o in session.get_outputs()))
