"""Every permission rule of Assay, as predicates on a user and an object.

Views, the REST API (core.api.permissions), the admin and templates (the ``can`` template filter)
all ask these functions, so a rule is written once. Objects are typed by what the rules read of
them (the Protocols below), so that ``core`` imports no app above it: a registered model and a
version's governance facts (``governance.gates.Case``) are ``Governed``; the user asking is an
``Actor`` once signed in (``core.models.User``, which is also DRF's ``request.user``).

Visibility: data scientists and validators see their teams' objects plus what they own, develop or
are assigned to; review board members, risk officers, auditors, deployers and administrators see
everything. Deployers read the whole inventory (they pick approved versions of any team's model
and must see why one is not servable) and change nothing in it: they hold no writing role.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Set
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias, TypeGuard

from core.models import Role, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from typing_extensions import TypeIs

SEES_EVERYTHING = (Role.REVIEW_BOARD, Role.RISK_OFFICER, Role.AUDITOR, Role.DEPLOYER, Role.ADMIN)
DEPLOYING_ROLES = (Role.DEPLOYER, Role.ADMIN)
WRITER_ROLES = (Role.DATA_SCIENTIST, Role.VALIDATOR, Role.REVIEW_BOARD, Role.RISK_OFFICER, Role.ADMIN)


class Person(Protocol):
    """Someone a rule is about, such as the validator to assign."""

    @property
    def pk(self) -> int: ...

    @property
    def username(self) -> str: ...

    @property
    def team_ids(self) -> Set[int]: ...


class Actor(Person, Protocol):
    """A signed-in user as the rules read them (``core.models.User``)."""

    @property
    def is_authenticated(self) -> bool: ...

    @property
    def is_active(self) -> bool: ...

    def has_role(self, *roles: str) -> bool: ...


# Whoever asks: a page or the API may ask for an anonymous visitor (Django's AnonymousUser), and
# a template may have no user at all. Each predicate answers False (or a refusal) for them.
Visitor: TypeAlias = "Actor | AnonymousUser | None"


class Governed(Protocol):
    """An object whose visibility follows its team and its people: a registered model, or a
    version's governance facts (``governance.gates.Case``)."""

    @property
    def team_id(self) -> int: ...

    @property
    def owner_id(self) -> int: ...

    @property
    def developer_ids(self) -> Set[int]: ...

    @property
    def assignee_ids(self) -> Set[int]: ...


class CaseLike(Governed, Protocol):
    """A version's governance facts (``governance.gates.Case``): who submitted, validates and
    signed it, and the sign-offs its tier needs (role -> how many)."""

    @property
    def submitter_id(self) -> int | None: ...

    @property
    def validator_id(self) -> int | None: ...

    @property
    def signer_ids(self) -> Set[int]: ...

    @property
    def required_roles(self) -> Mapping[str, int]: ...


def is_authenticated(user: Visitor) -> TypeIs[Actor]:
    return bool(user is not None and user.is_authenticated and user.is_active)


def sees_everything(user: Visitor) -> bool:
    return is_authenticated(user) and user.has_role(*SEES_EVERYTHING)


def is_admin(user: Visitor) -> bool:
    return is_authenticated(user) and user.has_role(Role.ADMIN)


def is_auditor_only(user: Visitor) -> bool:
    """Auditors read everything and change nothing, unless they also hold a writing role."""
    return is_authenticated(user) and user.has_role(Role.AUDITOR) and not user.has_role(*WRITER_ROLES)


def is_connected(user: Person, obj: Governed) -> bool:
    """The user owns or develops the object, or is assigned to it."""
    uid = user.pk
    return (
        getattr(obj, "owner_id", None) == uid
        or uid in getattr(obj, "developer_ids", ())
        or uid in getattr(obj, "assignee_ids", ())
    )


