"""A layered graph: boxes in columns, upstream on the left, arrows to what depends on them.

Drawn for the dependency graph of models (registry.dependencies), on the model page and in PDFs
alike. The layout is the simple layered one (after Sugiyama et al., 1981, without crossing
reduction): each node's column is the length of the longest path reaching it, rows within a
column keep the caller's order. A cycle in the input (the registry refuses them) does not hang
the layout: nodes on it are placed in the first column that follows their placed predecessors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.charts.data import short
from core.charts.frame import dimension, listing
from core.charts.svg import (
    INK,
    LABEL_SIZE,
    MUTED,
    SMALL_SIZE,
    TITLE_SIZE,
    DataTable,
    Svg,
    clean,
    document,
    el,
    num,
    rect,
    text,
)

# Fill and outline per tone: the node's state at a glance, with the state also written in words.
TONES: dict[str, tuple[str, str]] = {
    "ok": ("#e7f4ee", "#009E73"),
    "warn": ("#fdf1dc", "#E69F00"),
    "bad": ("#fbe6dc", "#D55E00"),
    "": ("#f1f3f6", "#8a94a6"),
}
NODE_HEIGHT = 44.0
ROW_GAP = 14.0
COLUMN_GAP = 48.0
TOP = 34.0
MARGIN = 10.0


@dataclass(frozen=True)
class GraphNode:
    """One box: ``key`` is what edges name, ``label`` its first line, ``detail`` its second
    (a state), ``tone`` one of TONES; ``focus`` outlines it heavier (the page's own model)."""

    key: str
    label: str
    detail: str = ""
    tone: str = ""
    focus: bool = False


def layers(keys: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """The column of each node: 0 without predecessors, else one more than the furthest one."""
    preds: dict[str, list[str]] = {k: [] for k in keys}
    for frm, to in edges:
        if frm in preds and to in preds and frm != to:
            preds[to].append(frm)
    column: dict[str, int] = {}
    pending = list(keys)
    while pending:
        progressed = False
        for key in list(pending):
            if all(p in column for p in preds[key]):
                column[key] = 1 + max((column[p] for p in preds[key]), default=-1)
                pending.remove(key)
                progressed = True
        if not progressed:  # a cycle: place its first node after what is placed already
            key = pending.pop(0)
            column[key] = 1 + max((column[p] for p in preds[key] if p in column), default=-1)
    return column


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    """A curve from the right edge of one box to the left edge of another, with its head drawn
    as a plain triangle (WeasyPrint draws SVG ``<marker>``s unevenly)."""
    bend = max((x2 - x1) / 2, 12.0)
    path = (f"M{num(x1)} {num(y1)}C{num(x1 + bend)} {num(y1)} {num(x2 - bend)} {num(y2)} "
            f"{num(x2 - 7)} {num(y2)}")
    head = f"{num(x2)},{num(y2)} {num(x2 - 8)},{num(y2 - 4)} {num(x2 - 8)},{num(y2 + 4)}"
    return (el("path", d=path, fill="none", stroke=MUTED, stroke_width=1.4)
            + el("polygon", points=head, fill=MUTED))


def dependency_graph(nodes: Sequence[GraphNode], edges: Sequence[tuple[str, str]], *,
                     title: str, width: float = 720) -> Svg:
    """Boxes for ``nodes`` in layered columns and an arrow for each ``(from, to)`` edge, from
    what is depended on to what depends on it. The data table lists each node, its detail and
    what it depends on."""
    width = dimension(width, 720)
    keys = list(dict.fromkeys(n.key for n in nodes))
    by_key = {n.key: n for n in nodes}
    edges = [(a, b) for a, b in dict.fromkeys(edges) if a in by_key and b in by_key and a != b]
    column = layers(keys, edges)
    count = max(column.values(), default=-1) + 1
    columns: list[list[str]] = [[k for k in keys if column[k] == c] for c in range(count)]
    rows = max((len(c) for c in columns), default=0)
    box = (width - 2 * MARGIN - COLUMN_GAP * max(count - 1, 0)) / max(count, 1)
    box = max(box, 60.0)
    height = TOP + rows * (NODE_HEIGHT + ROW_GAP) + MARGIN
    place: dict[str, tuple[float, float]] = {}
    for c, members in enumerate(columns):
        # Shorter columns are centred against the tallest.
        offset = (rows - len(members)) * (NODE_HEIGHT + ROW_GAP) / 2
        for r, key in enumerate(members):
            place[key] = (MARGIN + c * (box + COLUMN_GAP), TOP + offset + r * (NODE_HEIGHT + ROW_GAP))
    parts = [text(MARGIN, TITLE_SIZE + 4, clean(title), size=TITLE_SIZE, bold=True,
                  max_width=width - 2 * MARGIN)]
    for frm, to in edges:
        (x1, y1), (x2, y2) = place[frm], place[to]
        parts.append(_arrow(x1 + box, y1 + NODE_HEIGHT / 2, x2, y2 + NODE_HEIGHT / 2))
    for key in keys:
        node, (x, y) = by_key[key], place[key]
        fill, stroke = TONES.get(node.tone, TONES[""])
        parts.append(rect(x, y, box, NODE_HEIGHT, fill=fill, stroke=INK if node.focus else stroke,
                          width=2.5 if node.focus else 1.2))
        parts.append(text(x + 6, y + 18, node.label, size=LABEL_SIZE, bold=node.focus,
                          max_width=box - 12))
        if node.detail:
            parts.append(text(x + 6, y + 35, node.detail, size=SMALL_SIZE, fill=MUTED,
                              max_width=box - 12))
    depends = {k: [by_key[a].label for a, b in edges if b == k] for k in keys}
    table_rows = tuple((clean(by_key[k].label), clean(by_key[k].detail),
                        ", ".join(sorted(clean(d) for d in depends[k])) or "—") for k in keys)
    desc = (f"{len(keys)} models and {len(edges)} dependencies. "
            + listing([f"{short(by_key[b].label, 40)} depends on {short(by_key[a].label, 40)}"
                       for a, b in edges], 16) + ".") if edges else \
        f"{len(keys)} model{'s' if len(keys) != 1 else ''} and no dependencies."
    data = DataTable(clean(title), ("Model", "State", "Depends on"), table_rows)
    return document(width=width, height=height, title=clean(title), desc=desc, defs="",
                    body="".join(parts), data=data)
