"""Charts of lines on two axes: line charts, reliability diagrams, ROC and precision-recall
curves, time series. A missing value leaves a gap in its line; series differ in colour, marker
and dash pattern."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from core.charts.axes import (
    Axis,
    Clamp,
    Rect,
    draw_x_axis,
    draw_y_axis,
    draw_y_guides,
    format_moment,
    format_value,
    linear_axis,
    off_axis_notes,
    seconds,
    time_axis,
)
from core.charts.data import (
    LIMIT,
    Band,
    CalibrationCurve,
    PrCurve,
    Reference,
    RocCurve,
    Series,
    TimeSeries,
    Values,
    band_edges,
    finite,
    pairs,
    short,
    usable_references,
)
from core.charts.frame import (
    Frame,
    LegendEntry,
    band_entries,
    dimension,
    guides_text,
    listing,
    no_data,
    sample,
    value_text,
)
from core.charts.svg import (
    MUTED,
    DataTable,
    SeriesStyle,
    Svg,
    clean,
    el,
    line,
    marker,
    num,
    series_style,
)

# A series with at most this many points gets a marker on every one; a denser one gets markers
# spaced along its line (they still tell the series apart in grey print).
MARKER_EVERY_POINT = 40
TABLE_ROWS_PER_SERIES = 50

Pixel = tuple[float, float]
Point = tuple[float | None, float | None]


def _thin(points: list[Pixel]) -> list[Pixel]:
    """The points that matter at screen resolution: of each run of consecutive points within
    one pixel column, the first, the lowest, the highest and the last. The drawn line looks the
    same, and a curve of 100,000 points (a ROC curve of a large data set) keeps at most four
    points per pixel of the plot's width."""
    kept: list[Pixel] = []
    run: list[Pixel] = []
    for point in points:
        if run and math.floor(point[0]) != math.floor(run[0][0]):
            kept += _extremes(run)
            run = []
        run.append(point)
    return kept + _extremes(run)


def _extremes(run: list[Pixel]) -> list[Pixel]:
    if len(run) <= 4:
        return run
    lowest = min(range(len(run)), key=lambda i: run[i][1])
    highest = max(range(len(run)), key=lambda i: run[i][1])
    return [run[i] for i in sorted({0, lowest, highest, len(run) - 1})]


def _runs(pixels: Sequence[Pixel | None]) -> list[list[Pixel]]:
    """The runs of drawable points between gaps (missing values)."""
    runs: list[list[Pixel]] = [[]]
    for pixel in pixels:
        if pixel is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(pixel)
    return [run for run in runs if run]


def _spaced(runs: list[list[Pixel]], spacing: float, offset: float) -> list[Pixel]:
    """Points every ``spacing`` px along the lines, the first ``offset`` px in; a run of a
    single point gets its point."""
    spots = []
    for run in runs:
        if len(run) == 1:
            spots.append(run[0])
            continue
        travelled, target = 0.0, offset
        for (ax, ay), (bx, by) in pairwise(run):
            length = math.hypot(bx - ax, by - ay)
            while length and travelled + length >= target:
                share = (target - travelled) / length
                spots.append((ax + (bx - ax) * share, ay + (by - ay) * share))
                target += spacing
            travelled += length
    return spots


def _draw_line(pixels: Sequence[Pixel | None], style: SeriesStyle, *, offset: float,
               radii: Sequence[float] | None = None) -> str:
    runs = [_thin(run) for run in _runs(pixels)]
    parts = [el("path", d="M" + "L".join(f"{num(x)} {num(y)}" for x, y in run), fill="none",
                stroke=style.color, stroke_width=2.0, stroke_dasharray=style.dash or None,
                stroke_linejoin="round")
             for run in runs if len(run) >= 2]
    points = [p for p in pixels if p is not None]
    if radii is not None:
        spots = [(p, r) for p, r in zip(pixels, radii, strict=False) if p is not None]
    elif len(points) <= MARKER_EVERY_POINT:
        spots = [(p, 3.5) for p in points]
    else:
        spots = [(p, 3.5) for p in _spaced(runs, 80.0, 20.0 + offset)]
    parts += [marker(style.marker, x, y, r, style.color) for (x, y), r in spots]
    return el("g", "".join(parts), class_="series")


@dataclass
class _Line:
    label: str  # as the legend shows it
    points: list[Point]
    radii: list[float] | None = None


def _chance_line(plot: Rect, x_axis: Axis, y_axis: Axis, at: float | None) -> str:
    """The dashed line of no skill: the diagonal, or a horizontal line at ``at``."""
    if at is None:
        lo, hi = max(x_axis.lo, y_axis.lo), min(x_axis.hi, y_axis.hi)
        start = (x_axis.position(lo, plot.x, plot.right), y_axis.position(lo, plot.bottom, plot.y))
        end = (x_axis.position(hi, plot.x, plot.right), y_axis.position(hi, plot.bottom, plot.y))
    else:
        y = y_axis.position(at, plot.bottom, plot.y)
        start, end = (plot.x, y), (plot.right, y)
    return line(*start, *end, stroke=MUTED, width=1.5, dash="5 3")


