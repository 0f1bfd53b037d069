"""Bar charts: bars per group with confidence intervals (bias metrics), and horizontal bars
ranked by size (SHAP importance, a signed local explanation, PSI per feature with thresholds)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.charts.axes import (
    Clamp,
    band_slots,
    draw_x_axis,
    draw_x_guides,
    draw_y_axis,
    draw_y_guides,
    format_value,
    linear_axis,
    off_axis_notes,
)
from core.charts.data import (
    LIMIT,
    Band,
    Bar,
    BarSeries,
    Reference,
    band_edges,
    finite,
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
    value_text,
)
from core.charts.svg import (
    ID,
    INK,
    MUTED,
    PALETTE,
    SMALL_SIZE,
    TICK_SIZE,
    DataTable,
    Svg,
    clean,
    el,
    hatch_pattern,
    line,
    marker,
    rect,
    series_style,
    text,
    text_width,
)

NA_NOTE = "n/a: no value (missing or not a number)."


def _interval(x: float, top: float, bottom: float, cap: float) -> str:
    """An error bar: a vertical line with caps."""
    return (line(x, top, x, bottom, stroke=INK, width=1.5)
            + line(x - cap, top, x + cap, top, stroke=INK, width=1.5)
            + line(x - cap, bottom, x + cap, bottom, stroke=INK, width=1.5))


def group_bars(series: Sequence[BarSeries], *, title: str, y_label: str,
               x_label: str = "Group", percent: bool = False,
               y_range: tuple[float, float] | None = None,
               references: Sequence[Reference] = (),
               flagged_label: str = "Too few rows to be reliable",
               interval_label: str = "95% confidence interval",
               width: float = 640, height: float = 400) -> Svg:
    """Bars per group (side by side when there are several metrics) with confidence intervals,
    reference lines (the overall rate, the four-fifths threshold 0.8 on a ratio chart) and
    flagged groups (too few rows) hatched and named in the legend.

    Groups are drawn in the order they first appear; the axis always includes zero.
    """
    width, height = dimension(width, 640), dimension(height, 400)
    series = list(series or ())
    references = usable_references(references)
    clamp = Clamp(*(y_range or (-LIMIT, LIMIT)), percent=percent)
    groups: list[str] = []
    bars: dict[tuple[int, str], Bar] = {}
    for index, s in enumerate(series):
        for given in s.bars or ():
            label = clean(given.label)
            if label not in groups:
                groups.append(label)
            bars[(index, label)] = Bar(label, clamp(finite(given.value)),
                                       clamp(finite(given.low)), clamp(finite(given.high)),
                                       bool(given.flagged))
    if not any(bar.value is not None for bar in bars.values()):
        return no_data(title=title, width=width, height=height, what="value")
    values = [v for bar in bars.values() for v in (bar.value, bar.low, bar.high) if v is not None]
    y_axis = linear_axis(values + [r.value for r in references], declared=y_range,
                         include_zero=True, percent=percent,
                         max_ticks=max(2, min(11, int((height - 150) // 34))))
    notes = clamp.notes() + off_axis_notes(y_axis, references, percent)
    if any(bar.value is None for bar in bars.values()):
        notes.append(NA_NOTE)
    styles = [series_style(i) for i in range(len(series))]
    # Several series are told apart by colour, by their place in the group and by a white
    # marker at the foot of each bar, the series' marker of the legend.
    several = len(series) > 1
    legend = ([LegendEntry(s.name, "bar", style.color, style.marker)
               for s, style in zip(series, styles, strict=True)] if several else [])
    flagged = sorted({i for (i, _), bar in bars.items() if bar.flagged})
    if flagged:
        legend.append(LegendEntry(flagged_label, "hatched", styles[flagged[0]].color,
                                  pattern=flagged[0]))
    if any(bar.low is not None or bar.high is not None for bar in bars.values()):
        legend.append(LegendEntry(interval_label, "interval"))
    # Room above the plot for the value label of a bar that reaches the top.
    frame = Frame(width=width, height=height, title=title, x_label=x_label, y_label=y_label,
                  y_tick_width=y_axis.label_width(), legend=legend, notes=notes, top_space=18)
    plot = frame.plot
    zero = y_axis.position(max(y_axis.lo, min(y_axis.hi, 0.0)), plot.bottom, plot.y)
    under, over = draw_y_guides(y_axis, plot, references, (), percent=percent)
    # Value labels go last, on white, so that a reference line never strikes through them.
    parts, labels, values_shown = [under, draw_y_axis(y_axis, plot)], [], []
    show_values = len(groups) * len(series) <= 24
    for (start, slot), group in zip(band_slots(len(groups), plot.x, plot.right, gap=0.2), groups,
                                    strict=True):
        labels.append(text(start + slot / 2, plot.bottom + 6 + TICK_SIZE, group,
                           anchor="middle", max_width=slot * 1.2))
        for index, (bar_x, bar_w) in enumerate(band_slots(len(series), start, start + slot,
                                                          gap=0.1)):
            bar = bars.get((index, group))
            if bar is None:
                continue
            middle = bar_x + bar_w / 2
            if bar.value is None:
                parts.append(text(middle, zero - 4, "n/a", size=SMALL_SIZE, anchor="middle",
                                  fill=MUTED))
                continue
            top = y_axis.position(bar.value, plot.bottom, plot.y)
            color = styles[index].color
            if bar.flagged:
                parts.append(rect(bar_x, min(top, zero), bar_w, abs(zero - top),
                                  fill=f"url(#{ID}-hatch-{index})", stroke=color, width=1.0,
                                  dash="3 2"))
            else:
                parts.append(rect(bar_x, min(top, zero), bar_w, abs(zero - top), fill=color))
            if several and abs(zero - top) >= 16 and bar_w >= 10:
                foot = zero - 8 if top < zero else zero + 8
                parts.append(marker(styles[index].marker, middle, foot, 4,
                                    color if bar.flagged else "#ffffff"))
            ends = [y_axis.position(v, plot.bottom, plot.y) for v in (bar.low, bar.high)
                    if v is not None]
            if ends:
                # With one bound only, the interval runs from the bar's end to it.
                span = ends if len(ends) == 2 else [*ends, top]
                parts.append(_interval(middle, min(span), max(span), min(5.0, bar_w / 4)))
            shown = format_value(bar.value, percent=percent)
            if show_values and text_width(shown, SMALL_SIZE) <= bar_w + 8:
                above = (min(top, zero, *ends) - 4 if bar.value >= 0 else
                         max(top, zero, *ends) + SMALL_SIZE + 2)
                values_shown.append(text(middle, above, shown, size=SMALL_SIZE,
                                         anchor="middle", ground=True))
    parts += [el("g", "".join(labels), class_="x-axis"),
              line(plot.x, zero, plot.right, zero, stroke=MUTED), over, *values_shown]
    defs = "".join(hatch_pattern(f"{ID}-hatch-{i}", styles[i].color) for i in flagged)

    rows, summary = [], []
    for index, s in enumerate(series):
        for group in groups:
            bar = bars.get((index, group))
            if bar is None:
                continue
            interval = ("" if bar.low is None and bar.high is None else
                        f" ({clean(interval_label)} {value_text(bar.low, percent=percent)}"
                        f" to {value_text(bar.high, percent=percent)})")
            flag = f", {clean(flagged_label).lower()}" if bar.flagged else ""
            name = short(group) if len(series) == 1 else f"{short(s.name)}, {short(group)}"
            summary.append(f"{name}: {value_text(bar.value, percent=percent)}{interval}{flag}")
            rows.append((clean(s.name), group, value_text(bar.value, percent=percent),
                         value_text(bar.low, percent=percent),
                         value_text(bar.high, percent=percent),
                         clean(flagged_label) if bar.flagged else ""))
    desc = (f"Bar chart of {clean(y_label)} by {clean(x_label).lower()}. {listing(summary)}."
            + guides_text(references, (), percent=percent))
    data = DataTable(clean(title), ("Series", clean(x_label), clean(y_label), "Interval low",
                                    "Interval high", "Flag"), tuple(rows))
    return frame.render(body="".join(parts), desc=desc, data=data, defs=defs)


def horizontal_bars(values: Mapping[str, float | None], *, title: str, x_label: str,
                    percent: bool = False, value_range: tuple[float, float] | None = None,
                    references: Sequence[Reference] = (), bands: Sequence[Band] = (),
                    top: int | None = 20, positive_label: str = "Raises the score",
                    negative_label: str = "Lowers the score", width: float = 640,
                    bar_height: float = 22) -> Svg:
    """One horizontal bar per name, largest magnitude first: global importance (mean |SHAP|),
    a signed local explanation (positive and negative bars either side of zero, told apart by
    side, colour, the legend and the sign of their value), or PSI per feature with threshold
    lines and bands. Only the ``top`` largest are drawn; the data table has them all. The
    chart is as high as its bars need (``bar_height`` each)."""
    width, bar_height = dimension(width, 640), dimension(bar_height, 22, low=8, high=200)
    references = usable_references(references)
    bands = list(bands or ())
    clamp = Clamp(*(value_range or (-LIMIT, LIMIT)), percent=percent)
    items = [(clean(name), clamp(finite(value))) for name, value in (values or {}).items()]
    if not any(value is not None for _, value in items):
        return no_data(title=title, width=width, height=None, what="value")
    # Largest magnitude first, missing values last; ties keep the given order.
    ranked = [items[i] for i in sorted(
        range(len(items)), key=lambda i: (items[i][1] is None, -abs(items[i][1] or 0.0), i))]
    shown = ranked[: max(top, 1)] if top is not None else ranked
    signed = any(v is not None and v < 0 for _, v in items)
    notes = clamp.notes()
    if len(shown) < len(ranked):
        notes.append(f"Showing the {len(shown)} largest of {len(ranked)} values.")
    if any(v is None for _, v in shown):
        notes.append(NA_NOTE)
    label_width = min(max(text_width(name, TICK_SIZE) for name, _ in shown), width * 0.38)
    x_axis = linear_axis([v for _, v in shown if v is not None]
                         + [r.value for r in references] + band_edges(bands),
                         declared=value_range, include_zero=True, percent=percent,
                         max_ticks=max(2, min(11, int((width - label_width - 60) // 70))))
    notes += off_axis_notes(x_axis, references, percent)
    legend = ([LegendEntry(positive_label, "bar", PALETTE[1]),
               LegendEntry(negative_label, "bar", PALETTE[0])] if signed else [])
    legend += band_entries(bands)
    frame = Frame(width=width, height=None, title=title, x_label=x_label,
                  y_tick_width=label_width, legend=legend, notes=notes,
                  plot_height=bar_height * len(shown), top_space=16 if references else 6)
    plot = frame.plot
    zero = x_axis.position(max(x_axis.lo, min(x_axis.hi, 0.0)), plot.x, plot.right)
    under, over = draw_x_guides(x_axis, plot, references, bands, percent=percent)
    parts, drawn = [under, draw_x_axis(x_axis, plot)], []
    for (start, size), (name, value) in zip(band_slots(len(shown), plot.y, plot.bottom,
                                                      gap=0.25), shown, strict=True):
        middle = start + size / 2
        drawn.append(text(plot.x - 8, middle + TICK_SIZE * 0.35, name, anchor="end",
                          max_width=label_width))
        if value is None:
            drawn.append(text(zero + 4, middle + SMALL_SIZE * 0.35, "n/a", size=SMALL_SIZE,
                              fill=MUTED))
            continue
        end = x_axis.position(value, plot.x, plot.right)
        drawn.append(rect(min(zero, end), start, abs(end - zero), size,
                          fill=PALETTE[1] if signed and value >= 0 else PALETTE[0]))
        label = format_value(value, percent=percent, signed=signed)
        # The value goes past the bar's end, or inside it in white where there is no room.
        outside = text_width(label, SMALL_SIZE) + 6 <= (
            plot.right - end if value >= 0 else end - plot.x)
        forward = (value >= 0) == outside
        drawn.append(text(end + 4 if forward else end - 4, middle + SMALL_SIZE * 0.35, label,
                          size=SMALL_SIZE, anchor="start" if forward else "end",
                          fill=INK if outside else "#ffffff", ground=outside))
    parts += [el("g", "".join(drawn), class_="bars"),
              line(zero, plot.y, zero, plot.bottom, stroke=MUTED), over]

    summary = [f"{short(name)} {value_text(value, percent=percent, signed=signed)}"
               for name, value in ranked]
    desc = (f"Bar chart of {clean(x_label)}, largest first: {listing(summary, 15)}."
            + guides_text(references, bands, percent=percent))
    data = DataTable(clean(title), ("Name", clean(x_label)),
                     tuple((name, value_text(value, percent=percent, signed=signed))
                           for name, value in ranked))
    return frame.render(body="".join(parts), desc=desc, data=data)
