"""The evidence pack of a model (docs/audit-export.md, "Evidence pack"): one zip an examiner
downloads and checks offline with ``python -m core.verify_pack PACK.zip``.

It holds the model's audit bundle, and per version its current artifact signature and approval
attestation, the validation report archived at approval, the approval certificate, the model
card (PDF and Model Card Toolkit JSON) and every succeeded evaluation run (its metadata, and its
results as the canonical JSON whose SHA-256 is the run's ``results_digest``); for a version with
no artifact, the files its approval attestation is about (its subjects: the documentation and
predictions files); then every finding's attachments; and ``manifest.json``, listing every file
with its SHA-256 and size.

The manifest is tied to the signed audit trail: before the audit bundle is exported, the event
``reports.evidence_pack`` records ``contents_sha256``, the SHA-256 of the canonical JSON of the
manifest's file list without the bundle (``core.verify_pack.contents_digest``); the bundle's
checkpoint, signed after it, covers that event. Changing a file and its manifest line together
therefore still fails: the recorded digest no longer matches.

Made as an export (``reports.jobs``, kind ``evidence_pack``): in the request for a small model,
by a worker with progress when its stored reports and attachments exceed
``ASSAY_REPORTS_PACK_WORKER_ABOVE_MB`` or it has more than ``VERSIONS_IN_REQUEST`` versions (each
renders its model card); stored with its SHA-256, the requester notified, every download audited.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import audit, export, permissions, signing
from core.audit import refuse
from core.errors import ValidationFailed
from core.models import User
from core.verify_bundle import no_artifact_subjects
from core.verify_pack import PACK_FORMAT, contents_digest
from evaluation.metrics.results import canonical_json
from evaluation.models import Dataset, Run, RunStatus
from governance.models import FindingAttachment
from registry import storage
from registry.models import ModelVersion, RegisteredModel, SignatureKind
from reports import modelcard, services
from reports.facts import gather
from reports.models import Report, ReportKind

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # entries carry no clock time: the manifest has the date
# More versions than this and the pack is made by a worker: each renders its model card.
VERSIONS_IN_REQUEST = 3
REFUSAL = "Only auditors and administrators can download evidence packs."
Progress = Callable[[int, str], None]


@dataclass
class _Entry:
    path: str
    sha256: str
    size: int
    content: bytes | None = None  # else the stored file ``sha256`` is copied in


@dataclass
class Pack:
    """A written pack: its name, how many files it holds, and its manifest."""

    filename: str
    files: int
    manifest: dict[str, Any]


def _bytes_entry(path: str, content: bytes) -> _Entry:
    return _Entry(path, hashlib.sha256(content).hexdigest(), len(content), content)


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _run_entries(base: str, run: Run) -> tuple[list[_Entry], dict[str, Any]]:
    results = _bytes_entry(f"{base}/evaluations/run-{run.pk}.results.json",
                           canonical_json(run.results).encode("utf-8"))
    meta = {"run": run.pk, "version": run.version.number, "dataset": run.dataset.name,
            "artifact_sha256": run.artifact_digest, "dataset_sha256": run.dataset_digests,
            "checks": run.checks, "results_digest": run.results_digest,
            "results_file": results.path, "verdicts": run.verdicts,
            "library_versions": run.library_versions,
            "finished_at": audit.format_time(run.finished_at) if run.finished_at else None}
    return [_bytes_entry(f"{base}/evaluations/run-{run.pk}.json", _json_bytes(meta)),
            results], {"run": run.pk, "metadata": f"{base}/evaluations/run-{run.pk}.json",
                       "results": results.path, "results_digest": run.results_digest}


def subject_files(model: RegisteredModel) -> dict[str, tuple[str, int]]:
    """The stored files the approval of a version with no artifact can be decided on (SHA-256
    -> (file name, size)): the model's documentation and its predictions files."""
    if model.has_onnx_form:
        return {}
    files = {d.sha256: (d.filename, d.size) for d in model.vendor_documents.all()}
    for sha256, filename, size in Dataset.objects.filter(model=model).values_list(
            "sha256", "filename", "size"):
        files.setdefault(sha256, (filename, size))
    return files


