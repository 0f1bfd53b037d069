"""What an approval attestation says (docs/signing.md): the in-toto Statement that the approval
key signs when a version is approved, reinstated or re-signed, built from governance's rows.

Its subject is the artifact (``model.onnx`` and its SHA-256); its predicate names the model and
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
)
from governance.gates import Case, latest_evidence
from governance.models import SignOff, ValidationReview, VersionGovernance, Waiver
from registry.models import ModelVersion

# name -> maker(version=, actor=, now=) returning what the attestation says of the document
# (at least {"sha256": ...}); filled by apps above governance at ready().
ApprovalDocument = Callable[..., dict[str, Any]]
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
    a maker with a ``prepare`` gets what was prepared for this approval (or None)."""
    prepared, own = (_prepared.get() or {}).get(version.pk, ({}, []))
    return {name: make(version=version, actor=actor, now=now, prepared=prepared.get(name),
                       own_events=tuple(own)) if name in _preparers
            else make(version=version, actor=actor, now=now)
            for name, make in _documents.items()}


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
    seq, chain_hash = audit.chain_head()
    predicate = {
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
            for _, row in sorted(latest_evidence(version).items())],
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
    return {
        "_type": INTOTO_STATEMENT_TYPE,
        "subject": [{"name": ARTIFACT_FILENAME, "digest": {"sha256": version.artifact_sha256}}],
        "predicateType": APPROVAL_PREDICATE_TYPE,
        "predicate": predicate,
    }
