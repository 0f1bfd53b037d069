"""The frame every chart shares: title on top, plot area, axis titles, legend and notes below;
and the wording of what a chart shows, for its description and its data table.

The frame decides the geometry before anything is drawn, from what must fit around the plot (the
widest tick label, the legend's rows, the notes' lines), so that the chart kinds only draw inside
``frame.plot``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from core.charts.axes import Rect, format_value, reference_label
from core.charts.data import TONES, Band, Reference, finite
from core.charts.svg import (
    ID,
    INK,
    LABEL_SIZE,
    MUTED,
    SMALL_SIZE,
    TICK_SIZE,
    TITLE_SIZE,
    DataTable,
    MarkerShape,
    Svg,
    clean,
    document,
    el,
    line,
    marker,
    rect,
    text,
    text_width,
    truncate,
    wrap,
)

PAD = 12
SWATCH = 26
LEGEND_ROW = 20
NOTE_LINE = 15


@dataclass(frozen=True)
class LegendEntry:
    """One entry of a legend; ``kind`` says how its swatch is drawn."""

    label: str
    kind: Literal["line", "bar", "hatched", "band", "reference", "interval"]
    color: str = INK
    marker: MarkerShape | None = None
    dash: str = ""
    pattern: int = 0  # hatched: which series' hatch pattern


def swatch(entry: LegendEntry, x: float, y: float) -> str:
    """The legend's little picture of ``entry``, ``SWATCH`` px wide, centred on ``y``."""
    if entry.kind == "line":
        drawn = line(x, y, x + SWATCH, y, stroke=entry.color, width=2, dash=entry.dash)
        if entry.marker:
            drawn += marker(entry.marker, x + SWATCH / 2, y, 4, entry.color)
        return drawn
    if entry.kind == "reference":
        return line(x, y, x + SWATCH, y, stroke=entry.color, width=1.5, dash=entry.dash or "5 3")
    if entry.kind == "hatched":
        return rect(x + 4, y - 6, SWATCH - 8, 12, fill=f"url(#{ID}-hatch-{entry.pattern})",
                    stroke=entry.color, width=1, dash="3 2")
    if entry.kind == "interval":
        middle = x + SWATCH / 2
        return (line(middle, y - 7, middle, y + 7, stroke=entry.color, width=1.5)
                + line(middle - 4, y - 7, middle + 4, y - 7, stroke=entry.color, width=1.5)
                + line(middle - 4, y + 7, middle + 4, y + 7, stroke=entry.color, width=1.5))
    if entry.kind == "band":
        return rect(x + 2, y - 6, SWATCH - 4, 12, fill=entry.color, stroke=MUTED, width=0.5)
    drawn = rect(x + 4, y - 6, SWATCH - 8, 12, fill=entry.color)
    if entry.marker:
        drawn += marker(entry.marker, x + SWATCH / 2, y, 3, "#ffffff")
    return drawn


def dimension(value: object, default: float, *, low: float = 160.0, high: float = 4000.0
              ) -> float:
    """A size in px as given, kept between ``low`` and ``high``; ``default`` if not a number."""
    number = finite(value)
    return default if number is None else min(max(number, low), high)