def can_view(user: Visitor, obj: Governed) -> TypeGuard[Actor]:
    """Whether the object exists for this user at all (if not: 404). Only a signed-in user sees
    anything, so the rules after it read the user as an ``Actor``."""
    if not is_authenticated(user):
        return False
    if sees_everything(user):
        return True
    return getattr(obj, "team_id", None) in user.team_ids or is_connected(user, obj)


def can_create_model(user: Visitor, team: Team | None = None) -> bool:
    if not is_authenticated(user):
        return False
    if is_admin(user):
        return True
    if not user.has_role(Role.DATA_SCIENTIST):
        return False
    return team is None or team.pk in user.team_ids


def can_edit_model(user: Visitor, model: Governed) -> bool:
    """Data scientists of the model's team (or its owner/developers) and administrators.

    Being assigned to a model (to validate it) grants reading and validating, never editing:
    an assigned validator who also holds the data-scientist role is not the model's developer.
    """
    if not can_view(user, model):
        return False
    if is_admin(user):
        return True
    uid = user.pk
    return user.has_role(Role.DATA_SCIENTIST) and (
        model.team_id in user.team_ids or getattr(model, "owner_id", None) == uid
        or uid in getattr(model, "developer_ids", ())
    )


def can_develop(person: Actor, team_id: int) -> bool:
    """Whether ``person`` may be named a developer of a model of the team ``team_id``: an active
    data scientist of that team (the developer picker offers only them)."""
    return (person.is_active and person.has_role(Role.DATA_SCIENTIST)
            and team_id in person.team_ids)


def can_read_audit(user: Visitor) -> bool:
    """Auditors, administrators and risk officers (who answer for the model risk function) read
    the audit trail; exports stay with auditors and administrators."""
    return is_authenticated(user) and user.has_role(Role.AUDITOR, Role.ADMIN, Role.RISK_OFFICER)


def can_export_audit(user: Visitor) -> bool:
    return is_authenticated(user) and user.has_role(Role.AUDITOR, Role.ADMIN)


def can_manage_accounts(user: Visitor) -> bool:
    return is_admin(user)


def can_manage_app_keys(user: Visitor) -> bool:
    """Deployers and administrators create and revoke the serving gateway's application keys."""
    return is_authenticated(user) and user.has_role(Role.DEPLOYER, Role.ADMIN)


def can_use_admin(user: Visitor) -> bool:
    """Administrators manage; auditors may open the admin read-only."""
    return is_authenticated(user) and user.has_role(Role.ADMIN, Role.AUDITOR)


def reason_cannot_edit_model(user: Visitor, model: Governed) -> str:
    if is_auditor_only(user):
        return "Auditors have read-only access: they can read and export but not change models."
    return (
        "Only data scientists of the model's team, its owner and developers, and administrators "
        "can change this model."
    )


# ---------------------------------------------------------------------------------------------
# Governance: intake and tier, the version lifecycle, independent validation and sign-offs.
#
# ``case`` is a version's governance facts (governance.gates.Case): ``state``, ``team_id``,
# ``owner_id``, ``developer_ids``, ``assignee_ids``, ``submitter_id``, ``validator_id``,
# ``signer_ids`` and ``required_roles`` (role -> how many signatures the tier needs).
#
# The ``reason_*`` predicates answer "" when allowed, else a ``Refusal``: the message (a str, so
# callers use it as text) and a code naming the kind of refusal. The audit trail folds a flood of
# refusals per code, so like is grouped with like.


class Refusal(str):
    """Why something is refused (the text a user reads) and a code for its kind."""

    code: str

    def __new__(cls, message: str, code: str) -> Refusal:
        refusal = super().__new__(cls, message)
        refusal.code = code
        return refusal


# What a ``reason_*`` predicate answers: a Refusal, or "" when allowed.
Reason: TypeAlias = "Refusal | Literal['']"


