"""What Assay knows about a version, gathered once for every report made of it (model card,
validation report, certificate): read-only, from every app below reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch

from core import audit, checkpoints
from core.charts import Svg
from core.models import AuditEvent
from core.models.signing import Checkpoint
from evaluation.charts import check_sections
from evaluation.models import Run, RunStatus
from governance.gates import Case, case_for, latest_evidence
from governance.models import (
    Evidence,
    Finding,
    FindingComment,
    SignOff,
    ValidationReview,
    VersionGovernance,
    Waiver,
)
from registry import dependencies
from registry.dependencies import Neighbour
from registry.models import ModelVersion, RegisteredModel, SignatureKind, VersionSignature
from reports.models import ModelCardNarrative

# The audit appendix lists at most this many of the model's events (the newest); the rest are
# in the audit bundle the appendix names. Bounds the report made inside an approval.
AUDIT_APPENDIX_MAX = 400


@dataclass(frozen=True)
class Dependencies:
    """The models up- and downstream of a report's model, as its reports print them: the same
    graph the model page's Dependencies tab draws (registry.dependencies.graph_chart) and the
    lists beside it. A report is one document for every reader of the model, so it names the
    models of the model's own team (whom every team member may see) and counts the others."""

    graph: Svg
    upstream: list[Neighbour]
    downstream: list[Neighbour]
    other_teams_upstream: int
    other_teams_downstream: int

    @property
    def directions(self) -> list[tuple[str, list[Neighbour]]]:
        return [("upstream", self.upstream), ("downstream", self.downstream)]


def dependencies_of(model: RegisteredModel) -> Dependencies:
    """The model's dependencies as its reports print them (see Dependencies)."""
    named = set(RegisteredModel.objects.filter(team_id=model.team_id)
                .values_list("pk", flat=True))
    up = dependencies.neighbours(model, downstream=False, visible=named)
    down = dependencies.neighbours(model, downstream=True, visible=named)
    return Dependencies(
        graph=dependencies.graph_chart(model, named), upstream=up, downstream=down,
        other_teams_upstream=len(dependencies.upstream_ids(model.pk)) - len(up),
        other_teams_downstream=len(dependencies.downstream_ids(model.pk)) - len(down))


@dataclass
class Facts:
    """Everything a report of one version prints, read at one moment."""

    version: ModelVersion
    case: Case
    governance: VersionGovernance | None
    review: ValidationReview | None
    evidence: list[Evidence]
    runs: list[dict[str, Any]]
    findings: list[Finding]
    waivers: list[Waiver]
    signoffs: list[SignOff]
    events: list[AuditEvent]
    events_total: int
    chain_head: tuple[int, str]
    checkpoint: Checkpoint | None
    approval: VersionSignature | None
    now: dt.datetime
    dependencies: Dependencies
    narrative: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> Any:
        return self.version.model

    @property
    def fairness_findings(self) -> list[Finding]:
        """Findings raised by a fairness or bias check of an evaluation."""
        return [f for f in self.findings
                if any(word in f.source_key for word in ("bias", "fairness"))]

    @property
    def approved_at(self) -> dt.datetime | None:
        return self.governance.decided_at if self.governance and self.version.state in (
            "approved", "suspended", "retired") else None


def gather(version: ModelVersion, *, now: dt.datetime,
           upto: tuple[int, str] | None = None) -> Facts:
    """Read the facts of ``version`` (its model, people, governance, evaluations and trail);
    with ``upto`` (a chain head, seq and hash), the trail as it stood then: its events up to
    that seq, that head, and the last checkpoint at or before it."""
    version = (ModelVersion.objects.select_related("model", "model__owner", "model__team",
                                                   "created_by")
               .prefetch_related("model__developers").get(pk=version.pk))
    model_id = version.model_id
    runs = (Run.objects.filter(version=version, status=RunStatus.SUCCEEDED)
            .select_related("dataset", "reference", "launched_by").order_by("created_at", "pk"))
    events = AuditEvent.objects.filter(model_id=model_id)
    if upto is not None:
        events = events.filter(seq__lte=upto[0])
    total = events.count()
    narrative = getattr(version, "model_card_narrative", None)
    return Facts(
        version=version,
        case=case_for(version),
        governance=VersionGovernance.objects.filter(version=version)
        .select_related("policy_version", "validator", "submitted_by").first(),
        review=ValidationReview.objects.filter(version=version)
        .select_related("validator", "policy_version").first(),
        evidence=[row for _, row in sorted(latest_evidence(version).items())],
        runs=[{"run": run, "sections": check_sections(run)} for run in runs],
        findings=list(Finding.objects.filter(version=version)
                      .select_related("owner", "raised_by", "resolved_by")
                      .prefetch_related(Prefetch("comments", FindingComment.objects
                                                 .select_related("author")))
                      .order_by("raised_at", "pk")),
        waivers=list(Waiver.objects.filter(version=version)
                     .select_related("approved_by", "finding").order_by("granted_at", "pk")),
        signoffs=list(SignOff.objects.filter(version=version).select_related("signer")
                      .order_by("signed_at", "pk")),
        events=list(reversed(events.order_by("-seq")[:AUDIT_APPENDIX_MAX])),
        events_total=total,
        chain_head=upto or audit.chain_head(),
        checkpoint=checkpoints.latest() if upto is None else Checkpoint.objects.filter(
            seq__lte=upto[0]).order_by("-seq", "-signed_at").first(),
        approval=version.current_signature(SignatureKind.APPROVAL),
        now=now,
        dependencies=dependencies_of(version.model),
        narrative={name: getattr(narrative, name) for name in ModelCardNarrative.SECTIONS}
        if narrative else dict.fromkeys(ModelCardNarrative.SECTIONS, ""),
    )
