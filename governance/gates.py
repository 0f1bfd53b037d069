"""Reads that decide what a version still needs: its governance facts and its blocking items.

``blocking_items(version)`` is the one list the pages, the API and the approval gate share.
Part 2 plugs in here: ``_finding_blockers`` (unresolved high findings) is one of the
``BLOCKER_SOURCES``, and ``is_waived`` answers from the waivers in force.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import Q, QuerySet

from core import permissions
from core.models import Role, User
from governance.models import (
    DECIDED,
    DiligenceAnswer,
    DiligenceReview,
    Evidence,
    EvidenceOrigin,
    EvidenceStatus,
    Finding,
    ModelIntake,
    PolicyVersion,
    ValidationReview,
    VersionGovernance,
    Waiver,
)
from governance.policy import (
    BLOCK,
    DEFAULT_DUE_DILIGENCE,
    GRAPH_CHECKS,
    EvidenceRequirement,
    TierRules,
)
from governance.policy_scope import Scope
from registry.models import AuthorKind, ModelVersion, RegisteredModel, VersionAuthor

# Kinds of blocking item. SUBMISSION kinds stop a submission; GATE kinds stop a version from
# reaching pending approval; every kind stops the final approval. Warnings (required evidence of
# level "warn" that is missed) have the kind "evidence" and stop nothing.
SUBMISSION_KINDS = frozenset({"intake", "artifact", "documentation", "policy"})
GATE_KINDS = frozenset({"evidence", "finding", "materiality"})


@dataclass(frozen=True)
class Blocker:
    """One thing that stands between a version and its approval."""

    kind: str
    key: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "key": self.key, "message": self.message}


@dataclass(frozen=True)
class Case:
    """A version's governance facts, as core.permissions' predicates read them."""

    version_id: int
    state: str
    team_id: int
    owner_id: int
    developer_ids: frozenset[int]
    assignee_ids: frozenset[int]
    submitter_id: int | None
    validator_id: int | None
    signer_ids: frozenset[int]
    tier: int | None
    policy_version: PolicyVersion | None
    required_roles: dict[str, int] = field(default_factory=dict)
    # The model's owners, developers and the version's submitters at its submissions
    # (VersionGovernance.people_at_submission); empty before the first submission.
    owners_at_submission: frozenset[int] = frozenset()
    developers_at_submission: frozenset[int] = frozenset()
    submitters: frozenset[int] = frozenset()
    # The model's task (registry.models.Task): which required-evidence items apply.
    task: str = ""
    # Who created the version, uploaded its artifact or evidence, or edited its documentation
    # (registry's VersionAuthor); who granted a waiver on it; and whether the tier's policy
    # keeps the model's team out of its validation and sign-off.
    author_ids: frozenset[int] = frozenset()
    # The authors for more than the evidence they supplied: whose runs' independence is judged
    # on (supplying evidence must not make a validating risk officer's own runs exploratory).
    builder_ids: frozenset[int] = frozenset()
    waiver_granter_ids: frozenset[int] = frozenset()
    team_excluded: bool = False
    # Whether the tier's policy lets the version's developers deploy it to production.
    developers_may_deploy: bool = False
    # The change class in force (minor or major; "" for a model's first version): the one the
    # validator confirmed, else the one declared (governance.materiality).
    change_class: str = ""
    change_class_confirmed: bool = False

    @property
    def rules(self) -> TierRules | None:
        if self.policy_version is None or self.tier is None:
            return None
        return self.policy_version.tier_rules(self.tier)


def intake_of(version: ModelVersion) -> ModelIntake | None:
    return ModelIntake.objects.filter(model_id=version.model_id).first()


def governance_of(version: ModelVersion) -> VersionGovernance | None:
    return (VersionGovernance.objects.filter(version_id=version.pk)
            .select_related("policy_version", "validator", "submitted_by").first())


def policy_for(version: ModelVersion, gov: VersionGovernance | None = None) -> PolicyVersion | None:
    """The bound policy once submitted; before that, the one that would be bound now: the
    current policy of the model's scope (PolicyVersionQuerySet.current_for)."""
    gov = gov if gov is not None else governance_of(version)
    return gov.policy_version if gov is not None else PolicyVersion.objects.current_for(
        version.model)


