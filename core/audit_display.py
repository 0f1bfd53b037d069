"""The audit trail as people read it: names of people, models and objects instead of ids.

Events store ids and usernames as plain values (a deleted user or model leaves the trail
untouched), so the names are looked up when a page is shown, in one query per kind of object for
a whole page of events. What no longer exists is shown by its stored id, marked as deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, reverse

from core.models import AuditEvent, User


@dataclass(frozen=True)
class Named:
    """Something an event refers to, as a person reads it: its name and, if it has one, its page."""

    label: str
    url: str = ""
    gone: bool = False
    key: str = ""  # what filters name it by (a model's slug)


@dataclass(frozen=True)
class ReadableEvent:
    """An event with the names of who, what and which model, for the trail's pages."""

    event: AuditEvent
    actor: Named
    action: str
    subject: Named
    model: Named | None


def person_name(user: User) -> str:
    full_name = user.get_full_name().strip()
    return f"{full_name} ({user.username})" if full_name else user.username


def action_label(action: str) -> str:
    """``version.sign_off`` → "Version sign off": the dotted code in words."""
    words = action.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _people(ids: set[int]) -> dict[int, Named]:
    return {user.pk: Named(person_name(user))
            for user in User.objects.filter(pk__in=ids).only("username", "first_name",
                                                              "last_name")}


def _url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _model_url(slug: str) -> str:
    return _url("registry:model-detail", slug)


# Pages of the objects the trail refers to most, by object type (core imports no app above it,
# so these are named, not imported); other objects link where they define get_absolute_url.
_PAGES = {
    "registry.registeredmodel": lambda obj: _model_url(obj.slug),
    "registry.modelversion": lambda obj: _url("registry:version-detail", obj.model.slug,
                                              obj.number),
}


def _object_url(object_type: str, obj: Any) -> str:
    if object_type in _PAGES:
        return str(_PAGES[object_type](obj))
    get_url = getattr(obj, "get_absolute_url", None)
    if not callable(get_url):
        return ""
    try:
        return str(get_url())
    except NoReverseMatch:
        return ""


def _models(ids: set[int]) -> dict[int, Named]:
    # core imports no app above it; the registry's model is looked up by name at run time.
    registered_model = apps.get_model("registry", "RegisteredModel")
    return {pk: Named(name, _model_url(slug), key=slug)
            for pk, name, slug in registered_model.objects.filter(pk__in=ids)
            .values_list("pk", "name", "slug")}


def _object_class(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _related_for_names(model_class: type[models.Model]) -> list[str]:
    """Foreign keys that objects' names are commonly built from (a version's model, a finding's
    version), fetched with them so that naming a page of objects stays one query per kind."""
    related = []
    for name in ("model", "version"):
        try:
            field = model_class._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if field.many_to_one:
            related.append(name)
    if "version" in related:
        related.append("version__model")
    return related


def _objects(keys: set[tuple[str, str]]) -> dict[tuple[str, str], Named]:
    by_type: dict[str, set[str]] = defaultdict(set)
    for object_type, object_id in keys:
        by_type[object_type].add(object_id)
    named: dict[tuple[str, str], Named] = {}
    for object_type, object_ids in by_type.items():
        model_class = _object_class(object_type)
        if model_class is None:
            continue
        kind = str(model_class._meta.verbose_name)
        pk_field = model_class._meta.pk
        # An id of another shape (a key id, a slug) is not a row that can be named here.
        wanted = [object_id for object_id in object_ids
                  if object_id.isdigit() or not isinstance(pk_field, models.AutoField)]
        found = (model_class._default_manager.filter(pk__in=wanted)
                 .select_related(*_related_for_names(model_class)))
        for obj in found:
            named[(object_type, str(obj.pk))] = Named(f"{kind} {obj}",
                                                      _object_url(object_type, obj))
    return named


def _fallback_subject(event: AuditEvent) -> Named:
    if not event.object_type:
        return Named("")
    model_class = _object_class(event.object_type)
    kind = str(model_class._meta.verbose_name) if model_class else event.object_type
    label = f"{kind} {event.object_id}".strip()
    return Named(label, gone=model_class is not None and bool(event.object_id))


def readable(events: Sequence[AuditEvent]) -> list[ReadableEvent]:
    """Name the people, models and objects of a page of events (a few queries for the page)."""
    people = _people({e.actor_id for e in events if e.actor_id is not None})
    model_names = _models({e.model_id for e in events if e.model_id is not None})
    subjects = _objects({(e.object_type, e.object_id) for e in events
                         if e.object_type and e.object_id})
    rows = []
    for event in events:
        if event.actor_id is None:
            actor = Named(event.actor_username or "system")
        else:
            actor = people.get(event.actor_id, Named(event.actor_username or f"user {event.actor_id}",
                                                     gone=True))
        model = None
        if event.model_id is not None:
            model = model_names.get(event.model_id, Named(f"model {event.model_id}", gone=True))
        subject = subjects.get((event.object_type, event.object_id)) or _fallback_subject(event)
        rows.append(ReadableEvent(event=event, actor=actor, action=action_label(event.action),
                                  subject=subject, model=model))
    return rows


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


def payload_changes(payload: Any) -> list[Change]:
    """The before/after pairs an update recorded (``{"changes": {field: {before, after}}}`` or
    the fields at the top level), for a table on the event's page."""
    if not isinstance(payload, dict):
        return []
    nested = payload.get("changes")
    source: dict[str, Any] = nested if isinstance(nested, dict) else payload
    return [Change(field, value.get("before"), value.get("after"))
            for field, value in sorted(source.items())
            if isinstance(value, dict) and "after" in value]


def people_choices() -> list[tuple[str, str]]:
    """Everyone who has an account, as (username, "Name (username)"), for the person filter."""
    return [(user.username, person_name(user))
            for user in User.objects.order_by("username").only("username", "first_name",
                                                                "last_name")]


def model_choices() -> list[tuple[str, str]]:
    """Every model as (slug, name), for the model filter."""
    registered_model = apps.get_model("registry", "RegisteredModel")
    return list(registered_model.objects.order_by("name").values_list("slug", "name"))