def _subject_entries(bundle: dict[str, Any],
                     stored: dict[str, tuple[str, int]]
                     ) -> tuple[list[_Entry], list[dict[str, Any]]]:
    """The files an approval attestation of a version with no artifact is about, each once in
    the pack (``subjects/<sha256>/<file name>``, shared by the versions), and what the manifest
    says of them; a subject whose file Assay does not hold is listed without a path."""
    try:
        statement, _ = signing.verify_signed_artifact(bundle, purpose=SignatureKind.APPROVAL,
                                                      artifact_sha256="")
    except signing.EnvelopeError:
        return [], []  # core.verify_pack names the attestation that does not verify
    entries, listed = [], []
    for name, sha256 in no_artifact_subjects(statement):
        path = None
        if sha256 in stored:
            filename, size = stored[sha256]
            # an uploader's file name, made safe as a path in a zip an examiner unpacks
            safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("._") or "file"
            path = f"subjects/{sha256}/{safe}"
            entries.append(_Entry(path, sha256, size))
        listed.append({"name": name, "sha256": sha256, "path": path})
    return entries, listed


def _version_entries(actor: User, version: ModelVersion,
                     stored: dict[str, tuple[str, int]]) -> tuple[list[_Entry], dict[str, Any]]:
    base = f"versions/v{version.number}"
    entries: list[_Entry] = []
    about: dict[str, Any] = {"id": version.pk, "number": version.number,
                             "state": version.state, "artifact_sha256": version.artifact_sha256}
    for kind, name in ((SignatureKind.ARTIFACT, "artifact-signature.json"),
                       (SignatureKind.APPROVAL, "approval-attestation.json")):
        signature = version.current_signature(kind)
        about[kind] = None
        if signature is not None:
            entries.append(_bytes_entry(f"{base}/{name}", _json_bytes(signature.bundle)))
            about[kind] = {"path": entries[-1].path, "keyid": signature.key_id}
            if kind == SignatureKind.APPROVAL and not version.model.has_onnx_form:
                files, about["subjects"] = _subject_entries(signature.bundle, stored)
                entries += files
    archived = Report.objects.filter(version=version, kind=ReportKind.VALIDATION_REPORT,
                                     frozen=True).first()
    about["validation_report"] = None
    if archived is not None:
        entries.append(_Entry(f"{base}/validation-report.pdf", archived.sha256, archived.size))
        about["validation_report"] = entries[-1].path
    about["certificate"] = None
    if version.current_signature(SignatureKind.APPROVAL) is not None \
            and version.state in services.DECIDED:
        certificate = services.certificate_generate(actor=actor, version=version)
        entries.append(_Entry(f"{base}/approval-certificate.pdf", certificate.sha256,
                              certificate.size))
        about["certificate"] = entries[-1].path
    card = services.report_generate(actor=actor, version=version, kind=ReportKind.MODEL_CARD)
    entries.append(_Entry(f"{base}/model-card.pdf", card.sha256, card.size))
    entries.append(_bytes_entry(f"{base}/model-card.json", modelcard.mct_json_text(
        gather(version, now=timezone.now())).encode()))
    about["model_card"] = {"pdf": entries[-2].path, "json": entries[-1].path}
    about["runs"] = []
    for run in (Run.objects.filter(version=version, status=RunStatus.SUCCEEDED)
                .exclude(results=None).select_related("dataset", "version").order_by("pk")):
        files, listed = _run_entries(base, run)
        entries += files
        about["runs"].append(listed)
    return entries, about


def _attachment_entries(model: RegisteredModel) -> tuple[list[_Entry], list[dict[str, Any]]]:
    entries, listed = [], []
    for attachment in (FindingAttachment.objects.filter(finding__version__model=model)
                       .select_related("finding", "finding__version").order_by("pk")):
        finding = attachment.finding
        path = f"findings/finding-{finding.pk}/{attachment.pk}-{attachment.filename}"
        entries.append(_Entry(path, attachment.sha256, attachment.size))
        listed.append({"path": path, "finding": finding.pk, "title": finding.title,
                       "version": finding.version.number, "uploaded_at":
                       audit.format_time(attachment.uploaded_at)})
    return entries, listed


def pack_model(actor: User, params: Mapping[str, Any]) -> RegisteredModel:
    """The model a pack is asked for (``params["model"]``, its slug), or a 400 naming it."""
    slug = params.get("model")
    if not isinstance(slug, str) or not slug.strip():
        raise ValidationFailed("Name the model whose evidence pack you want: model=<slug>.",
                               field="model")
    model = RegisteredModel.objects.visible_to(actor).filter(slug=slug.strip()).first()
    if model is None:
        raise ValidationFailed(f"No model {slug.strip()!r}; give the slug of a registered model.",
                               field="model")
    return model


