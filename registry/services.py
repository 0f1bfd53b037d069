"""Writes to the inventory: models, versions, artifacts and vendor documents.

Pages, the REST API, the admin and management commands all call these functions; each checks the
permission rule in core.permissions, writes in one transaction and records one audit event.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from core import audit, permissions
from core.errors import Conflict, NotVisible, ValidationFailed
from core.limits import limit_text, text_errors
from core.models import Team, User
from registry import dependencies, storage
from registry.models import (
    ArtifactForm,
    AuthorKind,
    ChangeClass,
    DataSource,
    DecisionType,
    ModelVersion,
    RegisteredModel,
    Sourcing,
    Tag,
    Task,
    VendorDocument,
    VersionAuthor,
    VersionState,
)

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# A model's form (ONNX or not) and a vendor model's contract, service level and exit plan.
VENDOR_FIELDS = ["artifact_form", "contract_reference", "contract_start", "contract_end",
                 "renewal_date", "sla_terms", "contingency_plan"]
CONTRACT_DATES = ("contract_start", "contract_end", "renewal_date")
# Descriptive fields a model's editors may change. Team and owner are the owner of record
# (model_transfer); status is workflow (governance).
EDITABLE_FIELDS = [
    "name", "purpose", "intended_use", "intended_users", "restrictions", "business_line",
    "legal_entity", "decision_type", "task", "sourcing", "vendor_name", "known_limitations",
    "data_sources", "favourable_class", "decision_threshold", *VENDOR_FIELDS,
]
VERSION_EDITABLE_FIELDS = ["changelog", "training_data_description", "training_data_sha256",
                           "monotone_features", "change_class"]
MONOTONE_DIRECTIONS = ("increasing", "decreasing")
# Input element types a monotonicity probe can step (ONNX names, registry.artifacts).
NUMERIC_ELEMENT_TYPES = frozenset({"float", "double", "float16", "int8", "int16", "int32",
                                   "int64", "uint8", "uint16", "uint32", "uint64"})
# Free text, each at most core.limits.TEXT_MAX characters.
MODEL_TEXT_FIELDS = ["purpose", "intended_use", "intended_users", "restrictions",
                     "known_limitations", "data_sources", "sla_terms", "contingency_plan"]
VERSION_TEXT_FIELDS = ["changelog", "training_data_description"]
TAG_MAX, TAGS_MAX = 50, 50  # characters per tag (the column), tags per model


def _locked(model_class: type[Any], pk: int, what: str) -> Any:
    """The row, locked until the transaction ends; 404 if a concurrent request deleted it
    between the caller's read and this lock (two DELETEs at once: one 204, the other 404)."""
    row = model_class.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise NotVisible(f"This {what} no longer exists: it was deleted meanwhile.")
    return row


def _require(allowed: bool, reason: str, *, actor: User, attempted: str, target: Any) -> None:
    if not allowed:
        audit.refuse(actor, reason, attempted=attempted, target=target)


# A model's versions whose documentation is still read by a validation or a sign-off to come:
# editing the model's documentation (its fields, vendor documents) authors these.
UNDECIDED = (VersionState.DRAFT, VersionState.SUBMITTED, VersionState.IN_VALIDATION,
             VersionState.CHANGES_REQUESTED, VersionState.PENDING_APPROVAL)


def author_record(*, version: ModelVersion, user: User | None, kind: str) -> None:
    """Note that ``user`` authored ``version`` in this way (once per person and kind).

    Called inside the transaction of the service that made the write, whose audit event names
    the same actor; ``user`` None (Assay itself) authors nothing.
    """
    if user is not None:
        VersionAuthor.objects.get_or_create(version=version, user=user, kind=kind)


def _author_undecided_versions(model: RegisteredModel, user: User) -> None:
    for version in model.versions.filter(state__in=UNDECIDED):
        author_record(version=version, user=user, kind=AuthorKind.DOCUMENTATION)