def no_policy_message(model: RegisteredModel | None) -> str:
    """Why no policy applies to ``model`` (or, without one, to anything), and who can fix it."""
    if model is None or not PolicyVersion.objects.filter(is_current=True).exists():
        return "No governance policy is current; an administrator must make one current."
    where = Scope((model.business_line,) if model.business_line else (),
                  (model.legal_entity,) if model.legal_entity else ())
    return (f"No current governance policy covers {model} ("
            f"{'no business line or legal entity' if where.is_default else where.describe()}"
            "), and no unscoped policy is current as the default: an administrator or risk "
            "officer must make one current that covers it.")


def tier_of(version: ModelVersion, gov: VersionGovernance | None,
            intake: ModelIntake | None) -> int | None:
    """The tier the version is governed at: the model's tier in force until it is submitted,
    then the tier bound at its submission. Only an approved tier override (a second risk
    officer) changes a bound tier, and only while the version is in flight
    (governance.services.intake); re-answering the intake never does."""
    if gov is not None and gov.tier is not None:
        return gov.tier
    return intake.tier if intake is not None else None


def case_for(version: ModelVersion) -> Case:
    gov = governance_of(version)
    return case_from(version, gov=gov, intake=intake_of(version),
                     policy=policy_for(version, gov),
                     signer_ids=version.signoffs.standing().values_list("signer_id", flat=True),
                     authors=version.authors.values_list("user_id", "kind"),
                     waiver_granter_ids=Waiver.objects.filter(version=version)
                     .values_list("approved_by_id", flat=True))


def case_from(version: ModelVersion, *, gov: VersionGovernance | None,
              intake: ModelIntake | None, policy: PolicyVersion | None,
              signer_ids: Iterable[int], authors: Iterable[tuple[int, str]] = (),
              waiver_granter_ids: Iterable[int | None] = ()) -> Case:
    """A version's Case from parts already loaded (case_for queries them; lists prefetch them).
    ``authors`` are (user id, AuthorKind) pairs."""
    model = version.model
    authors = list(authors)
    tier = tier_of(version, gov, intake)
    rules = policy.tier_rules(tier) if policy is not None and tier is not None else None
    return Case(
        version_id=version.pk, state=version.state, team_id=model.team_id,
        owner_id=model.owner_id, developer_ids=model.developer_ids,
        assignee_ids=model.assignee_ids,
        submitter_id=gov.submitted_by_id if gov else None,
        validator_id=gov.validator_id if gov else None,
        signer_ids=frozenset(signer_ids),
        tier=tier, policy_version=policy,
        required_roles=dict(rules.signoffs) if rules else {},
        task=model.task,
        **people_at_submission(gov),
        author_ids=frozenset(uid for uid, _ in authors),
        builder_ids=frozenset(uid for uid, kind in authors if kind != AuthorKind.EVIDENCE),
        waiver_granter_ids=frozenset(uid for uid in waiver_granter_ids if uid is not None),
        team_excluded=rules.exclude_model_team if rules else False,
        developers_may_deploy=rules.developers_may_deploy if rules else False,
        change_class=(gov.change_class_confirmed if gov and gov.change_class_confirmed
                      else version.change_class),
        change_class_confirmed=bool(gov and gov.change_class_confirmed),
    )


def people_at_submission(gov: VersionGovernance | None) -> dict[str, frozenset[int]]:
    """The Case fields read from the snapshot taken at submission."""
    if gov is None:
        return {}
    return {"owners_at_submission": gov.ids_at_submission("owners"),
            "developers_at_submission": gov.ids_at_submission("developers"),
            "submitters": gov.ids_at_submission("submitters")}


def former_people_of(model: Any) -> frozenset[int]:
    """Everyone who owned or developed the model, or submitted one of its versions, at any of
    its versions' submissions, and everyone who authored one of its versions."""
    ids: set[int] = set(VersionAuthor.objects.filter(version__model_id=model.pk)
                        .values_list("user_id", flat=True))
    for gov in VersionGovernance.objects.filter(version__model_id=model.pk).only(
            "people_at_submission"):
        for kind in ("owners", "developers", "submitters"):
            ids |= gov.ids_at_submission(kind)
    return frozenset(ids)


def _intake_blockers(version: ModelVersion, case: Case) -> list[Blocker]:
    intake = intake_of(version)
    if intake is None:
        return [Blocker("intake", "intake", "Complete the model's intake and tiering "
                                            "questionnaire.")]
    if not intake.is_model:
        return [Blocker("intake", "not_a_model", "The intake recorded this as not a model: it "
                                                 "is inventoried but not validated.")]
    if intake.tier is None:
        return [Blocker("intake", "tier", "Answer the tiering questionnaire to set a tier.")]
    return []


