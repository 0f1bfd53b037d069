"""The dependency graph of models: ``upstream_models`` links read as a directed graph.

An edge runs from a model to each model that depends on it (its downstream). The graph is kept
acyclic by ``cycle_through`` (model_create/model_update refuse a link that would close a cycle),
so "everything downstream" is finite and the layered drawing (core.charts.dependency_graph) has
an order. Reads walk the through table breadth-first, one query per level.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from core.charts import GraphNode, Svg, dependency_graph
from registry.models import RegisteredModel, VersionState

Links = RegisteredModel.upstream_models.through
# Taken (transaction-scoped) by every change of upstream links, so two concurrent changes cannot
# each pass the cycle check and together close a cycle. An arbitrary constant of its own.
GRAPH_LOCK_KEY = 7_318_004_211


def lock_graph() -> None:
    """Serialise changes to the graph until the transaction ends (PostgreSQL; SQLite's single
    writer serialises them already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GRAPH_LOCK_KEY])


def _walk(start: Iterable[int], *, downstream: bool) -> dict[int, tuple[int, int]]:
    """Every model reachable from ``start`` (not counting them unless reached again), as
    id -> (distance, the id it was reached from)."""
    frm, to = ("to_registeredmodel_id", "from_registeredmodel_id") if downstream else \
        ("from_registeredmodel_id", "to_registeredmodel_id")
    seen: dict[int, tuple[int, int]] = {}
    frontier, depth = set(start), 0
    while frontier:
        depth += 1
        step = Links.objects.filter(**{f"{frm}__in": frontier}).values_list(frm, to)
        frontier = set()
        for parent, child in step:
            if child not in seen:
                seen[child] = (depth, parent)
                frontier.add(child)
    return seen


def downstream_ids(model_id: int) -> dict[int, tuple[int, int]]:
    """Every model that depends on the model, directly or through others: id -> (how many links
    away, the upstream model it depends on along the shortest path)."""
    found = _walk([model_id], downstream=True)
    found.pop(model_id, None)
    return found


def upstream_ids(model_id: int) -> dict[int, tuple[int, int]]:
    """Every model the model depends on, directly or through others."""
    found = _walk([model_id], downstream=False)
    found.pop(model_id, None)
    return found


def cycle_through(model: RegisteredModel, upstream: Iterable[RegisteredModel]) -> list[str]:
    """The names along the cycle that linking ``upstream`` to ``model`` would close (first the
    model, then its way back round to itself), or [] when there is none."""
    below = downstream_ids(model.pk)
    for candidate in upstream:
        if candidate.pk == model.pk:
            return [model.name, model.name]
        if candidate.pk in below:
            path = [candidate.pk]
            while path[-1] != model.pk:
                path.append(below[path[-1]][1])
            names = dict(RegisteredModel.objects.filter(pk__in=path).values_list("pk", "name"))
            # model -> candidate (the new link) -> ... -> model (the existing links).
            return [model.name] + [names[pk] for pk in path]
    return []


@dataclass(frozen=True)
class Neighbour:
    """A model up- or downstream of another, as the model page and the API show it."""

    model: RegisteredModel
    distance: int
    via: RegisteredModel | None  # the model it is reached through (None: directly linked)


def neighbours(model: RegisteredModel, *, downstream: bool,
               visible: Iterable[int] | None = None) -> list[Neighbour]:
    """The models up- or downstream of ``model``, nearest first. With ``visible`` (ids), only
    those are returned; the walk itself goes through every model, so a hidden model in the
    middle does not hide what lies beyond it."""
    found = _walk([model.pk], downstream=downstream)
    found.pop(model.pk, None)
    allowed = None if visible is None else set(visible)
    ids = [pk for pk in found if allowed is None or pk in allowed]
    rows = RegisteredModel.objects.in_bulk(set(ids) | {via for _, via in found.values()})
    out = [Neighbour(rows[pk], found[pk][0],
                     None if found[pk][0] == 1 else rows.get(found[pk][1])) for pk in ids]
    return sorted(out, key=lambda n: (n.distance, n.model.name))


STATE_TONES: dict[str, str] = {
    VersionState.APPROVED: "ok",
    VersionState.SUSPENDED: "bad",
    VersionState.RETIRED: "bad",
    VersionState.REJECTED: "bad",
    VersionState.CHANGES_REQUESTED: "warn",
    VersionState.SUBMITTED: "warn",
    VersionState.IN_VALIDATION: "warn",
    VersionState.PENDING_APPROVAL: "warn",
}


def graph_chart(model: RegisteredModel, visible: Iterable[int], *, width: float = 720) -> Svg:
    """The model with everything up- and downstream of it that the viewer may see, each with
    the state of its newest version, as a layered SVG (core.charts): for the model page and
    reports alike."""
    allowed = set(visible)
    ids = {model.pk} | {pk for pk in upstream_ids(model.pk) if pk in allowed} \
        | {pk for pk in downstream_ids(model.pk) if pk in allowed}
    rows = RegisteredModel.objects.in_bulk(ids)
    edges = Links.objects.filter(from_registeredmodel_id__in=ids,
                                 to_registeredmodel_id__in=ids).order_by(
        "to_registeredmodel_id", "from_registeredmodel_id").values_list(
        "to_registeredmodel_id", "from_registeredmodel_id")
    ordered = sorted(rows.values(), key=lambda m: m.name)
    nodes = [GraphNode(key=str(m.pk), label=m.name, detail=m.get_status_display(),
                       tone=STATE_TONES.get(m.status, ""), focus=m.pk == model.pk)
             for m in ordered]
    return dependency_graph(nodes, [(str(a), str(b)) for a, b in edges],
                            title=f"Dependencies of {model.name}", width=width)