def _validate_model_fields(data: dict[str, Any], *, creating: bool) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def err(field: str, msg: str) -> None:
        errors.setdefault(field, []).append(msg)

    if creating or "name" in data:
        if not (data.get("name") or "").strip():
            err("name", "Give the model a name, e.g. 'Retail credit scorecard'.")
        elif len(data["name"]) > 200:
            err("name", "Names are at most 200 characters.")
    if (creating or "purpose" in data) and not (data.get("purpose") or "").strip():
        err("purpose", "Say what the model is for: the decision it informs and how.")
    if (creating or "decision_type" in data) and data.get("decision_type") not in DecisionType.values:
        err("decision_type", f"Choose one of: {', '.join(DecisionType.values)}.")
    if (creating or "task" in data) and data.get("task") not in Task.values:
        err("task", f"Choose one of: {', '.join(Task.values)}.")
    if "sourcing" in data and data["sourcing"] not in Sourcing.values:
        err("sourcing", f"Choose one of: {', '.join(Sourcing.values)}.")
    if data.get("sourcing") == Sourcing.VENDOR and not (data.get("vendor_name") or "").strip():
        err("vendor_name", "A vendor model needs the vendor's name.")
    if "favourable_class" in data:
        favourable = data["favourable_class"]
        if not isinstance(favourable, str) or len(favourable) > 100:
            err("favourable_class", "Spell the favourable class as it is in the label column "
                                    "(text, up to 100 characters), e.g. 1 or 'good'.")
        elif not favourable.strip() and data.get("task", Task.BINARY) != Task.REGRESSION:
            err("favourable_class", "A classifier needs its favourable class, as it is spelled "
                                    "in the label column (e.g. 1).")
    if "decision_threshold" in data:
        threshold = data["decision_threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
                or not 0.0 <= float(threshold) <= 1.0:
            err("decision_threshold", "The decision threshold is a score from 0 to 1, e.g. 0.5.")
    if "artifact_form" in data and data["artifact_form"] not in ArtifactForm.values:
        err("artifact_form", f"Choose one of: {', '.join(ArtifactForm.values)} (onnx for a "
                             "model with an ONNX artifact).")
    for day in CONTRACT_DATES:
        if data.get(day) is not None and not isinstance(data[day], dt.date):
            err(day, "Give the date as YYYY-MM-DD.")
    start, end = data.get("contract_start"), data.get("contract_end")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
        err("contract_end", "The contract cannot end before it starts.")
    if len(data.get("contract_reference") or "") > 200:
        err("contract_reference", "Contract references are at most 200 characters.")
    if len(data.get("business_line") or "") > 100:
        err("business_line", "Business lines are at most 100 characters.")
    if len(data.get("legal_entity") or "") > 100:
        err("legal_entity", "Legal entities are at most 100 characters.")
    if len(data.get("vendor_name") or "") > 200:
        err("vendor_name", "Vendor names are at most 200 characters.")
    for field, messages in text_errors({f: data[f] for f in MODEL_TEXT_FIELDS if f in data}
                                       ).items():
        errors.setdefault(field, []).extend(messages)
    return errors


def _check_tags(tags: Iterable[str] | None) -> list[str] | None:
    """Tags as given, refused if too many or too long (before anything is written)."""
    if tags is None:
        return None
    tags = list(tags)
    if len(tags) > TAGS_MAX:
        raise ValidationFailed(f"{len(tags)} tags; a model takes at most {TAGS_MAX}.",
                               field="tag_names")
    long = [t for t in tags if len(slugify(t)) > TAG_MAX]
    if long:
        raise ValidationFailed(f"Tags are at most {TAG_MAX} characters; {len(long)} are longer.",
                               field="tag_names")
    return tags


def _set_tags(model: RegisteredModel, tags: Iterable[str]) -> list[str]:
    names = sorted({slugify(t) for t in tags if slugify(t)})
    objs = [Tag.objects.get_or_create(name=n)[0] for n in names]
    model.tags.set(objs)
    return names


def _check_upstream(actor: User, upstream: Iterable[RegisteredModel],
                    model: RegisteredModel | None = None) -> list[RegisteredModel]:
    """Upstream models must be ones the actor can see (an unseen one is named as unknown)."""
    upstream = list(upstream)
    visible = set(RegisteredModel.objects.visible_to(actor)
                  .filter(pk__in=[m.pk for m in upstream]).values_list("pk", flat=True))
    unknown = [m.slug for m in upstream if m.pk not in visible]
    if unknown:
        raise ValidationFailed(f"No model with the slug {unknown[0]!r}; name upstream models by "
                               "the slugs shown in the inventory.", field="upstream_models")
    if model is not None and model.pk in visible:
        raise ValidationFailed("A model cannot depend on itself.", field="upstream_models")
    return upstream


def _refuse_cycle(model: RegisteredModel, upstream: Iterable[RegisteredModel]) -> None:
    """Refuse upstream links that would make the model depend on itself, naming the cycle.
    Inside the caller's transaction: the graph lock keeps a concurrent change from closing the
    cycle from the other end."""
    dependencies.lock_graph()
    cycle = dependencies.cycle_through(model, upstream)
    if cycle:
        raise ValidationFailed(
            "These upstream models would make a cycle: " + " depends on ".join(cycle)
            + ". A model cannot depend, directly or through others, on a model that depends on "
            "it; remove the link that closes the loop.", field="upstream_models")


def _check_people(developers: Iterable[User], team: Team,
                  already: Iterable[int] = ()) -> list[User]:
    """The developers to name, if each may develop a model of ``team`` (core.permissions.
    can_develop): active data scientists of the team. People ``already`` developing the model
    stay even if they no longer qualify (moved team, changed role), so the rest of the model can
    still be edited; they can be removed, not added back."""
    developers = list(developers)
    inactive = [u.username for u in developers if not u.is_active]
    if inactive:
        raise ValidationFailed(f"Inactive users cannot be developers: {', '.join(inactive)}.",
                               field="developers")
    kept = set(already)
    refused = sorted(u.username for u in developers
                     if u.pk not in kept and not permissions.can_develop(u, team.pk))
    if refused:
        raise ValidationFailed(
            f"Only data scientists of the team {team.name} can develop its models; "
            f"{', '.join(refused)} {'is' if len(refused) == 1 else 'are'} not. Choose from the "
            "team's data scientists, or ask an administrator to give the role or the team first.",
            field="developers")
    return developers


# Told when someone makes a person the owner of a model (registering it for them, importing it,
# transferring it): governance notifies the new owner, who must act next (the intake). The
# registry sits below governance, so it announces and governance listens (apps.ready).
OwnerListener = Callable[..., None]
_owner_listeners: list[OwnerListener] = []


def on_owner_given(listener: OwnerListener) -> None:
    """Call ``listener(model=, owner=, actor=, how=)`` after ``actor`` made ``owner`` the
    owner of ``model`` (not when people register models for themselves); ``how`` says how, in
    words ("registered", "transferred")."""
    if listener not in _owner_listeners:
        _owner_listeners.append(listener)


def _owner_given(model: RegisteredModel, owner: User, actor: User, how: str) -> None:
    if owner.pk != actor.pk:
        for listener in _owner_listeners:
            listener(model=model, owner=owner, actor=actor, how=how)


def model_create(
    *,
    actor: User,
    team: Team,
    name: str,
    purpose: str,
    decision_type: str,
    task: str,
    slug: str = "",
    owner: User | None = None,
    developers: Iterable[User] = (),
    upstream_models: Iterable[RegisteredModel] = (),
    linked_data_sources: Iterable[DataSource] = (),
    tags: Iterable[str] = (),
    **fields: Any,
) -> RegisteredModel:
    """Register a model in the inventory. The actor owns it unless ``owner`` says otherwise."""
    _require(permissions.can_create_model(actor, team),
             "Only data scientists can register models, and only for a team they belong to."
             if not permissions.is_auditor_only(actor)
             else "Auditors have read-only access: they cannot register models.",
             actor=actor, attempted="model_create", target=team)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(sorted(unknown))}.")
    data = {"name": name, "purpose": purpose, "decision_type": decision_type, "task": task,
            **fields}
    errors = _validate_model_fields(data, creating=True)
    slug = (slug or slugify(name))[:100]
    if not SLUG_RE.match(slug):
        errors.setdefault("slug", []).append(
            "Use lowercase letters, digits and single hyphens, e.g. 'retail-credit-scorecard'.")
    if errors:
        raise ValidationFailed("The model could not be registered: "
                               + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
                               fields=errors)
    if RegisteredModel.objects.filter(slug=slug).exists():
        raise Conflict(f"The slug {slug!r} is taken by another model; choose a different slug.",
                       field="slug")
    owner = owner or actor
    developers = _check_people(developers, team)
    upstream_models = _check_upstream(actor, upstream_models)
    tags = _check_tags(tags) or []
    now = timezone.now()
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                slug=slug, team=team, owner=owner, created_by=actor, created_at=now,
                updated_at=now, **data,
            )
            model.developers.set(developers)
            model.upstream_models.set(list(upstream_models))
            model.linked_data_sources.set(list(linked_data_sources))
            tag_names = _set_tags(model, tags)
            audit.record(action="model.create", actor=actor, obj=model, payload={
                **{k: v for k, v in data.items()}, "slug": slug, "team": team.slug,
                "owner": owner.username, "developers": sorted(u.username for u in developers),
                "upstream_models": sorted(m.slug for m in upstream_models), "tags": tag_names,
                "linked_data_sources": sorted(d.name for d in linked_data_sources),
            })
            _owner_given(model, owner, actor, "registered")
    except IntegrityError as exc:  # a concurrent create took the slug
        raise Conflict(f"The slug {slug!r} is taken by another model; choose a different slug.",
                       field="slug") from exc
    return model