def _artifact_blockers(version: ModelVersion, case: Case) -> list[Blocker]:
    """An ONNX model's version needs its artifact; a model with no ONNX form (a scorecard, SAS,
    a vendor's API) is validated without one, on its documentation and uploaded predictions."""
    if version.has_artifact or not version.model.has_onnx_form:
        return []
    return [Blocker("artifact", "artifact", "Upload the version's ONNX artifact.")]


def _documentation_blockers(version: ModelVersion, case: Case) -> list[Blocker]:
    """A vendor model, or one with no ONNX form, is validated on its documentation: at least
    one document must be uploaded before it is submitted."""
    model = version.model
    if (model.has_onnx_form and not model.is_vendor) or model.vendor_documents.exists():
        return []
    what = "the vendor's documentation" if model.is_vendor else "the model's documentation"
    return [Blocker("documentation", "documentation",
                    f"Upload {what} on the model's page: a model validated without an ONNX "
                    "artifact, or bought from a vendor, is reviewed on its documentation.")]


def due_diligence_items(version_or_policy: ModelVersion | PolicyVersion | None
                        ) -> list[dict[str, str]]:
    """The due-diligence items of the version's policy (bound, else current), or of a policy."""
    policy = policy_for(version_or_policy) if isinstance(version_or_policy, ModelVersion) \
        else version_or_policy
    return policy.rules.due_diligence if policy is not None else list(DEFAULT_DUE_DILIGENCE)


def _vendor_blockers(version: ModelVersion, case: Case) -> list[Blocker]:
    """A vendor model needs its contract reference, its contingency and exit plan, and every
    due-diligence item of its policy answered and accepted by the validator."""
    model = version.model
    if not model.is_vendor or version.state in DECIDED:
        return []
    out = []
    if not model.contract_reference.strip():
        out.append(Blocker("vendor", "contract", "Record the vendor contract's reference (and "
                                                 "its dates and SLA terms) on the model."))
    if not model.contingency_plan.strip():
        out.append(Blocker("vendor", "contingency", "Write the contingency and exit plan on the "
                                                    "model: what happens if the vendor's model "
                                                    "fails or is withdrawn."))
    answers = {a.item: a for a in DiligenceAnswer.objects.filter(model=model)
               .select_related("reviewed_by")}
    items = (case.policy_version.rules.due_diligence if case.policy_version is not None
             else list(DEFAULT_DUE_DILIGENCE))
    for item in items:
        answer, label = answers.get(item["key"]), item["label"]
        if answer is None:
            out.append(Blocker("vendor", f"diligence:{item['key']}",
                               f"Due diligence '{label}' is not answered: the owner answers it "
                               "with its evidence."))
        elif answer.review == DiligenceReview.PENDING:
            out.append(Blocker("vendor", f"diligence:{item['key']}",
                               f"Due diligence '{label}' awaits the validator's review."))
        elif answer.review == DiligenceReview.REJECTED:
            out.append(Blocker("vendor", f"diligence:{item['key']}",
                               f"Due diligence '{label}' was rejected by "
                               f"{answer.reviewed_by.username if answer.reviewed_by else '?'}: "
                               f"{answer.review_comment} The owner answers it again."))
    return out


def _policy_blockers(version: ModelVersion, case: Case) -> list[Blocker]:
    if case.policy_version is None:
        return [Blocker("policy", "policy", no_policy_message(version.model))]
    return []


def _validation_blockers(version: ModelVersion, case: Case) -> list[Blocker]:
    if version.state in DECIDED:
        return []
    review = ValidationReview.objects.filter(version=version).first()
    if review is not None and review.approves:
        if review.validator_id in case.author_ids:
            return [Blocker("validation", "independence",
                            f"The validator {review.validator.username} has since authored "
                            "this version, so the review is not independent: reject it and "
                            "have an independent validator review a new version.")]
        rules = case.rules
        if review.conditions and rules is not None and not rules.conditional_approval:
            # The tier was raised after the review (a tier override in flight).
            return [Blocker("validation", "conditions",
                            f"The review approved with conditions, which tier {case.tier} "
                            f"under {case.policy_version} does not allow: a signer rejects "
                            "the version, or it is approved without conditions in a new "
                            "validation.")]
        return []
    if case.validator_id is None:
        return [Blocker("validation", "validator", "A validator must be assigned.")]
    return [Blocker("validation", "review", "The validator has not concluded the review.")]