NOT_SIGNED_IN = "not_signed_in"
WRONG_ROLE = "wrong_role"
READ_ONLY = "read_only"
NOT_INDEPENDENT = "not_independent"
NOT_ASSIGNED = "not_assigned"
ALREADY_SIGNED = "already_signed"
OWN_REQUEST = "own_request"
NOT_MODEL_TEAM = "not_model_team"
IN_FLIGHT = "in_flight"
NOT_A_SIGNER = "not_a_signer"
WRONG_PASSWORD = "wrong_password"  # noqa: S105 (a refusal code, not a password)
THROTTLED = "throttled"
OWN_DRAFT = "own_draft"

def can_create_data_source(user: Visitor) -> bool:
    """Anyone who registers or governs models records the data sources they use (auditors and
    deployers read them)."""
    return is_authenticated(user) and user.has_role(Role.DATA_SCIENTIST, Role.RISK_OFFICER,
                                                    Role.ADMIN)


def can_edit_data_source(user: Visitor, owner_id: int) -> bool:
    """A data source's owner, risk officers and administrators change or delete it."""
    return is_authenticated(user) and (
        user.pk == owner_id or user.has_role(Role.RISK_OFFICER, Role.ADMIN))


def can_manage_policies(user: Visitor) -> bool:
    """Administrators and risk officers draft policy versions and approve others' drafts."""
    return is_authenticated(user) and user.has_role(Role.ADMIN, Role.RISK_OFFICER)


def can_approve_policy(user: Visitor, drafted_by: Person | None) -> bool:
    """Four-eyes: a policy version becomes current only by someone who did not draft it."""
    return is_authenticated(user) and can_manage_policies(user) and (
        drafted_by is None or drafted_by.pk != user.pk)


def can_edit_intake(user: Visitor, model: Governed) -> bool:
    """The model's editors answer the intake; risk officers may correct it."""
    return can_edit_model(user, model) or (
        can_view(user, model) and user.has_role(Role.RISK_OFFICER))


def reason_cannot_decide_tier_override(user: Visitor, model: Governed, requester_id: int | None,
                                        former_ids: Set[int] = frozenset()) -> Reason:
    """A tier override needs a risk officer's sign-off: not the model's own people now or at any
    submission of its versions (``former_ids``), nor the person who asked for it (four eyes)."""
    if not (is_authenticated(user) and user.has_role(Role.RISK_OFFICER)):
        return Refusal("Only a risk officer can approve or reject a tier override.", WRONG_ROLE)
    if user.pk in former_ids:
        return Refusal("You owned, developed or submitted this model's versions; another risk "
                       "officer must decide its tier.", NOT_INDEPENDENT)
    if model.owner_id == user.pk or user.pk in model.developer_ids:
        return Refusal("You own or develop this model; another risk officer must decide its "
                       "tier.", NOT_INDEPENDENT)
    if requester_id == user.pk:
        return Refusal("You asked for this override; another risk officer must approve it.",
                       OWN_REQUEST)
    return ""


# The kinds of tie ``ties`` names; a version's developers, for deployments, are these three.
DEVELOPER_TIES = frozenset({"developer", "developer_at_submission", "author"})


def ties(person: Person, case: CaseLike) -> Iterator[tuple[str, str]]:
    """Every tie of a person to the version, in order of weight: (kind, what it is in words,
    "own this model", ...).

    The model's people now, and those recorded at the version's submissions (``case.
    owners_at_submission``, ``developers_at_submission``, ``submitters``), so that editing the
    owner or developer list while a version is in flight cannot make anyone independent of it;
    the version's authors (``case.author_ids``: who created it, uploaded its artifact or
    evidence, or edited its documentation); and, where the tier's policy says so
    (``case.team_excluded``), every member of the model's team.
    """
    if case.owner_id == person.pk:
        yield "owner", "own this model"
    if person.pk in case.developer_ids:
        yield "developer", "develop this model"
    if case.submitter_id == person.pk or person.pk in getattr(case, "submitters", ()):
        yield "submitter", "submitted this version"
    if person.pk in getattr(case, "owners_at_submission", ()):
        yield "owner_at_submission", "owned this model when this version was submitted"
    if person.pk in getattr(case, "developers_at_submission", ()):
        yield ("developer_at_submission",
               "developed this model when this version was submitted")
    if person.pk in getattr(case, "author_ids", ()):
        yield "author", ("authored this version (created it, uploaded its artifact or evidence, "
                         "or edited its documentation)")
    if getattr(case, "team_excluded", False) and case.team_id in person.team_ids:
        yield "team", ("are in the model's team, which the policy keeps out of validating and "
                       "signing off this tier")