def model_update(
    *,
    actor: User,
    model: RegisteredModel,
    developers: Iterable[User] | None = None,
    upstream_models: Iterable[RegisteredModel] | None = None,
    linked_data_sources: Iterable[DataSource] | None = None,
    tags: Iterable[str] | None = None,
    **changes: Any,
) -> RegisteredModel:
    """Change a model's descriptive fields; the event records before and after of what changed."""
    _require(permissions.can_edit_model(actor, model),
             permissions.reason_cannot_edit_model(actor, model),
             actor=actor, attempted="model_update", target=model)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be changed here: {', '.join(sorted(unknown))}. Team and owner "
            "are changed by an administrator (transfer); status follows the workflow.",
            fields={f: ["This field is read-only."] for f in sorted(unknown)})
    merged = {"sourcing": model.sourcing, "vendor_name": model.vendor_name, "task": model.task,
              "contract_start": model.contract_start, "contract_end": model.contract_end,
              **changes}
    errors = _validate_model_fields(merged, creating=False)
    if errors:
        raise ValidationFailed("The model could not be updated: "
                               + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
                               fields=errors)
    if upstream_models is not None:
        upstream_models = _check_upstream(actor, upstream_models, model)
    tags = _check_tags(tags)
    with transaction.atomic():
        model = _locked(RegisteredModel, model.pk, "model")
        before = audit.snapshot(model, list(changes))
        for field, value in changes.items():
            setattr(model, field, value)
        diff = audit.changes(model, before, list(changes))
        if developers is not None:
            old = sorted(model.developers.values_list("username", flat=True))
            new = sorted(u.username for u in _check_people(
                developers, model.team, already=model.developers.values_list("pk", flat=True)))
            if old != new:
                model.developers.set(list(developers))
                diff["developers"] = {"before": old, "after": new}
        if upstream_models is not None:
            old = sorted(model.upstream_models.values_list("slug", flat=True))
            new = sorted(m.slug for m in upstream_models)
            if old != new:
                _refuse_cycle(model, upstream_models)
                model.upstream_models.set(list(upstream_models))
                diff["upstream_models"] = {"before": old, "after": new}
        if linked_data_sources is not None:
            linked_data_sources = list(linked_data_sources)
            old = sorted(model.linked_data_sources.values_list("name", flat=True))
            new = sorted(d.name for d in linked_data_sources)
            if old != new:
                model.linked_data_sources.set(linked_data_sources)
                diff["linked_data_sources"] = {"before": old, "after": new}
        if tags is not None:
            old = sorted(model.tags.values_list("name", flat=True))
            new = _set_tags(model, tags)
            if old != new:
                diff["tags"] = {"before": old, "after": new}
        if not diff:
            return model
        model.updated_at = timezone.now()
        model.save()
        _author_undecided_versions(model, actor)
        audit.record(action="model.update", actor=actor, obj=model, payload={"changes": diff})
    return model