def latest_evidence(version: ModelVersion) -> dict[str, Evidence]:
    """The newest row per check, whether it counts or not (what was last recorded)."""
    latest: dict[str, Evidence] = {}
    for row in Evidence.objects.filter(version=version).select_related(
            "launched_by", "recorded_by").order_by("-recorded_at", "-id"):
        latest.setdefault(row.check_name, row)
    return latest


def is_exploratory(row: Evidence, case: Case) -> bool:
    """An Assay run launched by someone not independent of the version (its own developers,
    owner, submitter…): shown, never counting."""
    return row.origin == EvidenceOrigin.RUN and bool(
        launcher_conflict(row.launched_by or row.recorded_by, case))


def launcher_conflict(person: User | None, case: Case) -> str:
    """Why runs ``person`` launches on the version do not count ("" when they do): the one rule
    for the gate, the run page and the launch's audit event. Evidence they supplied does not
    count against them (a risk officer's own runs would otherwise never count); any other
    authorship of the version does."""
    return permissions.evidence_launcher_conflict(person,
                                                  replace(case, author_ids=case.builder_ids))


# ---------------------------------------------------------------------------------------------
# Evidence that decides (docs/evidence-gate.md): which rows count for a requirement, and whether
# the newest that counts meets it.

def short_digest(value: str) -> str:
    return f"{value[:12]}…" if value else "none"


def why_not_counting(row: Evidence, need: EvidenceRequirement, version: ModelVersion,
                     case: Case) -> str:
    """Why the row cannot satisfy the requirement: "" when it counts. A model with no ONNX form
    has its evidence bound to the predictions file it was computed on, not to an artifact."""
    if not version.model.has_onnx_form:
        if row.artifact_digest or not row.dataset_digests:
            return ("it was not computed on uploaded predictions (a model with no ONNX form is "
                    "judged on an outcomes analysis of its predictions)")
        return _origin_problem(row, need, case)
    if not version.artifact_sha256:
        return "the version has no artifact to bind evidence to"
    if not row.artifact_digest:
        return ("it names no artifact digest (recorded before evidence was bound to artifacts), "
                "so nothing says it was computed on this version's artifact")
    if row.artifact_digest != version.artifact_sha256:
        return (f"it was computed on another artifact ({short_digest(row.artifact_digest)}), "
                f"not this version's ({short_digest(version.artifact_sha256)})")
    return _origin_problem(row, need, case)


def _origin_problem(row: Evidence, need: EvidenceRequirement, case: Case) -> str:
    if row.origin == EvidenceOrigin.EXTERNAL:
        return "" if need.external_allowed else (
            "it comes from a tool outside Assay, and the policy does not accept external "
            f"evidence for '{need.check}'")
    return launcher_conflict(row.launched_by or row.recorded_by, case)


@dataclass(frozen=True)
class Standing:
    """Where one required-evidence item stands: the evidence it is judged on and why.

    ``evidence`` is the newest row of the check that counts for the item; when none counts, the
    newest row of the check, with ``why_not`` saying why it does not count. ``problem`` says
    what is missing or failing ("" when the item is met)."""

    requirement: EvidenceRequirement
    evidence: Evidence | None
    counts: bool
    why_not: str
    problem: str
    waived: bool = False
    # A check that needs the model's graph, for a model with no ONNX form, under a policy that
    # treats it as not applicable (policy.GRAPH_CHECKS): shown as such, never as passed.
    not_applicable: bool = False

    @property
    def met(self) -> bool:
        """Met by evidence (a not-applicable item is not met: it is shown as such)."""
        return not self.problem and not self.not_applicable

    @property
    def value(self) -> Any:
        metric = self.requirement.metric
        if self.evidence is None or not metric:
            return None
        return self.evidence.figures.get(metric) if isinstance(self.evidence.figures,
                                                               dict) else None