def independence_conflict(person: Person, case: CaseLike) -> str:
    """What ties a person to the version ("own this model", ...); empty when independent
    (every tie of ``ties`` counts)."""
    return next((text for _, text in ties(person, case)), "")


def reason_not_independent(user: Person, case: CaseLike) -> Reason:
    """Why the user is not independent of the version (empty when independent)."""
    conflict = independence_conflict(user, case)
    return Refusal(f"You {conflict}, so you are not independent of it.",
                   NOT_INDEPENDENT) if conflict else ""


def can_submit_version(user: Visitor, case: CaseLike) -> bool:
    return can_edit_model(user, case)


def reason_cannot_assign_validator(user: Visitor, case: CaseLike, validator: Person) -> Reason:
    """Risk officers assign any independent validator; a validator may take the version
    themselves (open queue). Whether the named person is an active validator at all is a question
    of input, answered by the service (400), not a refusal of the caller."""
    if not is_authenticated(user):
        return Refusal("Sign in first.", NOT_SIGNED_IN)
    if not user.has_role(Role.RISK_OFFICER) and not (
            user.pk == validator.pk and user.has_role(Role.VALIDATOR)):
        return Refusal("Only risk officers assign validators; validators may assign themselves "
                       "from the open queue.", WRONG_ROLE)
    conflict = independence_conflict(validator, case)
    if conflict:
        return Refusal(f"{validator.username} cannot validate this version: they {conflict}, "
                       "so they are not independent of it.", NOT_INDEPENDENT)
    return ""


def can_assign_validator(user: Visitor, case: CaseLike) -> bool:
    return is_authenticated(user) and (
        user.has_role(Role.RISK_OFFICER)
        or (user.has_role(Role.VALIDATOR) and not reason_not_independent(user, case)))


def can_start_validation(user: Visitor, case: CaseLike) -> bool:
    """The assigned validator (still independent), or a risk officer, starts the validation of a
    submitted version that has a validator (a resubmission goes back to the same validator)."""
    if not is_authenticated(user):
        return False
    if user.has_role(Role.RISK_OFFICER):
        return True
    return (user.pk == case.validator_id and user.has_role(Role.VALIDATOR)
            and not reason_not_independent(user, case))


def reason_cannot_review(user: Visitor, case: CaseLike) -> Reason:
    if not (is_authenticated(user) and user.has_role(Role.VALIDATOR)):
        return Refusal("Only validators write validation reviews.", WRONG_ROLE)
    if case.validator_id != user.pk:
        return Refusal("Only the validator assigned to this version can review it.", NOT_ASSIGNED)
    return reason_not_independent(user, case)


def can_review(user: Visitor, case: CaseLike) -> bool:
    return not reason_cannot_review(user, case)


def signing_roles(user: Visitor, case: CaseLike) -> list[str]:
    """The required roles this user holds and could sign in."""
    if not is_authenticated(user):
        return []
    return [role for role in case.required_roles if user.has_role(role)]