def model_transfer(*, actor: User, model: RegisteredModel, team: Team | None = None,
                   owner: User | None = None) -> RegisteredModel:
    """Change the owner of record (team, owner): administrators only."""
    _require(permissions.is_admin(actor),
             "Only administrators can move a model to another team or change its owner.",
             actor=actor, attempted="model_transfer", target=model)
    if owner is not None and not owner.is_active:
        raise ValidationFailed("The new owner's account is inactive.", field="owner")
    with transaction.atomic():
        model = _locked(RegisteredModel, model.pk, "model")
        diff = {}
        if team is not None and team.pk != model.team_id:
            diff["team"] = {"before": model.team.slug, "after": team.slug}
            model.team = team
        if owner is not None and owner.pk != model.owner_id:
            diff["owner"] = {"before": model.owner.username, "after": owner.username}
            model.owner = owner
        if diff:
            model.updated_at = timezone.now()
            model.save()
            audit.record(action="model.transfer", actor=actor, obj=model, payload=diff)
            if "owner" in diff:
                _owner_given(model, model.owner, actor, "transferred")
    return model


def model_delete(*, actor: User, model: RegisteredModel) -> None:
    """Delete a model recorded by mistake. Only while no version has left draft: once a
    version was submitted, the model's history is evidence and it is retired instead."""
    _require(permissions.is_admin(actor) or permissions.can_edit_model(actor, model),
             permissions.reason_cannot_edit_model(actor, model),
             actor=actor, attempted="model_delete", target=model)
    with transaction.atomic():
        model = _locked(RegisteredModel, model.pk, "model")
        if model.versions.exclude(state=VersionState.DRAFT).exists():
            raise Conflict("This model has versions that left draft; its record is evidence and "
                           "cannot be deleted. Retire its versions instead.")
        payload = {"slug": model.slug, "name": model.name,
                   "versions": list(model.versions.values_list("number", flat=True))}
        audit.record(action="model.delete", actor=actor, obj=model, payload=payload)
        model.delete()


