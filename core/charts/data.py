"""What the charts take: plain frozen dataclasses of names and numbers, and how their values are
read. A value that is None, NaN, infinite or not a number at all is *missing*: drawn as a gap or
"n/a", never an error.

Sequences are lists or tuples (``array.tolist()`` for a NumPy array).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, SupportsFloat

from core.charts.svg import clean

# Values beyond this magnitude are clamped (with a note): nothing we chart is that large, and
# beyond it spans and tick steps could overflow a float.
LIMIT = 1e15

Values = Sequence[float | None]
Tone = Literal["neutral", "ok", "warn", "bad"]
# Band fills, light enough for lines and bars to stay readable over them (the page's badge colours).
TONES: dict[str, str] = {"neutral": "#eef1f5", "ok": "#e3f2e6", "warn": "#fdf0dc", "bad": "#fbe4e1"}


def finite(value: object) -> float | None:
    """``value`` as a float, or None when it is missing, not a number, NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, SupportsFloat):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Series:
    """One line of a line chart: ``y`` against ``x`` (e.g. accuracy against noise level)."""

    name: str
    x: Values
    y: Values


@dataclass(frozen=True)
class CalibrationCurve:
    """One series of a reliability diagram: per bin the mean predicted score, the observed rate
    and (optionally) the number of rows, which sets the size of the bin's marker."""

    name: str
    predicted: Values
    observed: Values
    counts: Values = ()


@dataclass(frozen=True)
class RocCurve:
    """A ROC curve (points in order, as ``sklearn.metrics.roc_curve`` gives them) and its AUC."""

    name: str
    fpr: Values
    tpr: Values
    auc: float | None = None


@dataclass(frozen=True)
class PrCurve:
    """A precision-recall curve and its average precision."""

    name: str
    recall: Values
    precision: Values
    average_precision: float | None = None


@dataclass(frozen=True)
class TimeSeries:
    """A metric over time: ``dates`` are dates or datetimes (naive ones are taken as UTC)."""

    name: str
    dates: Sequence[date]
    values: Values


@dataclass(frozen=True)
class Bar:
    """One bar: a value with an optional confidence interval; ``flagged`` bars (e.g. a group
    with too few rows) are drawn hatched and named in the legend."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    flagged: bool = False


@dataclass(frozen=True)
class BarSeries:
    """The bars of one metric, one per group; several series are drawn side by side."""

    name: str
    bars: Sequence[Bar] = field(default_factory=tuple)


@dataclass(frozen=True)
class Reference:
    """A reference line at ``value`` (an overall rate, the four-fifths threshold, a PSI limit),
    labelled on the chart."""

    value: float
    label: str = ""


@dataclass(frozen=True)
class Band:
    """A shaded range of values (``None``: to the edge of the axis), named in the legend."""

    low: float | None
    high: float | None
    label: str
    tone: Tone = "neutral"



def short(value: object, limit: int = 60) -> str:
    """A name for a description: cleaned and cut, so a 10,000-character name stays a name."""
    name = clean(value)
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def pairs(name: str, xs: Sequence[object], ys: Sequence[object], notes: list[str]
          ) -> list[tuple[float | None, float | None]]:
    """x and y paired; lengths that disagree are cut to the shorter, with a note."""
    xs, ys = list(xs or ()), list(ys or ())
    if len(xs) != len(ys):
        notes.append(f"{short(name)}: {len(xs)} x values but {len(ys)} y values; "
                     f"only the first {min(len(xs), len(ys))} are drawn.")
    return [(finite(x), finite(y)) for x, y in zip(xs, ys, strict=False)]


def usable_references(references: Sequence[Reference]) -> list[Reference]:
    """The references with a value that can be drawn."""
    return [r for r in references or () if finite(r.value) is not None and abs(r.value) <= LIMIT]


def band_edges(bands: Sequence[Band]) -> list[float]:
    """The finite edges of ``bands``, which the axis must include."""
    return [v for b in bands or () for v in (finite(b.low), finite(b.high))
            if v is not None and abs(v) <= LIMIT]