def reason_cannot_sign_off(user: Visitor, case: CaseLike) -> Reason:
    """Segregation of duties for sign-offs (empty when the user may sign)."""
    if not is_authenticated(user):
        return Refusal("Sign in first.", NOT_SIGNED_IN)
    if not signing_roles(user, case):
        needed = ", ".join(Role(r).label.lower() for r in case.required_roles) or "nobody"
        return Refusal(f"This version's tier needs sign-offs from: {needed}; you hold none of "
                       "these roles.", WRONG_ROLE)
    if user.pk in case.signer_ids:
        return Refusal("You have already signed this version; nobody signs twice.", ALREADY_SIGNED)
    if case.validator_id == user.pk:
        return Refusal("You validated this version; a validator cannot also sign it off.",
                       NOT_INDEPENDENT)
    if user.pk in getattr(case, "waiver_granter_ids", ()):
        return Refusal("You granted a waiver on this version, which let it past a block; "
                       "another person must sign it off.", NOT_INDEPENDENT)
    return reason_not_independent(user, case)


def can_sign_off(user: Visitor, case: CaseLike) -> bool:
    return not reason_cannot_sign_off(user, case)


def can_decide_servability(user: Visitor, case: CaseLike) -> bool:
    """Suspending and reinstating an approved version is a risk officer's call."""
    return is_authenticated(user) and user.has_role(Role.RISK_OFFICER)


def reason_cannot_reinstate(user: Visitor, case: CaseLike) -> Reason:
    """Reinstating puts a suspended version back into service, a decision like the final
    sign-off: a risk officer who granted a waiver on the version (which may be what clears its
    block) cannot also reinstate it, or one person would waive and approve alone."""
    if not is_authenticated(user) or not can_decide_servability(user, case):
        return Refusal("Only risk officers suspend or reinstate an approved version.", WRONG_ROLE)
    if user.pk in getattr(case, "waiver_granter_ids", ()):
        return Refusal("You granted a waiver on this version; another risk officer must "
                       "reinstate it (who waives a block does not also put the version back "
                       "into service).", NOT_INDEPENDENT)
    return ""


def can_retire(user: Visitor, case: CaseLike) -> bool:
    return is_authenticated(user) and (
        user.has_role(Role.RISK_OFFICER) or case.owner_id == user.pk)


def can_record_evidence(user: Visitor, case: CaseLike) -> bool:
    """The model's team (evaluations they launch), its validator and risk officers."""
    if not is_authenticated(user) or is_auditor_only(user):
        return False
    return (can_edit_model(user, case) or case.validator_id == user.pk
            or user.has_role(Role.RISK_OFFICER, Role.ADMIN))


# ---------------------------------------------------------------------------------------------
# Governance part 2: findings and effective challenge, waivers, periodic review, the board.
#
# ``case`` is again a version's governance facts (governance.gates.Case). A finding's own people
# are passed as ids: ``finding_owner_id`` (who must answer), ``raised_by_id`` (who raised it).

def reason_cannot_raise_finding(user: Visitor, case: CaseLike) -> Reason:
    """Validators and risk officers raise findings, if independent of the version."""
    if not (is_authenticated(user) and user.has_role(Role.VALIDATOR, Role.RISK_OFFICER)):
        return Refusal("Only validators and risk officers raise findings.", WRONG_ROLE)
    return reason_not_independent(user, case)


def reason_cannot_answer_finding(user: Visitor, case: CaseLike, finding_owner_id: int) -> Reason:
    """The finding's owner answers it; the model's owner and developers may answer for them."""
    if not is_authenticated(user) or is_auditor_only(user):
        return Refusal("Auditors have read-only access.", READ_ONLY)
    if user.pk == finding_owner_id or case.owner_id == user.pk or user.pk in case.developer_ids:
        return ""
    return Refusal("Only the finding's owner and the model's owner and developers propose a "
                   "remediation.", WRONG_ROLE)