def _problem(need: EvidenceRequirement, counting: Evidence | None, newest: Evidence | None,
             why_not: str) -> str:
    if counting is None:
        if newest is None:
            return f"Required evidence '{need.describe()}' is missing."
        return (f"Required evidence '{need.describe()}' is missing: no '{need.check}' evidence "
                f"counts; the newest does not because {why_not}.")
    if counting.status == EvidenceStatus.FAILED:
        return f"Check '{need.check}' failed."
    figure = need.figure_problem(counting.figures)
    if not figure:
        return ""
    value = counting.figures.get(need.metric) if isinstance(counting.figures, dict) else None
    if need.metric in counting.figures and isinstance(value, int | float) \
            and not isinstance(value, bool):
        return (f"Check '{need.check}' reports {need.metric} = {value}, which misses "
                f"{need.comparator} {need.threshold}.")
    return (f"Check '{need.check}' cannot be judged against {need.metric} {need.comparator} "
            f"{need.threshold}: {figure}, so it counts as missed.")


def evidence_standings(version: ModelVersion, case: Case | None = None) -> list[Standing]:
    """Each required-evidence item of the version's tier (for its model's task), and where it
    stands: the Required evidence table, and the source of the evidence blockers and warnings."""
    case = case or case_for(version)
    rules = case.rules
    if rules is None:
        return []
    # A minor change (as classified now) is held to the reduced scope its policy names.
    needs = [n for n in rules.evidence_for(case.change_class) if n.applies_to(case.task)]
    if not needs:
        return []
    rows = list(Evidence.objects.filter(version=version, check_name__in={n.check for n in needs})
                .select_related("launched_by", "recorded_by").order_by("-recorded_at", "-id"))
    waived = waived_keys(version)
    out = []
    no_graph = not version.model.has_onnx_form and need_graph_treatment(case) != BLOCK
    for need in needs:
        if no_graph and need.check in GRAPH_CHECKS:
            out.append(Standing(requirement=need, evidence=None, counts=False,
                                why_not=NOT_APPLICABLE_WHY, problem="", not_applicable=True))
            continue
        of_check = [r for r in rows if r.check_name == need.check]
        counting = next((r for r in of_check if not why_not_counting(r, need, version, case)),
                        None)
        newest = of_check[0] if of_check else None
        shown = counting or newest
        why_not = why_not_counting(newest, need, version, case) if counting is None and newest \
            else ""
        out.append(Standing(requirement=need, evidence=shown, counts=counting is not None,
                            why_not=why_not, problem=_problem(need, counting, newest, why_not),
                            waived=("evidence", need.check) in waived))
    return out


NOT_APPLICABLE_WHY = ("not applicable without an artifact: the check runs the model's graph, "
                      "and this model has no ONNX form")


def need_graph_treatment(case: Case) -> str:
    """How the case's policy treats a required graph check for a model with no ONNX form."""
    if case.policy_version is None:
        return "not_applicable"
    return case.policy_version.rules.graph_checks_without_artifact


def _evidence_items(standings: list[Standing], *, warnings: bool) -> list[Blocker]:
    """One item per check, joining what each of its missed requirements says."""
    problems: dict[str, list[str]] = {}
    for standing in standings:
        if standing.problem and standing.requirement.warns_only == warnings:
            problems.setdefault(standing.requirement.check, []).append(standing.problem)
    return [Blocker("evidence", check, " ".join(dict.fromkeys(messages)))
            for check, messages in problems.items()]


def _evidence_blockers(version: ModelVersion, case: Case) -> list[Blocker]:
    return _evidence_items(evidence_standings(version, case), warnings=False)


def evidence_warnings(version: ModelVersion, case: Case | None = None,
                      standings: list[Standing] | None = None) -> list[Blocker]:
    """Required evidence of level "warn" that is missed: shown wherever blockers are, blocking
    nothing (``standings``: the version's, when already computed)."""
    if standings is None:
        standings = evidence_standings(version, case)
    return _evidence_items(standings, warnings=True)


@dataclass(frozen=True)
class CheckVerdict:
    """What the version's bound policy makes of a check's figures, before they are recorded."""

    status: str
    reasons: tuple[str, ...] = ()


def check_verdict(version: ModelVersion, check: str, figures: dict[str, Any],
                  case: Case | None = None) -> CheckVerdict:
    """Judge one check's figures against the thresholds the version's policy sets for it: the
    status an evaluation run records as evidence. Fails closed: a thresholded metric that is
    missing, null, NaN or not a number fails it. ``failed`` when an item of level "block" is
    missed, else ``warn`` when an item of level "warn" is, else ``passed``; a check the policy
    does not name passes."""
    case = case or case_for(version)
    rules = case.rules
    if rules is None:
        return CheckVerdict(EvidenceStatus.PASSED)
    blocking: list[str] = []
    warning: list[str] = []
    for need in rules.required_evidence:
        if need.check != check or not need.applies_to(case.task):
            continue
        problem = need.figure_problem(figures)
        if problem:
            (warning if need.warns_only else blocking).append(
                f"{problem} (warning only)" if need.warns_only else problem)
    status = EvidenceStatus.FAILED if blocking else EvidenceStatus.WARN if warning \
        else EvidenceStatus.PASSED
    return CheckVerdict(status, tuple(blocking + warning))


