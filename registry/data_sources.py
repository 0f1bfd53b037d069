"""Writes to the data-source catalogue: the data models use, as entities with an owner.

Pages and the REST API call these; each checks core.permissions, writes in one transaction and
records one audit event. Which models use a source is the models' ``linked_data_sources``
(model_create / model_update set them); a source still in use cannot be deleted.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit, permissions
from core.errors import Conflict, ValidationFailed
from core.limits import limit_text
from core.models import User
from registry.models import DataSource, RegisteredModel

FIELDS = ("name", "system", "description")


def _clean(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned = dict(data)
    for field in ("name", "system"):
        if field in data:
            value = data[field]
            if not isinstance(value, str):
                errors[field] = ["Give it as text."]
                continue
            cleaned[field] = value.strip()
            if len(cleaned[field]) > 200:
                errors[field] = ["At most 200 characters."]
    if (creating or "name" in data) and not cleaned.get("name") and "name" not in errors:
        errors["name"] = ["Name the data source, e.g. 'Bureau scores (Experian)'."]
    if "description" in data and not isinstance(data["description"], str):
        errors["description"] = ["Give it as text."]
    if errors:
        raise ValidationFailed("The data source could not be saved: " + "; ".join(
            f"{k}: {' '.join(v)}" for k, v in errors.items()), fields=errors)
    limit_text({k: cleaned[k] for k in ("description",) if k in cleaned})
    return cleaned


def _check_owner(owner: User) -> None:
    if not owner.is_active:
        raise ValidationFailed("The owner's account is inactive; choose an active user.",
                               field="owner")


def _name_taken(name: str) -> Conflict:
    return Conflict(f"A data source named {name!r} exists already; link that one, or choose "
                    "another name.", field="name")


def data_source_create(*, actor: User, name: str, owner: User | None = None, system: str = "",
                       description: str = "") -> DataSource:
    """Record a data source; the actor owns it unless ``owner`` says otherwise."""
    if not permissions.can_create_data_source(actor):
        audit.refuse(actor, "Only data scientists, risk officers and administrators record data "
                     "sources.", attempted="data_source_create", target=None)
    data = _clean({"name": name, "system": system, "description": description}, creating=True)
    owner = owner or actor
    _check_owner(owner)
    now = timezone.now()
    try:
        with transaction.atomic():
            source = DataSource.objects.create(owner=owner, created_by=actor, created_at=now,
                                               updated_at=now, **data)
            audit.record(action="data_source.create", actor=actor, obj=source,
                         payload={**data, "owner": owner.username})
    except IntegrityError as exc:
        raise _name_taken(data["name"]) from exc
    return source


def data_source_update(*, actor: User, source: DataSource, owner: User | None = None,
                       **changes: Any) -> DataSource:
    """Change a data source's name, system, description or owner; the event records before
    and after of what changed."""
    if not permissions.can_edit_data_source(actor, source.owner_id):
        audit.refuse(actor, "Only the data source's owner, risk officers and administrators "
                     "change it.", attempted="data_source_update", target=source)
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValidationFailed(f"These fields cannot be changed: {', '.join(sorted(unknown))}.",
                               fields={f: ["Unknown field."] for f in sorted(unknown)})
    changes = _clean(changes, creating=False)
    if owner is not None:
        _check_owner(owner)
    try:
        with transaction.atomic():
            source = DataSource.objects.select_for_update().get(pk=source.pk)
            before = audit.snapshot(source, list(changes))
            for field, value in changes.items():
                setattr(source, field, value)
            diff = audit.changes(source, before, list(changes))
            if owner is not None and owner.pk != source.owner_id:
                diff["owner"] = {"before": source.owner.username, "after": owner.username}
                source.owner = owner
            if not diff:
                return source
            source.updated_at = timezone.now()
            source.save()
            audit.record(action="data_source.update", actor=actor, obj=source,
                         payload={"changes": diff})
    except IntegrityError as exc:
        raise _name_taken(changes.get("name", source.name)) from exc
    return source


def data_source_delete(*, actor: User, source: DataSource) -> None:
    """Delete a data source no model uses any more (unlink it from them first)."""
    if not permissions.can_edit_data_source(actor, source.owner_id):
        audit.refuse(actor, "Only the data source's owner, risk officers and administrators "
                     "delete it.", attempted="data_source_delete", target=source)
    with transaction.atomic():
        source = DataSource.objects.select_for_update().get(pk=source.pk)
        users = RegisteredModel.objects.filter(linked_data_sources=source).count()
        if users:
            raise Conflict(f"{users} model{'s use' if users != 1 else ' uses'} {source.name}; "
                           "unlink it from them (edit each model) before deleting it.")
        audit.record(action="data_source.delete", actor=actor, obj=source, payload={
            "name": source.name, "system": source.system, "owner": source.owner.username})
        source.delete()