def reason_cannot_close_finding(user: Visitor, case: CaseLike, raised_by_id: int | None) -> Reason:
    """Closing (or sending back) a remediation is the validator's call: the version's validator
    or the validator who raised the finding, independent of the model."""
    if not (is_authenticated(user) and user.has_role(Role.VALIDATOR)):
        return Refusal("Only validators close findings or send a remediation back.", WRONG_ROLE)
    if user.pk not in (case.validator_id, raised_by_id):
        return Refusal("Only the version's validator or the validator who raised the finding "
                       "closes it.", NOT_ASSIGNED)
    return reason_not_independent(user, case)


def reason_cannot_accept_risk(user: Visitor, case: CaseLike) -> Reason:
    """Accepting a finding as a risk is a risk officer's decision, not the model's own people's."""
    if not (is_authenticated(user) and user.has_role(Role.RISK_OFFICER)):
        return Refusal("Only a risk officer accepts a finding as a risk.", WRONG_ROLE)
    return reason_not_independent(user, case)


def can_discuss_finding(user: Visitor, case: CaseLike) -> bool:
    """Everyone who sees the version may take part in the discussion, except read-only auditors."""
    return is_authenticated(user) and not is_auditor_only(user) and can_view(user, case)


def reason_cannot_grant_waiver(user: Visitor, case: CaseLike) -> Reason:
    """A waiver's approver is a risk officer independent of the version and not one of its
    standing signers: granting may clear the last block and complete the approval, and whoever
    grants a waiver on a version may not sign it off (reason_cannot_sign_off)."""
    if not (is_authenticated(user) and user.has_role(Role.RISK_OFFICER)):
        return Refusal("Only a risk officer grants waivers.", WRONG_ROLE)
    if user.pk in case.signer_ids:
        return Refusal("You signed this version off; another risk officer must grant its "
                       "waivers (a waiver may complete the approval).", NOT_INDEPENDENT)
    return reason_not_independent(user, case)


def can_revoke_waiver(user: Visitor, case: CaseLike) -> bool:
    return is_authenticated(user) and user.has_role(Role.RISK_OFFICER)


def reason_cannot_review_periodically(user: Visitor, case: CaseLike) -> Reason:
    """Periodic reviews are validations: by a validator independent of the version."""
    if not (is_authenticated(user) and user.has_role(Role.VALIDATOR)):
        return Refusal("Only validators conclude periodic reviews.", WRONG_ROLE)
    return reason_not_independent(user, case)


def reason_cannot_attest_model(user: Visitor, model: Governed) -> Reason:
    """Owners attest their own models (issue 18): the entry is complete, the model used as
    approved and within its conditions. Nobody attests for them."""
    if not is_authenticated(user):
        return Refusal("Sign in first.", NOT_SIGNED_IN)
    if model.owner_id != user.pk:
        return Refusal("Only the model's owner attests its inventory entry and its use; ask the "
                       "owner, or have the model transferred to you first.", WRONG_ROLE)
    return ""


def can_import_inventory(user: Visitor) -> bool:
    """Bulk onboarding (issue 18): administrators import an existing inventory from CSV."""
    return is_admin(user)


def can_view_board(user: Visitor) -> bool:
    """The oversight board (overdue reviews, open high findings, waivers, models by tier)."""
    return is_authenticated(user) and user.has_role(Role.RISK_OFFICER, Role.REVIEW_BOARD,
                                                    Role.AUDITOR, Role.ADMIN)


# ---------------------------------------------------------------------------------------------
# Evaluation: data sets and runs.
#
# ``model`` is a registry model; ``case`` a version's governance facts (governance.gates.Case).
# Developers may evaluate their own model (exploratory runs: they show, but independence is the
# gate's question); the version's validator and risk officers run the evaluations that count.

def reason_cannot_upload_dataset(user: Visitor, model: Governed) -> Reason:
    """The model's team, and validators and risk officers who see the model."""
    if not is_authenticated(user) or is_auditor_only(user):
        return Refusal("Auditors have read-only access: they cannot upload data sets.", READ_ONLY)
    if can_edit_model(user, model) or (
            can_view(user, model) and user.has_role(Role.VALIDATOR, Role.RISK_OFFICER)):
        return ""
    return Refusal("Only the model's team, its validators and risk officers upload evaluation "
                   "data.", NOT_MODEL_TEAM)