def _max_ticks(length: float, spacing: float) -> int:
    return max(2, min(11, int(length // spacing)))


def _xy_chart(*, lines: Sequence[_Line], title: str, x_label: str, y_label: str, width: float,
              height: float | None, x_range: tuple[float, float] | None,
              y_range: tuple[float, float] | None, x_percent: bool, y_percent: bool,
              notes: list[str], desc: str, data: DataTable, time_x: bool = False,
              chance: tuple[str, float | None] | None = None,
              references: Sequence[Reference] = (), bands: Sequence[Band] = ()) -> Svg:
    """The chart of lines on two numeric (or time and numeric) axes that all kinds here share.
    Without a ``height`` the plot is square (for the unit square of ROC curves and the like)."""
    references = usable_references(references)
    ys = [y for ln in lines for _, y in ln.points if y is not None]
    ys += [r.value for r in references] + band_edges(bands)
    if chance and chance[1] is not None:
        ys.append(chance[1])
    # A square plot gets as many ticks up as across; a wide one ticks more densely upwards.
    y_ticks = _max_ticks(height - 150, 34) if height is not None else _max_ticks(width - 100, 70)
    y_axis = linear_axis(ys, declared=y_range, percent=y_percent, max_ticks=y_ticks)
    notes = notes + off_axis_notes(y_axis, references, y_percent)
    legend: list[LegendEntry] = []
    if len(lines) > 1 or chance:
        legend = [LegendEntry(ln.label, "line", style.color, style.marker, style.dash)
                  for ln, style in zip(lines, map(series_style, range(len(lines))), strict=True)]
    if chance:
        legend.append(LegendEntry(chance[0], "reference", MUTED))
    legend += band_entries(bands)
    frame = Frame(width=width, height=height, title=title, x_label=x_label, y_label=y_label,
                  y_tick_width=y_axis.label_width(), legend=legend, notes=notes,
                  square=height is None)
    plot = frame.plot
    xs = [x for ln in lines for x, _ in ln.points if x is not None]
    if time_x:
        x_axis = time_axis(min(xs), max(xs), width=plot.w)
    else:
        x_axis = linear_axis(xs, declared=x_range, percent=x_percent,
                             max_ticks=_max_ticks(plot.w, 70))
    under, over = draw_y_guides(y_axis, plot, references, bands, percent=y_percent)
    parts = [under, draw_y_axis(y_axis, plot), draw_x_axis(x_axis, plot)]
    if chance:
        parts.append(_chance_line(plot, x_axis, y_axis, chance[1]))
    for index, ln in enumerate(lines):
        pixels = [None if x is None or y is None else
                  (x_axis.position(x, plot.x, plot.right), y_axis.position(y, plot.bottom, plot.y))
                  for x, y in ln.points]
        parts.append(_draw_line(pixels, series_style(index), offset=index * 13.0,
                                radii=ln.radii))
    parts.append(over)
    desc += guides_text(references, bands, percent=y_percent)
    return frame.render(body="".join(parts), desc=desc, data=data)


def _has_points(lines: Sequence[_Line]) -> bool:
    return any(x is not None and y is not None for ln in lines for x, y in ln.points)


def _clamped(points: list[Point], cx: Clamp, cy: Clamp) -> list[Point]:
    return [(cx(x), cy(y)) for x, y in points]


def _point_rows(lines: Sequence[_Line], x_percent: bool, y_percent: bool
                ) -> tuple[tuple[str, ...], ...]:
    """The table rows of the lines' points, long series thinned to evenly spaced points."""
    return tuple(row for ln in lines for row in sample(
        [(ln.label, value_text(x, percent=x_percent), value_text(y, percent=y_percent))
         for x, y in ln.points], TABLE_ROWS_PER_SERIES))


def _table_note(lines: Sequence[_Line]) -> str:
    if any(len(ln.points) > TABLE_ROWS_PER_SERIES for ln in lines):
        return (f"a series of more than {TABLE_ROWS_PER_SERIES} points is shown by "
                f"{TABLE_ROWS_PER_SERIES} evenly spaced ones")
    return ""


def _path_summary(ln: _Line, x_percent: bool, y_percent: bool, limit: int = 8) -> str:
    steps = ", ".join(f"{value_text(x, percent=x_percent)} \u2192 "
                      f"{value_text(y, percent=y_percent)}" for x, y in ln.points[:limit])
    return f"{short(ln.label)}: {steps}" + (" \u2026" if len(ln.points) > limit else "")


# --- the kinds --------------------------------------------------------------------------------

def line_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str,
               x_percent: bool = False, y_percent: bool = False,
               x_range: tuple[float, float] | None = None,
               y_range: tuple[float, float] | None = None,
               references: Sequence[Reference] = (), width: float = 640,
               height: float = 400) -> Svg:
    """Several lines of y against x: a robustness curve (metric against noise level) per
    perturbation, for example. Missing values leave a gap in their line."""
    width, height = dimension(width, 640), dimension(height, 400)
    notes: list[str] = []
    cx = Clamp(*(x_range or (-LIMIT, LIMIT)), percent=x_percent)
    cy = Clamp(*(y_range or (-LIMIT, LIMIT)), percent=y_percent)
    lines = [_Line(clean(s.name), _clamped(pairs(s.name, s.x, s.y, notes), cx, cy))
             for s in series or ()]
    if not _has_points(lines):
        return no_data(title=title, width=width, height=height, what="value")
    notes += cx.notes("x value") + cy.notes("y value")
    desc = (f"Line chart of {clean(y_label)} against {clean(x_label)}. "
            + listing([_path_summary(ln, x_percent, y_percent) for ln in lines]))
    data = DataTable(clean(title), ("Series", clean(x_label), clean(y_label)),
                     _point_rows(lines, x_percent, y_percent), _table_note(lines))
    return _xy_chart(lines=lines, title=title, x_label=x_label, y_label=y_label, width=width,
                     height=height, x_range=x_range, y_range=y_range, x_percent=x_percent,
                     y_percent=y_percent, notes=notes, desc=desc, data=data,
                     references=references)


def reliability_diagram(curves: Sequence[CalibrationCurve], *,
                        title: str = "Reliability diagram",
                        x_label: str = "Mean predicted probability",
                        y_label: str = "Observed rate", percent: bool = False,
                        width: float = 520) -> Svg:
    """Calibration: per bin the observed rate against the mean predicted score, with the
    diagonal of perfect calibration, on a square plot. A marker's area grows with its bin's
    number of rows; an empty bin is a gap."""
    width = dimension(width, 520)
    notes: list[str] = []
    cx, cy = Clamp(0.0, 1.0, percent=percent), Clamp(0.0, 1.0, percent=percent)
    lines, counts_by_line = [], []
    for curve in curves or ():
        points = _clamped(pairs(curve.name, curve.predicted, curve.observed, notes), cx, cy)
        counts = [finite(c) for c in list(curve.counts or ())[: len(points)]]
        counts += [None] * (len(points) - len(counts))
        points = [(x, y) if c is None or c > 0 else (None, None)
                  for (x, y), c in zip(points, counts, strict=True)]
        lines.append(_Line(clean(curve.name), points))
        counts_by_line.append(counts)
    if not _has_points(lines):
        return no_data(title=title, width=width, height=None, what="calibration bin")
    largest = max((c for counts in counts_by_line for c in counts if c), default=0.0)
    if largest:
        for ln, counts in zip(lines, counts_by_line, strict=True):
            ln.radii = [2.5 + 5.5 * math.sqrt(max(c, 0.0) / largest) if c else 3.5
                        for c in counts]
        notes.append("Marker area grows with the number of rows in the bin.")
    notes += cx.notes("predicted score") + cy.notes("observed rate")
    rows = tuple((ln.label, value_text(x, percent=percent), value_text(y, percent=percent),
                  value_text(count))
                 for ln, counts in zip(lines, counts_by_line, strict=True)
                 for (x, y), count in zip(ln.points, counts, strict=True))
    desc = ("Reliability diagram: observed rate against mean predicted score per bin; a "
            "perfectly calibrated model lies on the diagonal. "
            + listing([_path_summary(ln, percent, percent, 10) for ln in lines]))
    data = DataTable(clean(title), ("Series", clean(x_label), clean(y_label), "Rows"), rows)
    return _xy_chart(lines=lines, title=title, x_label=x_label, y_label=y_label, width=width,
                     height=None, x_range=(0.0, 1.0), y_range=(0.0, 1.0), x_percent=percent,
                     y_percent=percent, notes=notes, desc=desc, data=data,
                     chance=("Perfect calibration", None))


def _curve_chart(curves: Sequence[tuple[str, Values, Values, float | None]], *, kind: str,
                 score: str, title: str, x_label: str, y_label: str, percent: bool,
                 width: float, chance: tuple[str, float | None] | None) -> Svg:
    """ROC and precision-recall curves: lines on the unit square, their score in the legend."""
    width = dimension(width, 520)
    notes: list[str] = []
    cx, cy = Clamp(0.0, 1.0, percent=percent), Clamp(0.0, 1.0, percent=percent)
    lines = []
    for name, xs, ys, value in curves:
        shown = finite(value)
        label = clean(name) + (f" ({score} {shown:.3f})" if shown is not None else "")
        lines.append(_Line(label, _clamped(pairs(name, xs, ys, notes), cx, cy)))
    if not _has_points(lines):
        return no_data(title=title, width=width, height=None, what="curve")
    notes += cx.notes(clean(x_label).lower()) + cy.notes(clean(y_label).lower())
    desc = f"{kind} of {len(lines)} series: " + listing([short(ln.label, 90) for ln in lines])
    if chance:
        desc += f". {clean(chance[0])} is drawn dashed."
    data = DataTable(clean(title), ("Series", clean(x_label), clean(y_label)),
                     _point_rows(lines, percent, percent), _table_note(lines))
    return _xy_chart(lines=lines, title=title, x_label=x_label, y_label=y_label, width=width,
                     height=None, x_range=(0.0, 1.0), y_range=(0.0, 1.0), x_percent=percent,
                     y_percent=percent, notes=notes, desc=desc, data=data, chance=chance)


def roc_curve(curves: Sequence[RocCurve], *, title: str = "ROC curve",
              x_label: str = "False positive rate", y_label: str = "True positive rate",
              percent: bool = False, width: float = 520) -> Svg:
    """ROC curves (e.g. two versions compared) on a square plot, the chance diagonal, the AUC
    in the legend."""
    return _curve_chart([(c.name, c.fpr, c.tpr, c.auc) for c in curves or ()],
                        kind="ROC curve", score="AUC", title=title, x_label=x_label,
                        y_label=y_label, percent=percent, width=width,
                        chance=("Chance (AUC 0.5)", None))


def pr_curve(curves: Sequence[PrCurve], *, prevalence: float | None = None,
             title: str = "Precision\u2013recall curve", x_label: str = "Recall",
             y_label: str = "Precision", percent: bool = False, width: float = 520) -> Svg:
    """Precision-recall curves on a square plot, the average precision in the legend; with
    ``prevalence``, the line of a classifier without skill (precision = prevalence)."""
    base = finite(prevalence)
    chance = None
    if base is not None:
        base = min(max(base, 0.0), 1.0)
        chance = (f"No skill (prevalence {format_value(base, percent=percent)})", base)
    return _curve_chart([(c.name, c.recall, c.precision, c.average_precision)
                         for c in curves or ()],
                        kind="Precision\u2013recall curve", score="AP", title=title,
                        x_label=x_label, y_label=y_label, percent=percent, width=width,
                        chance=chance)


def time_series(series: Sequence[TimeSeries], *, title: str, y_label: str,
                x_label: str = "Date", percent: bool = False,
                y_range: tuple[float, float] | None = None,
                references: Sequence[Reference] = (), bands: Sequence[Band] = (),
                width: float = 640, height: float = 360) -> Svg:
    """A metric over dates, e.g. a monitored AUC, with threshold lines and shaded bands.
    Points are drawn in time order; one without a usable date is left out."""
    width, height = dimension(width, 640), dimension(height, 360)
    notes: list[str] = []
    cy = Clamp(*(y_range or (-LIMIT, LIMIT)), percent=percent)
    lines, with_time = [], False
    for s in series or ():
        dates = list(s.dates or ())
        with_time = with_time or any(isinstance(d, datetime) and (d.hour or d.minute)
                                     for d in dates)
        dated = pairs(s.name, [seconds(d) for d in dates], s.values, notes)
        points = sorted(((x, cy(y)) for x, y in dated if x is not None), key=lambda p: p[0])
        lines.append(_Line(clean(s.name), list(points)))
    if not _has_points(lines):
        return no_data(title=title, width=width, height=height, what="value")
    notes += cy.notes()
    unit = "hour" if with_time else "day"
    rows: list[tuple[str, ...]] = []
    summary = []
    for ln in lines:
        rows += [(ln.label, format_moment(x, unit), value_text(y, percent=percent))
                 for x, y in ln.points if x is not None]
        known = [(x, y) for x, y in ln.points if x is not None and y is not None]
        if known:
            low, high = min(y for _, y in known), max(y for _, y in known)
            summary.append(
                f"{short(ln.label)}: {len(known)} values from {format_moment(known[0][0], unit)}"
                f" to {format_moment(known[-1][0], unit)}, between "
                f"{format_value(low, percent=percent)} and {format_value(high, percent=percent)}"
                f", last {format_value(known[-1][1], percent=percent)}")
    desc = f"{clean(y_label)} over time. " + listing(summary)
    data = DataTable(clean(title), ("Series", clean(x_label), clean(y_label)), tuple(rows))
    return _xy_chart(lines=lines, title=title, x_label=x_label, y_label=y_label, width=width,
                     height=height, x_range=None, y_range=y_range, x_percent=False,
                     y_percent=percent, notes=notes, desc=desc, data=data, time_x=True,
                     references=references, bands=bands)