class Frame:
    """The geometry of one chart, and the drawing of everything around its plot."""

    def __init__(self, *, width: float, height: float | None, title: str, x_label: str = "",
                 y_label: str = "", y_tick_width: float = 0.0,
                 legend: Sequence[LegendEntry] = (), notes: Sequence[str] = (),
                 x_tick_height: float = TICK_SIZE + 10, top_space: float = 12,
                 right_space: float = 18, plot_height: float | None = None,
                 square: bool = False, min_plot_height: float = 60) -> None:
        """Either ``height`` (the plot takes what is left), ``plot_height`` or ``square`` (a
        plot as high as it is wide; the chart grows to fit either) is given. A height too small
        for what must fit is raised to fit."""
        self.width = float(math.ceil(max(float(width), 160.0)))
        self.title = clean(title)
        self.x_label, self.y_label = clean(x_label), clean(y_label)
        self.legend, self.notes = list(legend), [clean(n) for n in notes]
        inner = self.width - 2 * PAD
        self.note_lines = [ln for note in self.notes for ln in wrap(note, inner, SMALL_SIZE)]
        self.legend_rows = self._legend_rows(inner)

        top = PAD + TITLE_SIZE + 6 + top_space
        left = self.left_margin(self.y_label, y_tick_width)
        below = (x_tick_height + (LABEL_SIZE + 8 if self.x_label else 0)
                 + (len(self.legend_rows) * LEGEND_ROW + 6 if self.legend_rows else 0)
                 + len(self.note_lines) * NOTE_LINE + PAD)
        plot_width = max(self.width - left - right_space, 40.0)
        if square:
            plot_height = plot_width
        elif plot_height is None:
            plot_height = max(min_plot_height, float(height or 0) - top - below)
        # Whole pixels, so that the chart maps onto a page or a screen without a sliver.
        self.height = float(math.ceil(max(float(height or 0), top + plot_height + below)))
        self.plot = Rect(left, top, plot_width, plot_height)
        self.x_tick_height = x_tick_height

    @staticmethod
    def left_margin(y_label: str, y_tick_width: float) -> float:
        """Where the plot starts: after the vertical axis title and the tick labels."""
        return PAD + (LABEL_SIZE + 8 if clean(y_label) else 0) + y_tick_width + 8

    def _legend_rows(self, inner: float) -> list[list[tuple[float, LegendEntry, str]]]:
        """The legend entries flowed into rows: (x offset, entry, label as shown)."""
        rows: list[list[tuple[float, LegendEntry, str]]] = []
        x = inner + 1
        for entry in self.legend:
            label = truncate(clean(entry.label), inner - SWATCH - 6, TICK_SIZE)
            width = SWATCH + 6 + text_width(label, TICK_SIZE)
            if x + width > inner:
                rows.append([])
                x = 0.0
            rows[-1].append((x, entry, label))
            x += width + 18
        return rows

    def render(self, *, body: str, desc: str, data: DataTable, defs: str = "") -> Svg:
        """The whole chart: ``body`` (drawn in ``self.plot``) framed by titles, legend and notes."""
        plot = self.plot
        parts = [text(PAD, PAD + TITLE_SIZE, self.title, size=TITLE_SIZE, bold=True,
                      max_width=self.width - 2 * PAD), body]
        y = plot.bottom + self.x_tick_height
        if self.x_label:
            y += LABEL_SIZE + 2
            parts.append(text(plot.x + plot.w / 2, y, self.x_label, size=LABEL_SIZE,
                              anchor="middle", max_width=self.width - 2 * PAD))
            y += 6
        if self.y_label:
            parts.append(text(PAD + LABEL_SIZE, plot.y + plot.h / 2, self.y_label,
                              size=LABEL_SIZE, anchor="middle", rotate=True,
                              max_width=max(plot.h, 60)))
        if self.legend_rows:
            y += 6
            items = []
            for row in self.legend_rows:
                middle = y + LEGEND_ROW / 2
                for offset, entry, label in row:
                    x = PAD + offset
                    items.append(swatch(entry, x, middle))
                    items.append(text(x + SWATCH + 6, middle + TICK_SIZE * 0.35, label,
                                      max_width=self.width - PAD - x - SWATCH - 6))
                y += LEGEND_ROW
            parts.append(el("g", "".join(items), class_="legend"))
        for note in self.note_lines:
            y += NOTE_LINE
            parts.append(text(PAD, y - 3, note, size=SMALL_SIZE, fill=MUTED, italic=True))
        return document(width=self.width, height=self.height, title=self.title, desc=desc,
                        defs=defs, body="".join(parts), data=data)


def no_data(*, title: str, width: float, height: float | None, what: str) -> Svg:
    """The chart that says there is nothing to draw, rather than failing."""
    frame = Frame(width=width, height=height or 200, title=title, x_tick_height=0,
                  min_plot_height=120)
    plot = frame.plot
    body = rect(plot.x, plot.y, plot.w, plot.h, fill="#ffffff", stroke=MUTED, width=0.5,
                dash="4 3") + text(plot.x + plot.w / 2, plot.y + plot.h / 2 + 5, "No data",
                                   size=LABEL_SIZE, anchor="middle", fill=MUTED)
    message = f"No data: there is no {what} to show."
    return frame.render(body=body, desc=message,
                        data=DataTable(caption=frame.title, columns=(), rows=(), note=message))


# --- words: descriptions and tables -----------------------------------------------------------

def value_text(value: float | None, *, percent: bool = False, signed: bool = False) -> str:
    """A value as the description and the table write it; ``n/a`` when it is missing."""
    return "n/a" if value is None else format_value(value, percent=percent, signed=signed)


def listing(items: Sequence[str], limit: int = 12) -> str:
    """Items for a description, at most ``limit`` of them: the table has them all."""
    shown = "; ".join(items[:limit])
    if len(items) > limit:
        shown += f"; and {len(items) - limit} more (see the data table)"
    return shown


def sample(rows: list[tuple[str, ...]], limit: int) -> list[tuple[str, ...]]:
    """At most ``limit`` rows, evenly spread, keeping the first and the last."""
    if len(rows) <= limit:
        return rows
    picks = sorted({round(i * (len(rows) - 1) / (limit - 1)) for i in range(limit)})
    return [rows[i] for i in picks]


def band_entries(bands: Sequence[Band]) -> list[LegendEntry]:
    """Legend entries naming the shaded bands."""
    return [LegendEntry(band.label, "band", TONES.get(band.tone, TONES["neutral"]))
            for band in bands]


def guides_text(references: Sequence[Reference], bands: Sequence[Band], *,
                percent: bool) -> str:
    """The reference lines and bands of a chart, in words, for its description."""
    words = [f" Reference line {reference_label(r, percent)}." for r in references]
    for band in bands:
        low, high = finite(band.low), finite(band.high)
        low_text, high_text = value_text(low, percent=percent), value_text(high, percent=percent)
        span = (f"from {low_text} to {high_text}" if low is not None and high is not None else
                f"below {high_text}" if high is not None else
                f"above {low_text}" if low is not None else "everywhere")
        words.append(f" Shaded band {clean(band.label)}: {span}.")
    return "".join(words)