def reason_cannot_launch_evaluation(user: Visitor, case: CaseLike) -> Reason:
    """The model's team (exploratory runs), the version's validator and risk officers."""
    if not is_authenticated(user) or is_auditor_only(user):
        return Refusal("Auditors have read-only access: they cannot launch evaluations.",
                       READ_ONLY)
    if (can_edit_model(user, case) or case.validator_id == user.pk
            or user.has_role(Role.RISK_OFFICER)):
        return ""
    return Refusal("Only the model's team, the version's validator and risk officers launch "
                   "evaluations.", NOT_MODEL_TEAM)


def can_launch_evaluation(user: Visitor, case: CaseLike) -> bool:
    return not reason_cannot_launch_evaluation(user, case)


def reason_cannot_cancel_evaluation(user: Visitor, case: CaseLike,
                                    launched_by_id: int | None) -> Reason:
    """Whoever launched the run, the version's validator and risk officers."""
    if not is_authenticated(user) or is_auditor_only(user):
        return Refusal("Auditors have read-only access: they cannot cancel evaluations.",
                       READ_ONLY)
    if (user.pk == launched_by_id or case.validator_id == user.pk
            or user.has_role(Role.RISK_OFFICER)):
        return ""
    return Refusal("Only the person who launched the run, the version's validator and risk "
                   "officers cancel it.", NOT_ASSIGNED)


# ---------------------------------------------------------------------------------------------
# Evidence that decides: whose evaluation runs count towards a version's approval.

def evidence_launcher_conflict(person: Actor | None, case: CaseLike) -> str:
    """Why an evaluation run launched by ``person`` is only exploratory (empty when it counts).

    A run counts towards the approval when the version's assigned validator or a risk officer
    launched it (Assay running it on their behalf), and they are independent of the version
    (``independence_conflict``); the model's own people may run evaluations, which are shown but
    never count."""
    if person is None:
        return "it names nobody who launched it, so its independence cannot be judged"
    if not (person.pk == case.validator_id or person.has_role(Role.RISK_OFFICER)):
        return (f"{person.username} launched it, who is neither the version's validator nor a "
                "risk officer: an exploratory run")
    conflict = independence_conflict(person, case)
    if conflict:
        return f"{person.username} launched it, who {_third_person(conflict)}: an exploratory run"
    return ""


def _third_person(conflict: str) -> str:
    """independence_conflict speaks to "you" ("own this model"); say it of someone else."""
    first, _, rest = conflict.partition(" ")
    verbs = {"own": "owns", "develop": "develops"}
    return f"{verbs.get(first, first)} {rest}".strip()


# ---------------------------------------------------------------------------------------------
# Deployments: endpoints and the versions they serve (serving.services).
#
# Deployers (ML engineers) and administrators deploy. Whoever developed a version may not deploy
# it to a production endpoint, unless the tier's policy relaxes it (``developers_may_deploy``,
# tier 3 only). Which versions may be deployed at all (servable) is the service's question.

def is_deployer(user: Visitor) -> bool:
    """May change endpoints at all: deployers and administrators."""
    return is_authenticated(user) and user.has_role(*DEPLOYING_ROLES)


def deploy_conflict(person: Person, case: CaseLike) -> str:
    """What makes ``person`` one of the version's developers ("" when they are not): a developer
    of the model now or at the version's submission, or an author of the version
    (``ModelVersion.author_ids``). Its owner alone is not."""
    return next((text for kind, text in ties(person, case) if kind in DEVELOPER_TIES), "")


