"""What an approval attestation says (docs/signing.md): the in-toto Statement that the approval
key signs when a version is approved, reinstated or re-signed, built from governance's rows.

Its subject is the artifact (``model.onnx`` and its SHA-256) — or, for a version with no ONNX
form, what its approval was decided on: the model's documentation files and the predictions
files its evidence is bound to (``no_artifact_subjects``), with ``no_artifact`` in the predicate
saying it is approved for use outside Assay's gateway. Its predicate names the model and
version, the bound policy and tier, the validation review, every sign-off (with its
conditions, and when a tier change invalidated it), the evidence that
cleared the gate, the waivers in force with their expiry, and the audit chain's head at that
moment. Floats are left out (the canonical JSON signed has none): figures stay behind their
result digests.

**Documents archived at approval.** Apps above governance (reports: the validation report) add
a document to every approval with ``add_approval_document`` from their ``AppConfig.ready()``.
``approval_sign`` calls each maker inside the approval's transaction, before signing, and the
attestation's ``documents`` names what each returned (its SHA-256): the archived file and the
signed approval then commit together or not at all, and a maker's ``DomainError`` refuses the
approval with its reason. A registry of callables rather than a Django signal: the makers' results
go into the statement, their failures must stop the approval, and the style of the house keeps
signals out of writes.

**Documents prepared before the approval's transaction.** A maker that is slow (reports: the
validation report's PDF takes seconds) registers a ``prepare`` too. The services that approve
(``signoff_record`` when its sign-off completes the quorum, ``version_complete_approval``) run
through ``with_prepared_documents``: it calls each ``prepare(version=, actor=)`` first, outside
the approval's transaction and without any lock (no audit chain lock, no row lock), then runs the
approval with the results at hand; inside, under the locks, ``approval_documents`` hands each
maker its prepared result and the seqs of the events this approval recorded itself
(``own_events``), so the maker can check that nothing else changed since it prepared. A maker
that finds its prepared document stale raises ``StaleDocument``: the approval's transaction rolls
back and ``with_prepared_documents`` prepares again and retries, ``PREPARE_ATTEMPTS`` times in
all, then refuses (409) — never an attestation naming a document that is no longer true. Other
ways into approved (a blocker cleared inside another service's transaction) find nothing
prepared, and the maker makes the document there, under the locks, as before.

**Documents made after an approval commits.** ``add_after_approval`` registers a maker that runs
once the approval (or re-signing) has committed, outside its transaction and the audit chain's
lock, with the version's and the new attestation's ids (reports: the approval certificate, printed
from the signed attestation, so nothing it prints can change between commit and rendering). A
maker that fails is logged and leaves the approval as it is; reports makes the certificate again
on first download.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextvars import ContextVar
from functools import partial
from typing import Any, TypeVar

from django.db import transaction

from core import audit
from core.errors import Conflict
from core.verify_bundle import (
    APPROVAL_PREDICATE_TYPE,
    ARTIFACT_FILENAME,
    INTOTO_STATEMENT_TYPE,
    NO_ARTIFACT_USE,
)
from governance.gates import Case, latest_evidence
from governance.models import Evidence, SignOff, ValidationReview, VersionGovernance, Waiver
from registry.models import ModelVersion

# name -> maker(version=, actor=, now=) returning what the attestation says of the document
# (at least {"sha256": ...}); filled by apps above governance at ready().
ApprovalDocument = Callable[..., dict[str, Any] | None]
_documents: dict[str, ApprovalDocument] = {}
# name -> prepare(version=, actor=), run before the approval's transaction (see above).
_preparers: dict[str, Callable[..., Any]] = {}
# version id -> (name -> prepared result, the seqs this approval records itself)
_prepared: ContextVar[dict[int, tuple[dict[str, Any], list[int]]] | None] = ContextVar(
    "assay_prepared_approval_documents", default=None)
PREPARE_ATTEMPTS = 3
T = TypeVar("T")


class StaleDocument(Conflict):
    """A document prepared before the approval's transaction no longer matches what it is
    about: something changed between preparing it and taking the locks."""


def add_approval_document(name: str, make: ApprovalDocument,
                          prepare: Callable[..., Any] | None = None) -> None:
    """Archive a document at every approval (call from ``AppConfig.ready()``): ``make`` runs
    inside the approval's transaction and its answer goes into the attestation under ``name``.
    With ``prepare``, the slow part is done before the transaction (see the module's
    docstring) and ``make`` also receives ``prepared=`` and ``own_events=``."""
    _documents[name] = make
    if prepare is not None:
        _preparers[name] = prepare


def with_prepared_documents(version: ModelVersion, *, actor: Any, call: Callable[[], T]) -> T:
    """Run ``call`` (a service's approving transaction) with the approval documents of
    ``version`` prepared beforehand, outside any lock; prepare again and retry when a maker finds
    its prepared document stale, and refuse (409) after ``PREPARE_ATTEMPTS`` tries."""
    for attempt in range(1, PREPARE_ATTEMPTS + 1):
        prepared = {name: prepare(version=version, actor=actor)
                    for name, prepare in _preparers.items()}
        with audit.recorded_here() as own:
            token = _prepared.set({**(_prepared.get() or {}), version.pk: (prepared, own)})
            try:
                return call()
            except StaleDocument as exc:
                if attempt == PREPARE_ATTEMPTS:
                    raise Conflict(f"{exc.message} It changed again on each of "
                                   f"{PREPARE_ATTEMPTS} tries; try again in a moment.") from exc
            finally:
                _prepared.reset(token)
    raise AssertionError("unreachable")  # the loop returns or raises


def approval_documents(version: ModelVersion, *, actor: Any, now: dt.datetime) -> dict[str, Any]:
    """Make every registered approval document of ``version``, in the order they were added;
    a maker with a ``prepare`` gets what was prepared for this approval (or None). A maker that
    answers None has no document for this version, and the attestation names none."""
    prepared, own = (_prepared.get() or {}).get(version.pk, ({}, []))
    made = {name: make(version=version, actor=actor, now=now, prepared=prepared.get(name),
                       own_events=tuple(own)) if name in _preparers
            else make(version=version, actor=actor, now=now)
            for name, make in _documents.items()}
    return {name: document for name, document in made.items() if document is not None}


AfterApproval = Callable[..., object]
_after_approval: list[AfterApproval] = []


def add_after_approval(make: AfterApproval) -> None:
    """Run ``make(version_id=, signature_id=)`` after every approval attestation commits (call
    from ``AppConfig.ready()``)."""
    _after_approval.append(make)


def after_approval_commit(*, version_id: int, signature_id: int) -> None:
    """Queue the ``add_after_approval`` makers for when the current transaction commits; each
    runs on its own (``robust``: one that raises is logged, the others still run)."""
    for make in _after_approval:
        transaction.on_commit(partial(make, version_id=version_id, signature_id=signature_id),
                              robust=True)


# (version, SHA-256s of the data sets its evidence read) -> the names of those it knows,
# filled by evaluation at ready(): the subjects of a version with no artifact are named by them.
DataNames = Callable[[ModelVersion, list[str]], dict[str, str]]
_data_names: list[DataNames] = []


def add_data_names(names: DataNames) -> None:
    """Name the data sets of a version's evidence by their SHA-256 (call from
    ``AppConfig.ready()``): the approval attestation of a version with no artifact names its
    predictions files so."""
    _data_names.append(names)


def no_artifact_subjects(version: ModelVersion,
                         evidence: dict[str, Evidence]) -> list[dict[str, Any]]:
    """What the approval of a version with no artifact was decided on, as in-toto subjects: the
    model's documentation files, then every data set (predictions file) its counting evidence
    (``evidence``, the newest row of each check) is bound to, each by its SHA-256.

    Refuses (409) when there is none: the attestation must be about something, and such a
    version is validated on its documentation and predictions (governance.gates)."""
    subjects: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(name: str, sha256: str) -> None:
        if sha256 and sha256 not in seen:
            seen.add(sha256)
            subjects.append({"name": name, "digest": {"sha256": sha256}})

    for doc in version.model.vendor_documents.order_by("uploaded_at", "pk"):
        add(f"documentation/{doc.filename}", doc.sha256)
    digests = [d for _, row in sorted(evidence.items()) for d in row.dataset_digests]
    names: dict[str, str] = {}
    for lookup in _data_names:
        names.update(lookup(version, digests))
    for digest in digests:
        add(f"data/{names.get(digest, digest)}", digest)
    if not subjects:
        raise Conflict(f"{version} has no artifact, no documentation and no evidence bound to a "
                       f"data set: its approval attestation would be about nothing. Upload the "
                       f"model's documentation on its page, then approve or re-sign again.")
    return subjects


def _time(value: dt.datetime | None) -> str | None:
    return audit.format_time(value) if value else None


def _username(user: Any) -> str | None:
    return user.username if user is not None else None


def approval_statement(version: ModelVersion, case: Case, *, occasion: str,
                       now: dt.datetime,
                       documents: dict[str, Any] | None = None) -> dict[str, Any]:
    """The approval attestation of ``version`` as it stands now (inside the approval's
    transaction, so the chain head read here is the approval's own event or later)."""
    gov = VersionGovernance.objects.filter(version=version).first()
    review = ValidationReview.objects.filter(version=version).select_related("validator").first()
    required = {need.check for need in case.rules.required_evidence} if case.rules else set()
    evidence = latest_evidence(version)
    if version.model.has_onnx_form:
        subjects = [{"name": ARTIFACT_FILENAME, "digest": {"sha256": version.artifact_sha256}}]
    else:
        subjects = no_artifact_subjects(version, evidence)
    seq, chain_hash = audit.chain_head()
    predicate: dict[str, Any] = {
        "occasion": occasion,
        "signed_at": audit.format_time(now),
        "approved_at": _time(gov.decided_at if gov else None),
        "model": {"id": version.model_id, "slug": version.model.slug, "name": version.model.name},
        "version": {"id": version.pk, "number": version.number,
                    "artifact_filename": version.artifact_filename},
        "policy_version": ({"id": case.policy_version.pk, "name": str(case.policy_version)}
                           if case.policy_version else None),
        "tier": case.tier,
        "validation": None if review is None else {
            "validator": _username(review.validator), "conclusion": review.conclusion,
            "conditions": review.conditions, "concluded_at": _time(review.concluded_at),
            "artifact_sha256": review.artifact_sha256},
        "signoffs": [
            {"signer": s.signer.username, "role": s.role, "decision": s.decision,
             "comment": s.comment, "conditions": s.conditions, "signed_at": _time(s.signed_at),
             "invalidated_at": _time(s.invalidated_at), "artifact_sha256": s.artifact_sha256}
            for s in SignOff.objects.filter(version=version).select_related("signer")
            .order_by("signed_at", "pk")],
        "evidence": [
            {"check": row.check_name, "required": row.check_name in required,
             "status": row.status, "origin": row.origin, "result_digest": row.digest,
             "artifact_digest": row.artifact_digest, "dataset_digests": row.dataset_digests,
             "recorded_at": _time(row.recorded_at)}
            for _, row in sorted(evidence.items())],
        "waivers": [
            {"id": w.pk, "covers": w.covers_label, "reason": w.reason,
             "compensating_controls": w.compensating_controls,
             "limits_of_use": w.limits_of_use, "approved_by": _username(w.approved_by), "granted_at": _time(w.granted_at),
             "expires_at": _time(w.expires_at)}
            for w in Waiver.objects.filter(version=version).in_force(now)
            .select_related("approved_by").order_by("expires_at", "pk")],
        "documents": documents or {},
        "audit_chain_head": {"seq": seq, "chain_hash": chain_hash},
    }
    if not version.model.has_onnx_form:
        predicate["no_artifact"] = {"form": version.model.artifact_form, "use": NO_ARTIFACT_USE}
    return {
        "_type": INTOTO_STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": APPROVAL_PREDICATE_TYPE,
        "predicate": predicate,
    }