def _change_class(value: Any, *, first: bool) -> str:
    """The declared change class of a new version: "" for a model's first version (it changes
    nothing), minor or major for later ones (major when not said: the full scope)."""
    if first:
        if value:
            raise ValidationFailed("A model's first version is no change to classify; leave "
                                   "change_class empty.", field="change_class")
        return ""
    if value in ("", None):
        return ChangeClass.MAJOR
    if value not in ChangeClass.values:
        raise ValidationFailed(f"change_class must be one of {', '.join(ChangeClass.values)} "
                               "(the policy defines each).", field="change_class")
    return str(value)


def _clean_version_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The version fields, checked; a digest in either case is stored in lowercase."""
    limit_text({f: data[f] for f in VERSION_TEXT_FIELDS if f in data})
    digest = data.get("training_data_sha256")
    if digest:
        digest = digest.strip().lower()
        if not storage.SHA256_RE.fullmatch(digest):
            raise ValidationFailed("Give the training data digest as 64 hex characters "
                                   "(sha256sum output).", field="training_data_sha256")
        data = {**data, "training_data_sha256": digest}
    return data


def monotone_problems(features: Any, input_schema: Iterable[Any]) -> str:
    """What is wrong with declared monotone features against a version's input schema ("" when
    nothing is): a ``{feature: "increasing" | "decreasing"}`` object naming numeric inputs."""
    if not isinstance(features, dict):
        return ('Declare monotone features as an object of feature → direction, e.g. '
                '{"duration": "decreasing"}.')
    if not features:
        return ""
    inputs = {spec["name"]: spec["element_type"] for spec in input_schema}
    if not inputs:
        return ("Upload the version's artifact first: monotone features are checked against "
                "the inputs the model takes.")
    problems = []
    for name, direction in features.items():
        if name not in inputs:
            problems.append(f"{name!r} is not an input of the model (its inputs: "
                            f"{', '.join(sorted(inputs))})")
        elif inputs[name] not in NUMERIC_ELEMENT_TYPES:
            problems.append(f"{name!r} is a {inputs[name]} input; only numeric inputs can be "
                            "monotone")
        if direction not in MONOTONE_DIRECTIONS:
            problems.append(f"the direction of {name!r} is {direction!r}; use "
                            f"{' or '.join(MONOTONE_DIRECTIONS)}")
    return "; ".join(problems) + "." if problems else ""


def _clean_monotone(features: Any, input_schema: Iterable[Any]) -> dict[str, str]:
    problem = monotone_problems(features, input_schema)
    if problem:
        raise ValidationFailed(f"Monotone features: {problem}", field="monotone_features")
    return dict(features)


def version_create(
    *,
    actor: User,
    model: RegisteredModel,
    changelog: str = "",
    training_data_description: str = "",
    training_data_sha256: str = "",
    monotone_features: Any = None,
    artifact: BinaryIO | None = None,
    artifact_filename: str = "",
    change_class: str = "",
) -> ModelVersion:
    """Add a draft version (number = previous + 1), optionally with its artifact.

    The artifact is checked before anything is written; if it is refused, no version is created.
    Monotone features are checked against the artifact's inputs. ``change_class`` (minor or
    major) says how much it changes the model; a later version that does not say is a major
    change (the full revalidation scope), a model's first version is no change at all.
    """
    _require(permissions.can_edit_model(actor, model),
             permissions.reason_cannot_edit_model(actor, model),
             actor=actor, attempted="version_create", target=model)
    training_data_sha256 = _clean_version_fields(
        {"changelog": changelog, "training_data_description": training_data_description,
         "training_data_sha256": training_data_sha256})["training_data_sha256"]
    if artifact is not None:
        _refuse_artifact_without_onnx_form(model)
    info = _check_artifact(artifact) if artifact is not None else None
    monotone = _clean_monotone(monotone_features or {},
                               [t.as_dict() for t in info.inputs] if info else [])
    with transaction.atomic():
        # Lock the model row: concurrent creators get consecutive numbers, never the same one.
        model = _locked(RegisteredModel, model.pk, "model")
        model.last_version_number += 1
        declared = _change_class(change_class, first=model.last_version_number == 1)
        version = ModelVersion(
            model=model, number=model.last_version_number, changelog=changelog,
            change_class=declared,
            training_data_description=training_data_description,
            training_data_sha256=training_data_sha256, monotone_features=monotone,
            created_by=actor,
        )
        if info is not None:  # then the artifact was given
            _attach(version, artifact, info, artifact_filename)  # type: ignore[arg-type]
        version.save()
        author_record(version=version, user=actor, kind=AuthorKind.CREATED)
        if info is not None:
            author_record(version=version, user=actor, kind=AuthorKind.ARTIFACT)
        model.status = version.state
        model.updated_at = timezone.now()
        model.save(update_fields=["last_version_number", "status", "updated_at"])
        audit.record(action="version.create", actor=actor, obj=version, payload={
            "number": version.number, "changelog": changelog,
            "training_data_sha256": version.training_data_sha256,
            "artifact_sha256": version.artifact_sha256, "artifact_size": version.artifact_size,
            "monotone_features": monotone, "change_class": declared,
        })
    return version


def version_update(*, actor: User, version: ModelVersion, **changes: Any) -> ModelVersion:
    """Edit a draft version's descriptive fields."""
    _require(permissions.can_edit_model(actor, version.model),
             permissions.reason_cannot_edit_model(actor, version.model),
             actor=actor, attempted="version_update", target=version)
    unknown = set(changes) - set(VERSION_EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(f"These fields cannot be changed: {', '.join(sorted(unknown))}.",
                               fields={f: ["This field is read-only."] for f in sorted(unknown)})
    changes = _clean_version_fields(changes)
    with transaction.atomic():
        version = _locked(ModelVersion, version.pk, "version")
        if version.state != VersionState.DRAFT:
            raise Conflict(f"Version {version.number} is {version.get_state_display().lower()}; "
                           "only drafts can be edited. Create a new version instead.")
        if "monotone_features" in changes:
            changes["monotone_features"] = _clean_monotone(changes["monotone_features"],
                                                           version.input_schema)
        if "change_class" in changes:
            changes["change_class"] = _change_class(changes["change_class"],
                                                    first=version.number == 1)
        before = audit.snapshot(version, list(changes))
        for field, value in changes.items():
            setattr(version, field, value)
        diff = audit.changes(version, before, list(changes))
        if diff:
            version.save()
            author_record(version=version, user=actor, kind=AuthorKind.DOCUMENTATION)
            audit.record(action="version.update", actor=actor, obj=version,
                         payload={"changes": diff})
    return version


def version_delete(*, actor: User, version: ModelVersion) -> None:
    """Delete a draft version (a version that left draft is evidence and stays)."""
    _require(permissions.can_edit_model(actor, version.model),
             permissions.reason_cannot_edit_model(actor, version.model),
             actor=actor, attempted="version_delete", target=version)
    with transaction.atomic():
        version = _locked(ModelVersion, version.pk, "version")
        if version.state != VersionState.DRAFT:
            raise Conflict("Only draft versions can be deleted; this one is "
                           f"{version.get_state_display().lower()}.")
        audit.record(action="version.delete", actor=actor, obj=version,
                     payload={"number": version.number,
                              "artifact_sha256": version.artifact_sha256})
        model = version.model
        version.delete()
        latest = model.versions.order_by("-number").first()
        model.status = latest.state if latest else VersionState.DRAFT
        model.save(update_fields=["status"])


def _check_artifact(artifact: BinaryIO) -> Any:
    # Imported here: onnx and onnxruntime are heavy, and only uploads need them.
    from registry.artifacts import inspect_artifact

    artifact.seek(0)
    info = inspect_artifact(artifact, max_bytes=settings.MAX_ARTIFACT_BYTES)
    artifact.seek(0)
    return info


def _attach(version: ModelVersion, artifact: BinaryIO, info: Any, filename: str) -> None:
    storage.store(artifact, info.sha256)
    version.artifact_sha256 = info.sha256
    version.artifact_size = info.size
    version.artifact_filename = (filename or f"model-v{version.number}.onnx")[:255]
    version.input_schema = [t.as_dict() for t in info.inputs]
    version.output_schema = [t.as_dict() for t in info.outputs]
    version.artifact_meta = {"ir_version": info.ir_version, "opsets": info.opsets,
                             "producer": info.producer}


def _refuse_artifact_without_onnx_form(model: RegisteredModel) -> None:
    if not model.has_onnx_form:
        raise ValidationFailed(
            f"{model.name} is recorded as a {model.get_artifact_form_display().lower()}, with no "
            "ONNX form: its versions are validated on uploaded predictions and documentation, "
            "without an artifact. Change the model's form to ONNX first if it has one now.",
            field="artifact")


def artifact_upload(*, actor: User, version: ModelVersion, artifact: BinaryIO,
                    filename: str = "") -> ModelVersion:
    """Set or replace a draft version's ONNX artifact, after every safety check has passed."""
    _require(permissions.can_edit_model(actor, version.model),
             permissions.reason_cannot_edit_model(actor, version.model),
             actor=actor, attempted="artifact_upload", target=version)
    if version.artifact_is_frozen:
        raise Conflict(f"Version {version.number} is {version.get_state_display().lower()}: its "
                       "artifact is frozen. Upload the new artifact as a new version.")
    _refuse_artifact_without_onnx_form(version.model)
    info = _check_artifact(artifact)
    with transaction.atomic():
        version = _locked(ModelVersion, version.pk, "version")
        if version.artifact_is_frozen:
            raise Conflict(f"Version {version.number} left draft meanwhile; its artifact is "
                           "frozen. Upload the new artifact as a new version.")
        previous = version.artifact_sha256
        _attach(version, artifact, info, filename)
        version.save()
        author_record(version=version, user=actor, kind=AuthorKind.ARTIFACT)
        audit.record(action="version.artifact_upload", actor=actor, obj=version, payload={
            "sha256": info.sha256, "size": info.size, "filename": version.artifact_filename,
            "replaced_sha256": previous,
        })
    return version


def vendor_document_add(*, actor: User, model: RegisteredModel, document: BinaryIO,
                        filename: str) -> VendorDocument:
    """Attach a vendor's documentation file (any format; it is stored, never executed)."""
    _require(permissions.can_edit_model(actor, model),
             permissions.reason_cannot_edit_model(actor, model),
             actor=actor, attempted="vendor_document_add", target=model)
    if model.sourcing != Sourcing.VENDOR and model.has_onnx_form:
        raise Conflict("Documentation files belong to vendor models and models with no ONNX "
                       "form; mark the model as sourced from a vendor, or say what form it has, "
                       "first.", field="document")
    sha, size = storage.sha256_of(document)
    if size == 0:
        raise ValidationFailed("The document is empty; choose the file again.", field="document")
    if size > settings.MAX_ARTIFACT_BYTES:
        raise ValidationFailed(f"Documents are limited to {settings.MAX_ARTIFACT_BYTES // 2**20} "
                               "MB.", field="document")
    storage.store(document, sha)
    with transaction.atomic():
        doc = VendorDocument.objects.create(model=model, filename=filename[:255] or sha,
                                            sha256=sha, size=size, uploaded_by=actor)
        _author_undecided_versions(model, actor)
        audit.record(action="model.vendor_document_add", actor=actor, obj=doc,
                     payload={"filename": doc.filename, "sha256": sha, "size": size})
    return doc
