"""Governance policies: the shipped templates, new versions, and which versions are current (one
per policy, each over its scope: governance.policy_scope)."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.audit_display import person_name
from core.errors import Conflict, ValidationFailed
from core.limits import TEXT_MAX
from core.models import Role, User
from governance.gates import no_policy_message
from governance.models import NotificationKind, Policy, PolicyVersion
from governance.policy import DEFAULT_TEMPLATE, SHIPPED, definition_errors, shipped_revision
from governance.policy_scope import scope_errors
from governance.services.notifications import notifications_settle, notify
from registry.models import RegisteredModel


def ensure_policy_templates() -> list[PolicyVersion]:
    """Install every revision of the shipped policy templates that is missing, oldest first, as a
    new version of its policy; make SR 11-7's latest revision current when no policy is, and a
    template's latest revision current when an older revision of it is (an installation that
    runs a shipped template unchanged follows it; one that made its own policy current keeps
    it). Only the unscoped (default) current version follows a template; scoped ones stay.
    Versions already submitted stay bound to the policy version they were submitted under.
    Idempotent: the demo loader, the command and migrations may call it any number of times."""
    created = []
    with transaction.atomic():
        for slug, template in SHIPPED.items():
            policy, _ = Policy.objects.get_or_create(
                slug=slug, defaults={"name": template.name, "description": template.description})
            policy = Policy.objects.select_for_update().get(pk=policy.pk)
            have = [pv.definition for pv in policy.versions.only("definition")]
            for revision, definition in enumerate(template.revisions, 1):
                if definition in have:
                    continue
                number = (policy.versions.aggregate(n=Max("number"))["n"] or 0) + 1
                pv = PolicyVersion.objects.create(
                    policy=policy, number=number, definition=definition,
                    notes=f"Template shipped with Assay, revision {revision}.",
                    validated_at=timezone.now())
                audit.record(action="policy.version_create", obj=pv, payload={
                    "policy": slug, "number": number, "revision": revision,
                    "definition": definition})
                created.append(pv)
        currents = list(PolicyVersion.objects.select_for_update().filter(is_current=True)
                        .select_related("policy"))
        current = next((pv for pv in currents if pv.scope.is_default), None)
        follow = DEFAULT_TEMPLATE if current is None else current.policy.slug
        if not currents or (current is not None and shipped_revision(
                follow, current.definition) not in (None, len(SHIPPED[follow].revisions))):
            latest = SHIPPED[follow].latest
            pv = next(v for v in PolicyVersion.objects.filter(policy__slug=follow)
                      .order_by("-number") if v.definition == latest and v.scope.is_default)
            _make_current(pv, actor=None)
    return created


def policy_version_create(*, actor: User, policy_slug: str, definition: Any, notes: str = "",
                          name: str = "", business_lines: Any = None,
                          legal_entities: Any = None) -> PolicyVersion:
    """Store a new, validated version of a policy (a new policy when the slug is new: it then
    needs a name) as a draft, and tell every other administrator and risk officer that it waits
    for their approval (four-eyes: its drafter cannot make it current). Its scope, the business
    lines and legal entities it governs (neither: the default policy), is part of the version.
    Versions never change afterwards; edit by creating another. The API and the policy form both
    come here."""
    if not permissions.can_manage_policies(actor):
        refuse(actor, "Only administrators and risk officers draft governance policies.",
               attempted="policy.version_create", code=permissions.WRONG_ROLE)
    errors = definition_errors(definition)
    if errors:
        raise ValidationFailed("The policy definition is invalid: " + " ".join(errors),
                               fields={"definition": errors})
    lines, line_errors = scope_errors(business_lines, "business lines")
    entities, entity_errors = scope_errors(legal_entities, "legal entities")
    if line_errors or entity_errors:
        raise ValidationFailed(" ".join(line_errors + entity_errors), fields={
            key: errors for key, errors in (("business_lines", line_errors),
                                            ("legal_entities", entity_errors)) if errors})
    policy = Policy.objects.filter(slug=policy_slug).first()
    if policy is None and not name.strip():
        raise ValidationFailed(f"There is no policy {policy_slug!r}; give a name to create it.",
                               field="name")
    if policy is None and not re.match(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", policy_slug or ""):
        raise ValidationFailed("Policy slugs use lowercase letters, digits and hyphens.",
                               field="policy")
    try:
        with transaction.atomic():
            if policy is None:
                policy = Policy.objects.create(slug=policy_slug, name=name.strip())
            policy = Policy.objects.select_for_update().get(pk=policy.pk)
            number = (policy.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            pv = PolicyVersion.objects.create(policy=policy, number=number, definition=definition,
                                              notes=notes, created_by=actor,
                                              business_lines=lines, legal_entities=entities,
                                              validated_at=timezone.now())
            audit.record(action="policy.version_create", actor=actor, obj=pv, payload={
                "policy": policy.slug, "number": number, "notes": notes,
                "business_lines": lines, "legal_entities": entities,
                "definition": definition})
            notify(users=_approvers(exclude=actor), kind=NotificationKind.POLICY_DRAFTED, obj=pv,
                   title=f"{pv} drafted by {person_name(actor)} waits for "
                         "your approval",
                   body=notes, url=pv.get_absolute_url())
    except IntegrityError as exc:
        raise Conflict(f"A policy named {name!r} already exists; choose another name.",
                       field="name") from exc
    return pv


def _approvers(*, exclude: User) -> list[User]:
    """Who may approve someone else's draft: every active administrator and risk officer."""
    return [u for u in User.objects.filter(is_active=True).order_by("username")
            if u.pk != exclude.pk and u.has_role(Role.ADMIN, Role.RISK_OFFICER)]


