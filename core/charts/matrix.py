"""The confusion matrix: a labelled grid of counts and shares, shaded by share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from core.charts.axes import format_value
from core.charts.data import finite, short
from core.charts.frame import Frame, dimension, listing, no_data
from core.charts.svg import (
    MUTED,
    NA_FILL,
    TICK_SIZE,
    DataTable,
    Svg,
    clean,
    rect,
    text,
    text_width,
)

# ColorBrewer "Blues", a sequential scale that reads the same for every colour vision.
_BLUES = ("#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b")


def _shade(share: float) -> str:
    """The colour of a share between 0 and 1, interpolated along ``_BLUES``."""
    position = min(max(share, 0.0), 1.0) * (len(_BLUES) - 1)
    index = min(int(position), len(_BLUES) - 2)
    low, high = _BLUES[index], _BLUES[index + 1]
    mix = position - index
    channels = [round(int(low[i:i + 2], 16) * (1 - mix) + int(high[i:i + 2], 16) * mix)
                for i in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in channels)


def _luminance(color: str) -> float:
    """Relative luminance as WCAG 2 defines it."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(int(color[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _readable_on(fill: str) -> str:
    """Black or white, whichever contrasts more with ``fill``: at least 4.58:1 on any colour
    (the WCAG AA minimum for text is 4.5:1; our dark ink instead of black would fall to 4:1 on
    mid blues)."""
    background = _luminance(fill)
    return "#ffffff" if 1.05 / (background + 0.05) > (background + 0.05) / 0.05 else "#000000"


def confusion_matrix(counts: Sequence[Sequence[float | None]], labels: Sequence[str], *,
                     normalize: Literal["true", "pred", "all"] = "true",
                     title: str = "Confusion matrix", x_label: str = "Predicted class",
                     y_label: str = "Actual class", width: float = 520) -> Svg:
    """A labelled grid of counts (rows: actual class, columns: predicted class), each cell
    shaded by its share of the row (``normalize="true"``), of the column (``"pred"``) or of the
    whole (``"all"``), with the count and share written in a colour readable on the shade."""
    width = dimension(width, 520)
    grid = [[finite(c) for c in (row or ())] for row in (counts or ())]
    size = max((len(row) for row in grid), default=0)
    grid = [[None if c is None or c < 0 else c for c in row] + [None] * (size - len(row))
            for row in grid]
    if not any(c is not None for row in grid for c in row):
        return no_data(title=title, width=width, height=None, what="count")
    names = [clean(label) for label in (labels or ())]
    names += [f"class {i}" for i in range(len(names), max(size, len(grid)))]
    row_sums = [sum(c or 0.0 for c in row) for row in grid]
    column_sums = [sum(row[j] or 0.0 for row in grid) for j in range(size)]
    total = sum(row_sums)

    def share(i: int, j: int) -> float | None:
        count = grid[i][j]
        whole = {"true": row_sums[i], "pred": column_sums[j]}.get(normalize, total)
        return None if count is None or not whole else count / whole

    # Shades are relative to the largest share, so that a matrix of small shares (of all
    # rows, say) still spans the scale; the percentages give the absolute values.
    largest = max((s for i in range(len(grid)) for j in range(size)
                   if (s := share(i, j)) is not None), default=0.0) or 1.0
    label_width = min(max(text_width(names[i], TICK_SIZE) for i in range(len(grid))),
                      width * 0.3)
    left = Frame.left_margin(y_label, label_width)
    cell = max(min((width - left - 18) / size, 96.0), 4.0)
    # A small matrix makes a narrower chart rather than a wide empty one.
    chart_width = max(left + cell * size + 18, min(width, 360.0))
    what = {"true": "of its actual class (row)", "pred": "of its predicted class (column)"}.get(
        normalize, "of all rows")
    notes = [f"Percentages: each cell's share {what}; darker cells hold larger shares."]
    if any(c is None for row in grid for c in row):
        notes.append("n/a: no count (missing or not a number).")
    frame = Frame(width=chart_width, height=None, title=title, x_label=x_label, y_label=y_label,
                  y_tick_width=label_width, plot_height=cell * len(grid),
                  right_space=chart_width - left - cell * size, notes=notes)
    plot = frame.plot
    font = min(14.0, max(9.0, cell * 0.2))
    parts = []
    for i, row in enumerate(grid):
        y = plot.y + i * cell
        parts.append(text(plot.x - 8, y + cell / 2 + TICK_SIZE * 0.35, names[i], anchor="end",
                          max_width=label_width))
        for j, count in enumerate(row):
            x = plot.x + j * cell
            part = share(i, j)
            fill = NA_FILL if part is None else _shade(part / largest)
            parts.append(rect(x, y, cell, cell, fill=fill, stroke="#ffffff", width=1.5))
            ink = MUTED if part is None else _readable_on(fill)
            first = "n/a" if count is None else format_value(count)
            if cell >= font * 3.2 and part is not None:
                parts.append(text(x + cell / 2, y + cell / 2 - font * 0.15, first, size=font,
                                  anchor="middle", fill=ink, bold=True, max_width=cell - 4))
                parts.append(text(x + cell / 2, y + cell / 2 + font * 1.05,
                                  format_value(part, percent=True), size=font * 0.85,
                                  anchor="middle", fill=ink, max_width=cell - 4))
            elif cell >= font * 1.6:
                parts.append(text(x + cell / 2, y + cell / 2 + font * 0.35, first, size=font,
                                  anchor="middle", fill=ink, max_width=cell - 4))
    for j in range(size):
        parts.append(text(plot.x + j * cell + cell / 2, plot.bottom + 6 + TICK_SIZE, names[j],
                          anchor="middle", max_width=cell + 8))
    cells, rows = [], []
    for i, row in enumerate(grid):
        written = []
        for j, count in enumerate(row):
            part = share(i, j)
            cell_text = "n/a" if count is None else (
                format_value(count) + ("" if part is None else
                                       f" ({format_value(part, percent=True)})"))
            written.append(cell_text)
            cells.append(f"actual {short(names[i], 40)}, predicted {short(names[j], 40)}: "
                         f"{cell_text}")
        rows.append((names[i], *written))
    desc = (f"Confusion matrix of {size} classes and {format_value(total)} rows; each "
            f"percentage is the cell's share {what}. " + listing(cells, 16) + ".")
    data = DataTable(clean(title), (f"{clean(y_label)} \\ {clean(x_label)}", *names[:size]),
                     tuple(rows))
    return frame.render(body="".join(parts), desc=desc, data=data)
