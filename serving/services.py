"""Deployments: every change of an endpoint, for the pages and the API alike (docs/deployments.md).

Each service takes the ``actor``, checks who may (``core.permissions.reason_cannot_deploy`` for
anything that puts a version on an endpoint, ``reason_cannot_manage_endpoint`` for what only
narrows it), refuses a version that is not servable with the reason, locks the endpoint, saves,
writes the endpoint's history (``EndpointChange``) and an audit event in the same transaction,
and tells the model's owner.

An endpoint serves one model: its canary and shadow are versions of the primary's model (they
answer the same requests, so they must share its inputs and outputs), and promoting or rolling
back stays within it.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.limits import limit_text
from core.models import User
from governance.gates import case_for
from governance.models import NotificationKind
from governance.services.notifications import notify
from registry.models import ModelVersion, VersionState
from serving.models import ChangeAction, Endpoint, EndpointChange, EndpointStatus

SLUG_MAX = 64


def endpoint_url(endpoint: Endpoint) -> str:
    return reverse("serving:endpoint", kwargs={"slug": endpoint.slug})


def _require_deployable(actor: User, version: ModelVersion, *, production: bool,
                        attempted: str, role: str) -> None:
    """Refuse (403) who may not put ``version`` on the endpoint, then (409) a version that is not
    servable, saying why."""
    reason = permissions.reason_cannot_deploy(actor, case_for(version), production=production)
    if reason:
        refuse(actor, reason, attempted=attempted, target=version)
    problems = version.servability_problems()
    if problems:
        raise Conflict(f"{version} cannot be the {role}: it is not servable. "
                       + " ".join(problems), fields={"version": problems})


def _still_servable(version: ModelVersion, role: str) -> None:
    """Inside the write: lock the version's row, which every change of its state takes too
    (governance's version_transition), and check again, so a version suspended or retired
    since the first check is never deployed."""
    problems = ModelVersion.objects.select_for_update().get(pk=version.pk).servability_problems()
    if problems:
        raise Conflict(f"{version} cannot be the {role}: it is not servable. "
                       + " ".join(problems), fields={"version": problems})


def _require_manager(actor: User, endpoint: Endpoint, attempted: str) -> None:
    reason = permissions.reason_cannot_manage_endpoint(actor)
    if reason:
        refuse(actor, reason, attempted=attempted, target=endpoint)


def _require_same_model(endpoint: Endpoint, version: ModelVersion, role: str) -> None:
    if version.model_id != endpoint.primary_version.model_id:
        raise ValidationFailed(
            f"The {role} must be a version of {endpoint.primary_version.model.slug}, the model "
            f"this endpoint serves; {version} is another model's. Create another endpoint for "
            "it.", field="version")


def _config(endpoint: Endpoint) -> dict[str, Any]:
    """The endpoint's configuration as an audit payload reads it."""
    def name(version: ModelVersion | None) -> str | None:
        return str(version) if version is not None else None
    return {"primary": name(endpoint.primary_version), "canary": name(endpoint.canary_version),
            "canary_percent": endpoint.canary_percent, "shadow": name(endpoint.shadow_version),
            "status": endpoint.status, "production": endpoint.production}


def _record(endpoint: Endpoint, *, action: str, actor: User, before: dict[str, Any] | None,
            reason: str = "", previous_primary: ModelVersion | None = None,
            tell: str = "") -> EndpointChange:
    """Save the endpoint, write its history row and audit event, and tell the model's owner
    (``tell``: the notification's title; nothing when empty or when the owner did it)."""
    endpoint.updated_at = timezone.now()
    endpoint.save()
    change = EndpointChange.objects.create(
        endpoint=endpoint, action=action, actor=actor, at=endpoint.updated_at, reason=reason,
        previous_primary=previous_primary, primary_version=endpoint.primary_version,
        canary_version=endpoint.canary_version, canary_percent=endpoint.canary_percent,
        shadow_version=endpoint.shadow_version, status=endpoint.status)
    audit.record(action=f"endpoint.{action}", actor=actor, obj=endpoint, payload={
        "endpoint": endpoint.slug, "before": before, "after": _config(endpoint),
        "reason": reason, "change_id": change.pk})
    owner = endpoint.primary_version.model.owner
    if tell and owner.pk != actor.pk:
        notify(users=[owner], kind=NotificationKind.DEPLOYMENT, obj=change,
               title=f"{endpoint.slug}: {tell}", url=endpoint_url(endpoint),
               body=f"{actor.username} — {ChangeAction(action).label.lower()}"
                    + (f": {reason}" if reason else "."))
    return change


def _fresh(endpoint: Endpoint) -> Endpoint:
    """The endpoint as stored now: checks read this, not a copy loaded earlier."""
    return Endpoint.objects.select_related(
        "primary_version__model__owner", "canary_version__model",
        "shadow_version__model").get(pk=endpoint.pk)


def _locked(endpoint: Endpoint) -> Endpoint:
    return Endpoint.objects.select_for_update(of=("self",)).select_related(
        "primary_version__model__owner", "canary_version__model",
        "shadow_version__model").get(pk=endpoint.pk)


def _clean_reason(reason: str, *, required: str = "") -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationFailed(required, field="reason")
    limit_text({"reason": reason})
    return reason


def endpoint_create(*, actor: User, slug: str, version: ModelVersion, production: bool = True,
                    description: str = "") -> Endpoint:
    """Create an endpoint applications call as ``/predict/<slug>``, serving ``version``."""
    slug = (slug or "").strip()
    if not slug or slugify(slug) != slug.lower() or len(slug) > SLUG_MAX:
        raise ValidationFailed(f"Name the endpoint with letters, digits, - and _ (at most "
                               f"{SLUG_MAX} characters), e.g. credit-scoring.", field="slug")
    limit_text({"description": description})
    _require_deployable(actor, version, production=production, attempted="endpoint.create",
                        role="primary")
    try:
        with transaction.atomic():
            if Endpoint.objects.filter(slug__iexact=slug).exists():
                raise IntegrityError
            _still_servable(version, "primary")
            endpoint = Endpoint.objects.create(
                slug=slug, description=description, production=production,
                primary_version=version, created_by=actor)
            _record(endpoint, action=ChangeAction.CREATE, actor=actor, before=None,
                    tell=f"{version} deployed")
    except IntegrityError:
        raise ValidationFailed(f"An endpoint named {slug} exists already; choose another name.",
                               field="slug") from None
    return endpoint


def endpoint_set_canary(*, actor: User, endpoint: Endpoint, version: ModelVersion,
                        percent: int) -> Endpoint:
    """Let ``version`` answer ``percent`` (1-100) of the endpoint's requests; the primary
    answers the rest. Replaces a canary already there."""
    endpoint = _fresh(endpoint)
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        raise ValidationFailed("The canary's share of traffic is a whole percentage from 1 to "
                               "100.", field="percent")
    _require_same_model(endpoint, version, "canary")
    if version.pk == endpoint.primary_version_id:
        raise ValidationFailed(f"{version} is already the primary; a canary is another version "
                               "tried on part of the traffic.", field="version")
    _require_deployable(actor, version, production=endpoint.production,
                        attempted="endpoint.set_canary", role="canary")
    with transaction.atomic():
        locked = _locked(endpoint)
        if locked.primary_version_id == version.pk:
            raise Conflict(f"{version} became the primary meanwhile.")
        _still_servable(version, "canary")
        before = _config(locked)
        locked.canary_version, locked.canary_percent = version, percent
        _record(locked, action=ChangeAction.SET_CANARY, actor=actor, before=before,
                tell=f"{version} deployed as canary ({percent}% of requests)")
    return locked


def _take_off(actor: User, endpoint: Endpoint, reason: str, role: str) -> Endpoint:
    """Take the canary or the shadow off the endpoint."""
    reason = _clean_reason(reason)
    _require_manager(actor, endpoint, f"endpoint.clear_{role}")
    with transaction.atomic():
        locked = _locked(endpoint)
        taken_off = getattr(locked, f"{role}_version")
        if taken_off is None:
            raise Conflict(f"{locked.slug} has no {role}.")
        before = _config(locked)
        setattr(locked, f"{role}_version", None)
        if role == "canary":
            locked.canary_percent = 0
        _record(locked, action=f"clear_{role}", actor=actor, before=before, reason=reason,
                tell=f"{taken_off} taken off as {role}")
    return locked


def endpoint_clear_canary(*, actor: User, endpoint: Endpoint, reason: str = "") -> Endpoint:
    """Take the canary off: the primary answers every request."""
    return _take_off(actor, endpoint, reason, "canary")


def endpoint_set_shadow(*, actor: User, endpoint: Endpoint, version: ModelVersion) -> Endpoint:
    """Let ``version`` see every request of the endpoint; its answers are logged, never
    returned. Replaces a shadow already there."""
    endpoint = _fresh(endpoint)
    _require_same_model(endpoint, version, "shadow")
    if version.pk == endpoint.primary_version_id:
        raise ValidationFailed(f"{version} is already the primary; a shadow is another version "
                               "compared with it.", field="version")
    _require_deployable(actor, version, production=endpoint.production,
                        attempted="endpoint.set_shadow", role="shadow")
    with transaction.atomic():
        locked = _locked(endpoint)
        _still_servable(version, "shadow")
        before = _config(locked)
        locked.shadow_version = version
        _record(locked, action=ChangeAction.SET_SHADOW, actor=actor, before=before,
                tell=f"{version} deployed as shadow")
    return locked


def endpoint_clear_shadow(*, actor: User, endpoint: Endpoint, reason: str = "") -> Endpoint:
    """Take the shadow off."""
    return _take_off(actor, endpoint, reason, "shadow")


def endpoint_promote(*, actor: User, endpoint: Endpoint) -> Endpoint:
    """The canary becomes the primary and answers every request (its share goes to 0); the
    former primary is remembered, so a rollback returns to it."""
    endpoint = _fresh(endpoint)
    if endpoint.canary_version is None:
        raise Conflict(f"{endpoint.slug} has no canary to promote; set one first.")
    _require_deployable(actor, endpoint.canary_version, production=endpoint.production,
                        attempted="endpoint.promote", role="primary")
    with transaction.atomic():
        locked = _locked(endpoint)
        canary = locked.canary_version
        if canary is None or canary.pk != endpoint.canary_version_id:
            raise Conflict(f"The canary of {locked.slug} changed meanwhile; look again.")
        _still_servable(canary, "primary")
        before = _config(locked)
        previous = locked.primary_version
        locked.primary_version, locked.canary_version, locked.canary_percent = canary, None, 0
        if locked.shadow_version_id == canary.pk:
            locked.shadow_version = None
        _record(locked, action=ChangeAction.PROMOTE, actor=actor, before=before,
                previous_primary=previous, tell=f"{canary} promoted to primary")
    return locked


def rollback_target(endpoint: Endpoint) -> ModelVersion | None:
    """The primary a rollback returns to: the one before the latest promotion not yet rolled
    back (each rollback undoes one promotion, newest first), or None when there is none."""
    undone = 0
    for change in endpoint.changes.filter(
            action__in=[ChangeAction.PROMOTE, ChangeAction.ROLLBACK]).select_related(
            "previous_primary__model").order_by("-at", "-id"):
        if change.action == ChangeAction.ROLLBACK:
            undone += 1
        elif undone:
            undone -= 1
        else:
            return change.previous_primary
    return None


def endpoint_rollback(*, actor: User, endpoint: Endpoint, reason: str) -> Endpoint:
    """Return to the previous primary (``rollback_target``); a canary or shadow that is that
    version is taken off."""
    reason = _clean_reason(reason, required="Say why you roll back.")
    endpoint = _fresh(endpoint)
    target = rollback_target(endpoint)
    if target is None:
        raise Conflict(f"{endpoint.slug} has nothing to roll back to: no promotion since it was "
                       "created, or every one already rolled back.")
    _require_deployable(actor, target, production=endpoint.production,
                        attempted="endpoint.rollback", role="primary")
    with transaction.atomic():
        locked = _locked(endpoint)
        if rollback_target(locked) != target:
            raise Conflict(f"{locked.slug} changed meanwhile; look again.")
        _still_servable(target, "primary")
        before = _config(locked)
        rolled_back = locked.primary_version
        locked.primary_version = target
        if locked.canary_version_id == target.pk:
            locked.canary_version, locked.canary_percent = None, 0
        if locked.shadow_version_id == target.pk:
            locked.shadow_version = None
        _record(locked, action=ChangeAction.ROLLBACK, actor=actor, before=before,
                reason=reason, previous_primary=rolled_back,
                tell=f"{rolled_back} rolled back to {target}")
    return locked


def endpoint_suspend(*, actor: User, endpoint: Endpoint, reason: str) -> Endpoint:
    """Stop the endpoint answering (every request refused) until it is resumed."""
    reason = _clean_reason(reason, required="Say why you suspend the endpoint.")
    _require_manager(actor, endpoint, "endpoint.suspend")
    with transaction.atomic():
        locked = _locked(endpoint)
        if locked.status == EndpointStatus.SUSPENDED:
            raise Conflict(f"{locked.slug} is already suspended.")
        before = _config(locked)
        locked.status = EndpointStatus.SUSPENDED
        _record(locked, action=ChangeAction.SUSPEND, actor=actor, before=before, reason=reason,
                tell=f"suspended ({locked.primary_version} stops answering)")
    return locked


def endpoint_resume(*, actor: User, endpoint: Endpoint) -> Endpoint:
    """Answer again: every version on the endpoint must be servable and deployable by the
    actor (resuming puts them back in front of requests)."""
    endpoint = _fresh(endpoint)
    if endpoint.status != EndpointStatus.SUSPENDED:
        raise Conflict(f"{endpoint.slug} is not suspended.")
    for role, version in endpoint.deployed_versions():
        _require_deployable(actor, version, production=endpoint.production,
                            attempted="endpoint.resume", role=role)
    with transaction.atomic():
        locked = _locked(endpoint)
        if locked.status != EndpointStatus.SUSPENDED:
            raise Conflict(f"{locked.slug} was resumed meanwhile.")
        for role, version in locked.deployed_versions():
            _still_servable(version, role)
        before = _config(locked)
        locked.status = EndpointStatus.ACTIVE
        _record(locked, action=ChangeAction.RESUME, actor=actor, before=before,
                tell=f"resumed ({locked.primary_version} answers again)")
    return locked


def endpoints_tell_version_state(*, version: ModelVersion, frm: str, to: str,
                                 actor: User | None, reason: str) -> None:
    """Tell the owners of every endpoint serving ``version`` (whoever created the endpoint, and
    whoever changed it last) that it was suspended or reinstated, and what their endpoint does
    now. Every way a version is suspended (a risk officer, an expired waiver, a monitoring
    breach) goes through governance's ``version_transition``, which calls this (registered in
    ServingConfig.ready); the one who suspended it is not told."""
    S = VersionState
    if to not in (S.SUSPENDED, S.APPROVED) or S.SUSPENDED not in (frm, to):
        return
    suspended = to == S.SUSPENDED
    endpoints = (Endpoint.objects.filter(primary_version=version)
                 | Endpoint.objects.filter(canary_version=version)
                 | Endpoint.objects.filter(shadow_version=version)).distinct().select_related(
        "created_by").order_by("slug")
    # Each suspension or reinstatement is news again, however soon after the last (microseconds:
    # two within one second must not share a key). At most 32 characters.
    moment = int(timezone.now().timestamp() * 1_000_000)
    by = f"by {actor.username}" if actor is not None else "by Assay"
    for endpoint in endpoints:
        role = ("primary" if endpoint.primary_version_id == version.pk else
                "canary" if endpoint.canary_version_id == version.pk else "shadow")
        if suspended:
            effect = {
                "primary": "the endpoint answers 503 to every request until the version is "
                           "reinstated or a deployer puts another approved version in its place",
                "canary": f"the canary's {endpoint.canary_percent} % of requests are answered "
                          "503 until it is reinstated or a deployer takes the canary off",
                "shadow": "its shadow predictions stop until it is reinstated",
            }[role]
        else:
            effect = f"the endpoint serves it again as its {role}"
        last = endpoint.changes.order_by("-at", "-pk").select_related("actor").first()
        owners = [endpoint.created_by, last.actor if last else None]
        notify(users=[u for u in owners if u is not None and (actor is None or u.pk != actor.pk)],
               kind=NotificationKind.SERVED_VERSION, obj=endpoint,
               period=f"{'sus' if suspended else 'rei'}-{version.pk}-{moment}",
               title=f"{endpoint.slug}: its {role} {version} was "
                     f"{'suspended' if suspended else 'reinstated'}",
               url=endpoint_url(endpoint),
               body=f"{version} was {'suspended' if suspended else 'reinstated'} {by}"
                    + (f": {reason}" if reason else ".") + f"\n\nOn {endpoint.slug}, {effect}.")