def _make_current(pv: PolicyVersion, *, actor: User | None) -> None:
    """Make ``pv`` current in place of the versions it replaces (inside the caller's
    transaction). Every Policy row is locked first, so two versions being made current at once
    are checked against each other's scope one after the other."""
    list(Policy.objects.select_for_update().order_by("pk"))
    currents = list(PolicyVersion.objects.filter(is_current=True).select_related("policy"))
    conflicts = pv.scope_conflicts(currents)
    if conflicts:
        raise Conflict(f"{pv} covers {pv.scope.describe()}, which overlaps current policies: "
                       + "; ".join(conflicts) + ". Each model must fall under one policy: draft "
                       "a version with a scope that does not overlap, or narrow the other "
                       "policy first (a scope naming both a business line and a legal entity "
                       "outranks one naming either).")
    previous = pv.replaces(currents)
    for old in previous:
        old.is_current = False
        old.save(update_fields=["is_current"])
    pv.is_current = True
    pv.made_current_at = timezone.now()
    pv.approved_by = actor
    pv.save(update_fields=["is_current", "made_current_at", "approved_by"])
    audit.record(action="policy.make_current", actor=actor, obj=pv, payload={
        "policy": pv.policy.slug, "number": pv.number,
        "business_lines": pv.business_lines, "legal_entities": pv.legal_entities,
        "previous": ", ".join(str(old) for old in previous) or None})