def reason_cannot_manage_endpoint(user: Visitor) -> Reason:
    """Suspending an endpoint and taking a canary or shadow off it narrow what is served: any
    deployer or administrator may."""
    if not is_authenticated(user):
        return Refusal("Sign in first.", NOT_SIGNED_IN)
    if not user.has_role(*DEPLOYING_ROLES):
        return Refusal("Only deployers (ML engineers) and administrators change endpoints.",
                       WRONG_ROLE)
    return ""


def reason_cannot_deploy(user: Visitor, case: CaseLike, *, production: bool) -> Reason:
    """Whether the user may put the version on an endpoint (as primary, canary or shadow, or by
    promoting, rolling back or resuming): a deployer or administrator, and — on a production
    endpoint — not one of its developers, unless the tier's policy lets developers deploy."""
    reason = reason_cannot_manage_endpoint(user)
    if reason or not production or not is_authenticated(user):
        return reason
    conflict = deploy_conflict(user, case)
    if conflict and not getattr(case, "developers_may_deploy", False):
        return Refusal(f"You {conflict}, so you may not deploy it to a production endpoint "
                       "(segregation of duties): another deployer must, or use a non-production "
                       "endpoint.", NOT_INDEPENDENT)
    return ""


# ---------------------------------------------------------------------------------------------
# Ongoing monitoring (docs/monitoring.md): the owner proposes changes to a version's monitoring
# plan and its validator agrees; applications (through a person's or service account's token)
# post outcomes and overrides of the models they may see.

def reason_cannot_propose_monitoring_change(user: Visitor, case: CaseLike) -> Reason:
    if not is_authenticated(user):
        return Refusal("Sign in first.", NOT_SIGNED_IN)
    if user.pk != case.owner_id:
        return Refusal("Only the model's owner proposes changes to its monitoring plan (the "
                       "validator then agrees or declines).", WRONG_ROLE)
    return ""


def reason_cannot_decide_monitoring_change(user: Visitor, case: CaseLike) -> Reason:
    if not is_authenticated(user):
        return Refusal("Sign in first.", NOT_SIGNED_IN)
    if case.validator_id is None or user.pk != case.validator_id:
        return Refusal("Only the version's validator agrees to or declines a change of its "
                       "monitoring plan.", WRONG_ROLE)
    return ""


def reason_cannot_record_outcomes(user: Visitor, model: Governed) -> Reason:
    """Outcomes and overrides come from the applications using a model and from the people who
    review its decisions: anyone who sees the model and writes anything (not auditors)."""
    if not can_view(user, model):
        return Refusal("Sign in as someone who sees this model.", NOT_SIGNED_IN)
    if is_auditor_only(user):
        return Refusal("Auditors read; they record no outcomes or overrides.", WRONG_ROLE)
    return ""


# ---------------------------------------------------------------------------------------------
# The register of tools that are not models (governance.models.Tool). ``reviewer`` is who the
# tool's policy says concludes its periodic review: "owner", "validator" or "risk_officer".

def reason_cannot_review_tool(user: Visitor, model: Governed, reviewer: str) -> Reason:
    """The tool's owner reviews it when its policy says "owner"; otherwise a validator or risk
    officer (as the policy says) who is not its owner."""
    if not can_view(user, model):
        return Refusal("Sign in to review this tool.", NOT_SIGNED_IN)
    if is_auditor_only(user):
        return Refusal("Auditors have read-only access.", READ_ONLY)
    is_owner = getattr(model, "owner_id", None) == user.pk
    if reviewer == "owner":
        return "" if is_owner else Refusal(
            "Its policy has the tool's owner review it; ask its owner.", WRONG_ROLE)
    role = Role.VALIDATOR if reviewer == "validator" else Role.RISK_OFFICER
    if not user.has_role(role):
        return Refusal(f"Its policy has a {role.label.lower()} review this tool.", WRONG_ROLE)
    if is_owner:
        return Refusal("The tool's owner cannot be its independent reviewer.", NOT_INDEPENDENT)
    return ""