def _signoff_blockers(version: ModelVersion, case: Case) -> list[Blocker]:
    if version.state in DECIDED:
        return []
    have = signoff_counts(version)
    out = []
    for role, needed in case.required_roles.items():
        got = have.get(role, 0)
        if got < needed:
            out.append(Blocker("signoff", role, f"{needed - got} more sign-off(s) from a "
                                                f"{Role(role).label.lower()} (of {needed})."))
    return out


def signoff_counts(version: ModelVersion) -> dict[str, int]:
    """Approving signatures per role that count: standing (not restarted by a tier change), by
    signers who have not since authored the version (e.g. recorded evidence after signing)."""
    counts: dict[str, int] = {}
    for role in (version.signoffs.standing().filter(decision="approve")
                 .exclude(signer_id__in=version.authors.values("user_id"))
                 .values_list("role", flat=True)):
        counts[role] = counts.get(role, 0) + 1
    return counts


def _materiality_blockers(version: ModelVersion, case: Case) -> list[Blocker]:
    """A declared minor change takes the reduced scope only once the validator confirms it: until
    then it stops the validation from concluding. (A major change has the full scope anyway.)"""
    if version.state in DECIDED or version.change_class != "minor" \
            or case.change_class_confirmed:
        return []
    return [Blocker("materiality", "change_class",
                    "The version declares a minor change: the validator must confirm it (minor "
                    "keeps the reduced revalidation scope) or reclassify it as major (the full "
                    "scope) before the validation concludes.")]


def _finding_blockers(version: ModelVersion, case: Case) -> list[Blocker]:
    """Unresolved high-severity findings (open, or remediation proposed but not yet closed)."""
    return [Blocker("finding", str(f.pk), f"High finding F-{f.pk} '{f.title}' is "
                                          f"{f.get_status_display().lower()}: it must be closed, "
                                          "accepted as a risk, or waived.")
            for f in Finding.objects.filter(version=version).open_high().order_by("pk")]


BlockerSource = Callable[[ModelVersion, Case], list[Blocker]]
BLOCKER_SOURCES: list[BlockerSource] = [
    _intake_blockers, _artifact_blockers, _documentation_blockers, _policy_blockers,
    _validation_blockers, _evidence_blockers, _materiality_blockers, _vendor_blockers,
    _finding_blockers, _signoff_blockers,
]
# Only these kinds may be waived: a finding, or a missing or failing evidence check.
WAIVABLE_KINDS = frozenset({"finding", "evidence"})


def waived_keys(version: ModelVersion) -> set[tuple[str, str]]:
    """(kind, key) of every blocker an active, unexpired waiver covers."""
    return {(w.blocker_kind, w.blocker_key) for w in Waiver.objects.filter(version=version)
            .in_force().only("finding_id", "check_name")}


def is_waived(version: ModelVersion, blocker: Blocker,
              waived: set[tuple[str, str]] | None = None) -> bool:
    """Whether an active waiver covers the item."""
    if blocker.kind not in WAIVABLE_KINDS:
        return False
    waived = waived_keys(version) if waived is None else waived
    return (blocker.kind, blocker.key) in waived


def blocking_items(version: ModelVersion, case: Case | None = None) -> list[Blocker]:
    """Everything that still stands between the version and its approval, unless waived."""
    case = case or case_for(version)
    items = [b for source in BLOCKER_SOURCES for b in source(version, case)]
    waived = waived_keys(version)
    return [b for b in items if not is_waived(version, b, waived)]


def workable_versions(user: Any) -> QuerySet[ModelVersion]:
    """Versions the user may see, plus — for validators — the open queue they may take from."""
    visible = Q(pk__in=ModelVersion.objects.visible_to(user).values("pk"))
    if permissions.is_authenticated(user) and user.has_role(Role.VALIDATOR):
        visible |= Q(pk__in=VersionGovernance.objects.open_queue().values("version_id"))
    return ModelVersion.objects.filter(visible).select_related("model")