def policy_version_make_current(*, actor: User, policy_version: PolicyVersion) -> PolicyVersion:
    """Approve a policy version: make it the one bound to submissions from now on (after
    validating it again), and tell its drafter. Four-eyes: an administrator or risk officer who
    did not draft it approves it."""
    if not permissions.can_manage_policies(actor):
        refuse(actor, "Only administrators and risk officers approve governance policies.",
               attempted="policy.make_current", target=policy_version,
               code=permissions.WRONG_ROLE)
    if not permissions.can_approve_policy(actor, policy_version.created_by):
        refuse(actor, f"You drafted {policy_version}; another administrator or risk officer must "
               "approve it (four-eyes).", attempted="policy.make_current",
               target=policy_version, code=permissions.OWN_DRAFT)
    errors = definition_errors(policy_version.definition)
    if errors:
        raise Conflict("This policy version does not validate and cannot be made current: "
                       + " ".join(errors))
    with transaction.atomic():
        pv = PolicyVersion.objects.select_for_update().get(pk=policy_version.pk)
        if pv.is_current:
            raise Conflict(f"{pv} is already the current policy.")
        if pv.is_declined:
            raise Conflict(f"{pv} was {_declined_words(pv)} and cannot become current; draft a "
                           "new version from it instead.")
        pv.validated_at = timezone.now()
        pv.save(update_fields=["validated_at"])
        _make_current(pv, actor=actor)
        notify(users=[pv.created_by], kind=NotificationKind.POLICY_APPROVED, obj=pv,
               title=f"{pv} is now the current policy for {pv.scope.describe()}: approved by "
                     f"{person_name(actor)}",
               url=pv.get_absolute_url())
    return pv


def policy_version_decline(*, actor: User, policy_version: PolicyVersion,
                           reason: Any) -> PolicyVersion:
    """Decline a draft: an administrator or risk officer other than its drafter refuses to make
    it current, saying why, and the drafter is notified; or its drafter withdraws it. Either
    way the version is kept for the record (who, when, why) and never becomes current; the
    others asked to approve it have nothing left to do. Only a draft (never current, not
    declined) can be declined."""
    if not permissions.can_manage_policies(actor):
        refuse(actor, "Only administrators and risk officers decline governance policy drafts.",
               attempted="policy.decline", target=policy_version, code=permissions.WRONG_ROLE)
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationFailed("Say why the draft is declined: the drafter reads the reason.",
                               field="reason")
    if len(text) > TEXT_MAX:
        raise ValidationFailed(f"Keep the reason under {TEXT_MAX} characters.",
                               field="reason")
    with transaction.atomic():
        pv = PolicyVersion.objects.select_for_update(of=("self",)).select_related(
            "policy", "created_by", "declined_by").get(pk=policy_version.pk)
        if pv.is_declined:
            raise Conflict(f"{pv} was already {_declined_words(pv)}.")
        if not pv.is_draft:
            raise Conflict(f"{pv} is not a draft: it {'is' if pv.is_current else 'was'} "
                           "the current policy. Only a draft waiting for approval is declined.")
        withdrawn = pv.created_by_id == actor.pk
        pv.declined_at = timezone.now()
        pv.declined_by = actor
        pv.decline_reason = text
        pv.save(update_fields=["declined_at", "declined_by", "decline_reason"])
        audit.record(action="policy.withdraw" if withdrawn else "policy.decline", actor=actor,
                     obj=pv, payload={"policy": pv.policy.slug, "number": pv.number,
                                      "reason": text})
        notifications_settle(obj=pv, kinds=[NotificationKind.POLICY_DRAFTED])
        if not withdrawn:
            notify(users=[pv.created_by], kind=NotificationKind.POLICY_DECLINED, obj=pv,
                   title=f"{pv} declined by {person_name(actor)}: {text}",
                   body=text, url=pv.get_absolute_url())
    return pv


def _declined_words(pv: PolicyVersion) -> str:
    """"declined by Adam Admin on 2026-12-01" or "withdrawn by its drafter on …"."""
    when = timezone.localtime(pv.declined_at).strftime("%Y-%m-%d") if pv.declined_at else ""
    if pv.is_withdrawn:
        return f"withdrawn by its drafter on {when}"
    by = f" by {person_name(pv.declined_by)}" if pv.declined_by else ""
    return f"declined{by} on {when}"


def current_policy(model: RegisteredModel | None = None) -> PolicyVersion:
    """The policy that governs ``model`` now (PolicyVersionQuerySet.current_for); without a
    model, the default (unscoped) one. Refuses when there is none."""
    pv = (PolicyVersion.objects.current() if model is None
          else PolicyVersion.objects.current_for(model))
    if pv is None:
        raise Conflict(no_policy_message(model))
    return pv
