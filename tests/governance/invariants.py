"""The approval invariant of issue 11, written once, with an oracle of its own.

For every approved version:

1. its validator is not among its authors, nor in the model's team where the bound policy
   excludes the team at its tier;
2. the sign-off quorum of the tier it was submitted under (or that a four-eyes tier override
   moved it to while in flight) is met by approving signatures given since the last tier change,
   counting only signers who are independent of it: not an author, not its validator, not a
   risk officer who granted it a waiver, and not in the model's team where the bound policy
   excludes the team at that tier;
3. every change of its tier while it was in flight had a second person: the risk officer who
   approved the override is not the one who asked for it, and no re-answered intake changed the
   tier in force while it was in flight.

"Authors" are whoever created the version, uploaded its artifact, edited its documentation
(its own fields; the model's fields and vendor documents while it was undecided) or recorded
evidence for it (recorded it, or launched the run that did) other than its validator at the time.

The oracle reads the audit trail (events in order) and a few rows (users' teams, the bound
policy's definition as stored). It does not call governance.gates, core.permissions or any
service, nor read registry.VersionAuthor: those are what it checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.models import AuditEvent, User
from governance.models import PolicyVersion
from registry.models import ModelVersion

DECIDED = {"approved", "rejected", "suspended", "retired"}
IN_FLIGHT = {"submitted", "in_validation", "changes_requested", "pending_approval"}


@dataclass
class Reading:
    """What the trail says about one version, up to its approval."""

    version: ModelVersion
    state: str = "draft"
    authors: set[int] = field(default_factory=set)
    # Authors for more than the evidence they supplied (whose own runs may still count).
    builders: set[int] = field(default_factory=set)
    validators: set[int] = field(default_factory=set)
    current_validator: int | None = None
    waiver_granters: set[int] = field(default_factory=set)
    tier: int | None = None
    policy_version_id: int | None = None
    # (signer id, role, decision) since the last tier change
    signatures: list[tuple[int, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    approved_at_tier: int | None = None
    approved: bool = False


def _user_id(username: str | None) -> int | None:
    if not username:
        return None
    return User.objects.filter(username=username).values_list("pk", flat=True).first()


def read_version(version: ModelVersion) -> Reading:
    """Replay the model's events and read what concerns ``version`` until it is approved."""
    r = Reading(version=version)
    number, vid = version.number, str(version.pk)
    overrides_requested_by: dict[str, int | None] = {}
    overrides_decided_by: dict[str, int | None] = {}
    created = False
    events = AuditEvent.objects.filter(model_id=version.model_id).order_by("seq")
    for e in events:
        a, p = e.action, e.payload or {}
        mine = e.object_type == "registry.modelversion" and e.object_id == vid
        about_mine = p.get("version") == number and e.object_type.startswith("governance.")
        if mine and a == "version.create":
            created = True
            r.authors.add(e.actor_id)
            r.builders.add(e.actor_id)
        elif (mine and a in ("version.artifact_upload", "version.update")) or (
                a in ("model.update", "model.vendor_document_add") and created
                and r.state not in DECIDED):
            r.authors.add(e.actor_id)
            r.builders.add(e.actor_id)
        elif a == "evidence.record" and about_mine:
            # Supplied by whoever recorded it, or for a run's evidence (recorded by Assay) by
            # whoever launched the run.
            supplier = e.actor_id if e.actor_id is not None else _user_id(p.get("launched_by"))
            if supplier is not None and supplier != r.current_validator:
                r.authors.add(supplier)
        elif a == "waiver.grant" and about_mine:
            r.waiver_granters.add(e.actor_id)
        elif a == "signoff.record" and about_mine:
            r.signatures.append((e.actor_id, p["role"], p["decision"]))
        elif a == "intake.override_request":
            overrides_requested_by[e.object_id] = e.actor_id
        elif a == "intake.override_approve":
            overrides_decided_by[e.object_id] = e.actor_id
        elif a == "intake.record" and r.state in IN_FLIGHT:
            tier = p.get("tier") or {}
            if tier.get("before") != tier.get("after"):
                r.problems.append(f"#{e.seq}: {e.actor_username} re-answered the intake while "
                                  f"v{number} was {r.state}, changing the tier {tier}")
        elif mine and a == "version.tier_change":
            oid = str(p.get("override_id"))
            asked, decided = overrides_requested_by.get(oid), overrides_decided_by.get(oid)
            if decided is None or decided != e.actor_id:
                r.problems.append(f"#{e.seq}: tier change without an approved override")
            if asked is None or asked == e.actor_id:
                r.problems.append(f"#{e.seq}: {e.actor_username} changed the tier of "
                                  f"v{number} on an override they asked for themselves")
            r.tier = (p.get("tier") or {}).get("after")
            r.signatures = []
        elif mine and a.startswith("version.") and "to" in p:
            if a in ("version.submit", "version.resubmit") and r.tier is None:
                r.tier, r.policy_version_id = p.get("tier"), p.get("policy_version_id")
            if a == "version.start_validation" and p.get("validator"):
                r.current_validator = _user_id(p["validator"])
                r.validators.add(r.current_validator)
            if a == "version.conclude_validation":
                r.validators.add(e.actor_id)
            if a == "version.approve":
                r.approved, r.approved_at_tier = True, p.get("tier")
                if p.get("policy_version_id") != r.policy_version_id:
                    r.problems.append(f"#{e.seq}: approved under another policy version")
                r.state = p["to"]
                break
            r.state = p["to"]
    return r


