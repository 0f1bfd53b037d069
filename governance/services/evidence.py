"""Evidence: what a check found about a version, which the approval gate reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import User
from governance.gates import case_for
from governance.models import CLOSED, Evidence, EvidenceOrigin, EvidenceStatus, VersionGovernance
from governance.services.common import json_safe
from governance.services.lifecycle import approve_if_ready
from registry.models import AuthorKind, ModelVersion
from registry.services import author_record
from registry.storage import SHA256_RE


def evidence_record(*, version: ModelVersion, check: str, status: str, figures: Any = None,
                    digest: str, source_url: str = "", actor: User | None,
                    artifact_digest: str = "", dataset_digests: Sequence[str] = (),
                    origin: str = EvidenceOrigin.RUN,
                    launched_by: User | None = None) -> Evidence:
    """Store what a check found about a version; the approval gate reads the newest row per check.

    ``actor`` None means Assay itself (a worker), recording on behalf of ``launched_by``, the
    person who asked for the run. ``artifact_digest`` and ``dataset_digests`` bind the evidence to
    exactly what it was computed on; ``origin`` says whether an Assay run or an outside tool
    produced it."""
    figures = {} if figures is None else figures
    dataset_digests = list(dataset_digests)
    errors: dict[str, list[str]] = {}
    if not isinstance(check, str) or not check.strip() or len(check) > 100:
        errors["check"] = ["Name the check (up to 100 characters)."]
    if status not in EvidenceStatus.values:
        errors["status"] = [f"The status is one of: {', '.join(EvidenceStatus.values)}."]
    if not isinstance(figures, dict) or not json_safe(figures):
        errors["figures"] = ["Figures are a JSON object of finite numbers, text and lists."]
    if not isinstance(digest, str) or not SHA256_RE.fullmatch(digest.lower()):
        errors["digest"] = ["The digest is the SHA-256 of the full result: 64 hex characters."]
    if artifact_digest and (not isinstance(artifact_digest, str)
                            or not SHA256_RE.fullmatch(artifact_digest.lower())):
        errors["artifact_digest"] = ["The artifact digest is a SHA-256: 64 hex characters."]
    if not all(isinstance(d, str) and SHA256_RE.fullmatch(d.lower()) for d in dataset_digests):
        errors["dataset_digests"] = ["Each dataset digest is a SHA-256: 64 hex characters."]
    if origin not in EvidenceOrigin.values:
        errors["origin"] = [f"The origin is one of: {', '.join(EvidenceOrigin.values)}."]
    if len(source_url or "") > 500 or (source_url and not re.match(r"^(https?://|/)",
                                                                    source_url)):
        errors["source_url"] = ["Link to the source with an http(s) URL or a path."]
    if errors:
        raise ValidationFailed("The evidence is invalid: " + " ".join(
            m for ms in errors.values() for m in ms), fields=errors)
    if actor is not None and not permissions.can_record_evidence(actor, case_for(version)):
        refuse(actor, "Only the model's team, its validator and risk officers record evidence.",
               attempted="evidence.record", target=version,
               code=permissions.READ_ONLY if permissions.is_auditor_only(actor)
               else permissions.NOT_MODEL_TEAM)
    if version.state in CLOSED:
        raise Conflict(f"Version {version.number} is {version.get_state_display().lower()}; "
                       "evidence is no longer recorded for it.")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        row = Evidence.objects.create(version=locked, check_name=check.strip(), status=status,
                                      figures=figures, digest=digest.lower(),
                                      source_url=source_url, recorded_by=actor, origin=origin,
                                      artifact_digest=artifact_digest.lower(),
                                      dataset_digests=[d.lower() for d in dataset_digests],
                                      launched_by=launched_by)
        # Evidence the gate reads is authorship, except the version's own validator's: testing
        # is part of validating. Anyone else who supplied it may not validate or sign it off.
        validator_id = VersionGovernance.objects.filter(version=locked).values_list(
            "validator_id", flat=True).first()
        supplier = actor if actor is not None else launched_by
        if supplier is not None and supplier.pk != validator_id:
            author_record(version=locked, user=supplier, kind=AuthorKind.EVIDENCE)
        audit.record(action="evidence.record", actor=actor, obj=row, payload={
            "version": locked.number, "check": row.check_name, "status": status,
            "figures": figures, "digest": row.digest, "source_url": source_url,
            "origin": origin, "artifact_digest": row.artifact_digest,
            "dataset_digests": row.dataset_digests,
            "launched_by": launched_by.username if launched_by else None})
        approve_if_ready(locked, actor=None)
    version.state = locked.state
    return row

