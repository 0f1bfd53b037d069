"""Every write of the reports app: generating and storing a report, archiving the validation
report at approval, the approval certificate, recording a download, and the model card's
narrative. Each takes its actor, owns its transaction and records its audit event."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit, permissions, signing
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.limits import TEXT_MAX
from core.models import AuditEvent, User
from core.verify_bundle import canonical_bytes
from governance.attestation import StaleDocument
from registry import storage
from registry.models import ModelVersion, SignatureKind, VersionSignature, VersionState
from reports.facts import Facts, gather
from reports.models import ModelCardNarrative, Report, ReportKind
from reports.pdf import Pdf, render_pdf

# Once a version is in one of these states its model card's narrative is frozen.
DECIDED = (VersionState.APPROVED, VersionState.REJECTED, VersionState.SUSPENDED,
           VersionState.RETIRED)

TEMPLATES = {ReportKind.MODEL_CARD: "reports/model_card_pdf.html",
             ReportKind.VALIDATION_REPORT: "reports/validation_report.html",
             ReportKind.CERTIFICATE: "reports/certificate.html"}

VALIDATION_TOC = [
    ("scope", "1. Scope and model description"), ("tiering", "2. Tiering and policy"),
    ("soundness", "3. Conceptual soundness"), ("data", "4. Data"),
    ("outcomes", "5. Outcomes analysis"), ("evaluations", "6. Evaluations"),
    ("findings", "7. Findings"), ("waivers", "8. Waivers"), ("conditions", "9. Conditions of use"),
    ("signoffs", "10. Sign-offs"), ("audit", "Appendix: audit trail")]


def report_context(facts: Facts, *, frozen: bool) -> dict[str, Any]:
    """What the model card and validation report templates read."""
    version = facts.version
    return {"facts": facts, "frozen": frozen, "dated": facts.now, "toc": VALIDATION_TOC,
            "footer": f"{version.model.slug} v{version.number} · artifact "
                      f"{version.artifact_sha256[:16] or 'none'}"}


def render_report(version: ModelVersion, kind: str, *, now: dt.datetime,
                  frozen: bool = False) -> Pdf:
    """The model card or validation report of ``version`` as it stands, rendered (not stored)."""
    return render_pdf(TEMPLATES[ReportKind(kind)],
                      report_context(gather(version, now=now), frozen=frozen))


def _store(version: ModelVersion, kind: str, pdf: Pdf, *, actor: User | None, frozen: bool,
           now: dt.datetime, signature_id: int | None = None) -> Report:
    storage.store(io.BytesIO(pdf.content), pdf.sha256)
    report = Report.objects.create(version=version, kind=kind, sha256=pdf.sha256,
                                   size=len(pdf.content), pages=pdf.pages, frozen=frozen,
                                   signature_id=signature_id, generated_by=actor,
                                   generated_at=now, seconds=round(pdf.seconds, 3))
    audit.record(action="reports.generated", actor=actor, obj=report, payload={
        "kind": kind, "version": version.number, "sha256": pdf.sha256, "pages": pdf.pages,
        "frozen": frozen, "signature_id": signature_id})
    return report


def report_generate(*, actor: User, version: ModelVersion, kind: str) -> Report:
    """The model card or validation report of ``version`` as a stored PDF/A file: the one frozen
    at approval when there is one (a validation report never changes after it), else a fresh
    rendering of what Assay knows now."""
    if kind not in (ReportKind.MODEL_CARD, ReportKind.VALIDATION_REPORT):
        raise ValidationFailed(f"Unknown report {kind!r}; use model_card or validation_report.",
                               field="kind")
    frozen = Report.objects.filter(version=version, kind=kind, frozen=True).first()
    if frozen is not None:
        return frozen
    now = timezone.now()
    pdf = render_report(version, kind, now=now)
    with transaction.atomic():
        return _store(version, kind, pdf, actor=actor, frozen=False, now=now)


@dataclass(frozen=True)
class PreparedReport:
    """A validation report rendered before the approval's transaction (stored already, by its
    digest), with the chain head it was rendered at."""

    pdf: Pdf
    model_id: int
    upto: tuple[int, str]
    now: dt.datetime


def validation_report_prepare(*, version: ModelVersion, actor: User | None
                              ) -> PreparedReport | None:
    """Render the validation report an approval of ``version`` is about to archive, before the
    approval's transaction: no lock is held while the PDF is laid out (seconds).

    The archived report is the version's validation report as it stood immediately before the
    approving transaction — every fact as read now, and the model's audit trail up to the chain
    head read first (``upto``) — with the pending decision on its cover. Every write to what a
    report shows records an event on the model's timeline (the house's rule), so under the
    locks ``validation_report_archive`` knows the rendering is still true exactly when no event
    of the model, other than the approval's own, follows ``upto``. Nothing to prepare once a
    report is archived (a reinstatement keeps it)."""
    if Report.objects.filter(version=version, kind=ReportKind.VALIDATION_REPORT,
                             frozen=True).exists():
        return None
    now = timezone.now()
    upto = audit.chain_head()  # first: anything committed after it has a later seq
    context = report_context(gather(version, now=now, upto=upto), frozen=True)
    context["pending"] = {"by": getattr(actor, "username", "") or "Assay", "seq": upto[0]}
    pdf = render_pdf(TEMPLATES[ReportKind.VALIDATION_REPORT], context)
    storage.store(io.BytesIO(pdf.content), pdf.sha256)
    return PreparedReport(pdf=pdf, model_id=version.model_id, upto=upto, now=now)


def validation_report_archive(*, version: ModelVersion, actor: User | None, now: dt.datetime,
                              prepared: PreparedReport | None = None,
                              own_events: tuple[int, ...] = ()) -> dict[str, Any]:
    """Freeze and archive the validation report of a version being approved; what the approval
    attestation says of it. Runs inside the approval's transaction (governance calls it through
    ``add_approval_document``), under its locks, so the archived file's row and the approval
    commit together.

    With ``prepared`` (rendered before the transaction: ``validation_report_prepare``) it only
    checks that no event of the model other than this approval's own (``own_events``) came after
    the head the report was rendered at — the transaction holds the chain lock, so none can come
    now — and archives it; a later event means the rendering may no longer be true, and
    ``StaleDocument`` sends the approval back to be prepared again. Without (an approval
    completed inside another service's transaction), it renders here, under the locks. A
    reinstatement or re-signing keeps the report archived at the approval."""
    with transaction.atomic():
        report = Report.objects.filter(version=version, kind=ReportKind.VALIDATION_REPORT,
                                       frozen=True).first()
        if report is None and prepared is not None:
            later = (AuditEvent.objects.filter(model_id=prepared.model_id,
                                               seq__gt=prepared.upto[0])
                     .exclude(seq__in=own_events).order_by("seq")
                     .values_list("seq", "action").first())
            if later is not None:
                raise StaleDocument(
                    f"The validation report of {version} changed while it was being prepared "
                    f"for the approval (event {later[0]}, {later[1]}).")
            report = _store(version, ReportKind.VALIDATION_REPORT, prepared.pdf, actor=actor,
                            frozen=True, now=prepared.now)
        elif report is None:
            pdf = render_report(version, ReportKind.VALIDATION_REPORT, now=now, frozen=True)
            report = _store(version, ReportKind.VALIDATION_REPORT, pdf, actor=actor, frozen=True,
                            now=now)
    return {"sha256": report.sha256, "pages": report.pages, "filename": report.filename}


def certificate_generate(*, actor: User, version: ModelVersion) -> Report:
    """The approval certificate of the version's current approval attestation: the one archived
    when the approval committed (``certificate_archive``), or, if that did not happen (the
    process stopped in between), made now from the same attestation — the same bytes."""
    signature = version.current_signature(SignatureKind.APPROVAL)
    if signature is None or version.state not in DECIDED:
        raise Conflict(f"{version} has no approval attestation: a certificate is printed once "
                       f"it is approved.")
    return _certificate(version, signature, actor=actor)


def certificate_archive(*, version_id: int, signature_id: int) -> Report | None:
    """Print and archive the approval certificate of a just-committed approval attestation
    (governance runs it after the approval commits: ``add_after_approval``), outside the
    approval's transaction and the audit chain's lock. Nothing when the attestation has been
    superseded meanwhile (its successor gets its own)."""
    signature = VersionSignature.objects.filter(pk=signature_id, version_id=version_id).first()
    if signature is None:
        return None
    version = ModelVersion.objects.select_related("model").get(pk=version_id)
    current = version.current_signature(SignatureKind.APPROVAL)
    if current is None or current.pk != signature.pk:
        return None
    return _certificate(version, signature, actor=None)


def _certificate(version: ModelVersion, signature: VersionSignature, *,
                 actor: User | None) -> Report:
    """The certificate of ``signature``, printed from the attestation itself after verifying it
    (so what is printed is what was signed), once: its date is the attestation's, so printing it
    again gives the same bytes."""
    existing = Report.objects.filter(kind=ReportKind.CERTIFICATE,
                                     signature_id=signature.pk).first()
    if existing is not None:
        return existing
    try:
        statement, keyid = signing.verify_signed_artifact(
            signature.bundle, purpose=SignatureKind.APPROVAL,
            artifact_sha256=version.artifact_sha256)
    except signing.EnvelopeError as exc:
        raise Conflict(f"The approval attestation of {version} does not verify ({exc}); an "
                       f"administrator re-signs it with manage.py approvals_resign.") from exc
    pdf = render_pdf(TEMPLATES[ReportKind.CERTIFICATE], {
        "p": statement["predicate"], "subjects": statement["subject"], "keyid": keyid,
        "artifact_sha256": version.artifact_sha256,
        "filename": signature.filename, "dated": signature.created_at, "footer": "",
        "pack": f"{version.model.slug}-evidence-pack.zip",
        "bundle_sha256": hashlib.sha256(canonical_bytes(signature.bundle)).hexdigest()})
    try:
        with transaction.atomic():
            return _store(version, ReportKind.CERTIFICATE, pdf, actor=actor, frozen=True,
                          now=timezone.now(), signature_id=signature.pk)
    except IntegrityError:  # printed meanwhile by the other path (download or archive)
        return Report.objects.get(kind=ReportKind.CERTIFICATE, signature_id=signature.pk)


def report_download_record(*, actor: User, report: Report, what: str = "pdf") -> None:
    """Record that ``actor`` downloaded a report (PDF) or an export of the model card."""
    with transaction.atomic():
        audit.record(action="reports.downloaded", actor=actor, obj=report.version, payload={
            "kind": report.kind, "format": what, "report_id": report.pk,
            "sha256": report.sha256})


def model_card_export_record(*, actor: User, version: ModelVersion, what: str,
                             sha256: str) -> None:
    """Record that ``actor`` downloaded the model card as JSON or Markdown."""
    with transaction.atomic():
        audit.record(action="reports.downloaded", actor=actor, obj=version, payload={
            "kind": ReportKind.MODEL_CARD, "format": what, "sha256": sha256})


def model_card_edit(*, actor: User, version: ModelVersion, **sections: str) -> ModelCardNarrative:
    """Change the narrative sections of a version's model card (its owner's words), while the
    version is not yet decided. Only the given sections change; each is free text within
    TEXT_MAX."""
    if not permissions.can_edit_model(actor, version.model):
        refuse(actor, permissions.reason_cannot_edit_model(actor, version.model),
               attempted="model_card_edit", target=version)
    unknown = sorted(set(sections) - set(ModelCardNarrative.SECTIONS))
    if unknown:
        raise ValidationFailed(f"Unknown section(s) {', '.join(unknown)}; the sections are "
                               f"{', '.join(ModelCardNarrative.SECTIONS)}.", field=unknown[0])
    for name, text in sections.items():
        if not isinstance(text, str):
            raise ValidationFailed(f"{name} must be text.", field=name)
        if len(text) > TEXT_MAX:
            raise ValidationFailed(f"{name} is {len(text)} characters long; the limit is "
                                   f"{TEXT_MAX}.", field=name)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if locked.state in DECIDED:
            raise Conflict(f"The model card of {locked} is frozen: the version is "
                           f"{locked.get_state_display().lower()}. Describe changes in a new "
                           f"version.")
        narrative, _ = ModelCardNarrative.objects.get_or_create(version=locked)
        before = audit.snapshot(narrative, list(ModelCardNarrative.SECTIONS))
        for name, text in sections.items():
            setattr(narrative, name, text)
        changed = audit.changes(narrative, before, list(sections))
        if not changed:
            return narrative
        narrative.updated_by = actor
        narrative.updated_at = timezone.now()
        narrative.save()
        audit.record(action="reports.model_card_edited", actor=actor, obj=narrative,
                     payload={"version": locked.number, "changes": changed})
    return narrative