def stored_bytes(model: RegisteredModel) -> int:
    """What the pack copies from the store: the model's reports and finding attachments (and,
    for a model with no ONNX form, the files its approvals can be decided on)."""
    return sum(Report.objects.filter(version__model=model).values_list("size", flat=True)) \
        + sum(FindingAttachment.objects.filter(finding__version__model=model)
              .values_list("size", flat=True)) \
        + sum(size for _, size in subject_files(model).values())


def expected_files(model: RegisteredModel) -> int:
    """About how many files the pack will hold (its export's "covers"; the finished export
    says exactly): per version two signatures, the archived report, the certificate and the
    model card twice, two per succeeded run, the attachments, the files approvals without an
    artifact are about, and the audit bundle."""
    versions = model.versions.count()
    runs = Run.objects.filter(version__model=model, status=RunStatus.SUCCEEDED).count()
    attachments = FindingAttachment.objects.filter(finding__version__model=model).count()
    return 6 * versions + 2 * runs + attachments + len(subject_files(model)) + 1


def made_by_worker(model: RegisteredModel) -> bool:
    return (stored_bytes(model) > settings.REPORTS_PACK_WORKER_ABOVE_BYTES
            or model.versions.count() > VERSIONS_IN_REQUEST)


def evidence_pack_write(*, actor: User, model: RegisteredModel, out: IO[bytes],
                        progress: Progress | None = None) -> Pack:
    """Write the evidence pack of ``model`` for ``actor`` (an auditor or administrator) into
    ``out`` (a seekable binary file), recording its contents digest in the audit trail before
    the audit bundle (and its signed checkpoint) is exported into it."""
    if not permissions.can_export_audit(actor):
        refuse(actor, REFUSAL, attempted="evidence_pack_build", target=model)
    step = progress or (lambda _p, _s: None)
    entries: list[_Entry] = []
    versions = []
    numbered = list(model.versions.select_related("model").order_by("number"))
    stored = subject_files(model)
    for i, version in enumerate(numbered):
        step(5 + int(55 * i / max(len(numbered), 1)), f"Version {version.number}: reports")
        files, about = _version_entries(actor, version, stored)
        packed = {e.path for e in entries}
        entries += [f for f in files if f.path not in packed]  # a subject shared by versions
        versions.append(about)
    files, attachments = _attachment_entries(model)
    entries += files
    listing = [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in entries]
    contents = contents_digest(listing)
    step(60, "Audit bundle")
    with transaction.atomic():
        audit.record(action="reports.evidence_pack", actor=actor, obj=model, payload={
            "contents_sha256": contents, "files": len(listing),
            "bytes": sum(e.size for e in entries)})
    prepared = export.audit_export(actor=actor, model_slug=model.slug)
    bundle = tempfile.TemporaryFile()  # noqa: SIM115  (closed below; a whole chain's digests)
    digest, size = hashlib.sha256(), 0
    for line in prepared.lines():
        data = line.encode("utf-8")
        digest.update(data)
        size += len(data)
        bundle.write(data)
    bundle.seek(0)
    bundle_entry = _Entry(f"audit/{prepared.filename}", digest.hexdigest(), size)
    manifest = {
        "format": PACK_FORMAT, "created_at": audit.format_time(prepared.created_at),
        "exported_by": prepared.exported_by,
        "model": {"id": model.pk, "slug": model.slug, "name": model.name},
        "audit_bundle": bundle_entry.path, "contents_sha256": contents,
        "versions": versions, "attachments": attachments,
        "files": [*listing, {"path": bundle_entry.path, "sha256": bundle_entry.sha256,
                             "size": bundle_entry.size}]}
    step(70, "Writing the zip")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as pack:
        for n, entry in enumerate([*entries, bundle_entry]):
            if n and n % 20 == 0:
                step(70 + int(28 * n / (len(entries) + 1)), f"{n} of {len(entries) + 1} files")
            info = zipfile.ZipInfo(entry.path, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            with pack.open(info, "w") as target:
                if entry.content is not None:
                    target.write(entry.content)
                elif entry is bundle_entry:
                    shutil.copyfileobj(bundle, target, 1 << 20)
                else:
                    with storage.open_verified(entry.sha256) as source:
                        shutil.copyfileobj(source, target, 1 << 20)
        info = zipfile.ZipInfo("manifest.json", date_time=_ZIP_TIME)
        pack.writestr(info, _json_bytes(manifest), compress_type=zipfile.ZIP_DEFLATED)
    bundle.close()
    return Pack(filename=f"{model.slug}-evidence-pack.zip", files=len(entries) + 2,
                manifest=manifest)