def violations(version: ModelVersion) -> list[str]:
    """Everything wrong with an approved version, as the oracle sees it ([] when sound)."""
    r = read_version(version)
    if not r.approved:
        return []
    out = list(r.problems)
    if r.approved_at_tier != r.tier:
        out.append(f"approved at tier {r.approved_at_tier}, but submitted (or moved with four "
                   f"eyes) to tier {r.tier}")
    authors_validating = r.validators & r.authors
    if authors_validating:
        out.append(f"validated by an author: {sorted(authors_validating)}")
    definition = PolicyVersion.objects.get(pk=r.policy_version_id).definition
    tier_rules = definition["tiers"][str(r.tier)]
    team_excluded = tier_rules.get("exclude_model_team", r.tier <= 2)
    model = version.model
    team = set(User.objects.filter(teams=model.team_id).values_list("pk", flat=True)) \
        if team_excluded else set()
    if r.validators & team:
        out.append(f"tier {r.tier} excludes the model's team, yet a team member validated it: "
                   f"{sorted(r.validators & team)}")
    not_independent = (r.authors | r.validators | r.waiver_granters | team
                       | {model.owner_id} | set(model.developers.values_list("pk", flat=True)))
    counted: dict[str, int] = {}
    for signer, role, decision in r.signatures:
        if decision == "reject":
            out.append("approved although a signer rejected it")
        if signer in r.validators or signer in r.waiver_granters:
            out.append(f"signed by its validator or a waiver's granter: {signer}")
        if decision == "approve" and signer not in not_independent:
            counted[role] = counted.get(role, 0) + 1
    for role, needed in tier_rules["signoffs"].items():
        if counted.get(role, 0) < needed:
            out.append(f"tier {r.tier} needs {needed} independent {role} sign-off(s); "
                       f"{counted.get(role, 0)} counted")
    return out


def assert_every_approval_sound() -> None:
    """The invariant over every version that reached approval."""
    approved = AuditEvent.objects.filter(action="version.approve",
                                         object_type="registry.modelversion")
    for object_id in approved.values_list("object_id", flat=True):
        version = ModelVersion.objects.select_related("model").get(pk=int(object_id))
        problems = violations(version)
        assert not problems, f"{version}: " + "; ".join(problems)
