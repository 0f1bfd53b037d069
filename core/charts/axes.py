"""Scales and axes: where a value lands, which ticks an axis gets, how its numbers and dates read
(``0.3``, never ``0.30000000000000004``; ``30%`` when asked for rates), and the guides drawn
along an axis (reference lines and shaded bands)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from core.charts.data import LIMIT, TONES, Band, Reference, finite
from core.charts.svg import (
    AXIS,
    GRID,
    INK,
    MUTED,
    SMALL_SIZE,
    TICK_SIZE,
    clean,
    el,
    line,
    rect,
    text,
    text_width,
)

MINUS = "\u2212"


class Clamp:
    """Keeps values inside ``[lo, hi]``, counting those it moved, for a note under the chart."""

    def __init__(self, lo: float = -LIMIT, hi: float = LIMIT, *, percent: bool = False) -> None:
        self.lo, self.hi, self.percent = min(lo, hi), max(lo, hi), percent
        self.below = self.above = 0

    def __call__(self, value: float | None) -> float | None:
        if value is None:
            return None
        if value < self.lo:
            self.below += 1
            return self.lo
        if value > self.hi:
            self.above += 1
            return self.hi
        return value

    def notes(self, what: str = "value") -> list[str]:
        notes = []
        for count, side, bound in ((self.below, "below", self.lo), (self.above, "above", self.hi)):
            if count:
                shown = format_value(bound, percent=self.percent)
                plural = what if count == 1 else f"{what}s"
                notes.append(f"{count} {plural} {side} {shown} drawn at {shown} (clamped).")
        return notes


# --- numbers ----------------------------------------------------------------------------------

def _minus(number: str) -> str:
    """A typographic minus, and no minus at all on a zero (``-0.0``)."""
    if number.startswith("-") and not any(c in "123456789" for c in number.split("e")[0]):
        number = number[1:]
    return number.replace("-", MINUS)


def format_value(value: float, *, percent: bool = False, signed: bool = False) -> str:
    """A data value for people: three significant digits, thousands separated, no float noise."""
    if percent:
        value *= 100
    if value == 0:
        number = "0"
    else:
        magnitude = math.floor(math.log10(abs(value)))
        if magnitude < -4 or magnitude >= 15:
            number = f"{value:.3g}"
        else:
            # A share reads best with one decimal (87.3%, 1.8%); below 1% two significant digits.
            decimals = (1 if magnitude >= 0 else 1 - magnitude) if percent else 2 - magnitude
            number = f"{value:,.{max(0, decimals)}f}"
            if "." in number:
                number = number.rstrip("0").rstrip(".")
    number = _minus(number)
    if signed and value > 0 and number != "0":
        number = "+" + number
    return number + ("%" if percent else "")


def format_tick(value: float, step: float, *, percent: bool = False) -> str:
    """A tick label: as many decimals as the tick step needs, the same for every tick."""
    if percent:
        value, step = value * 100, step * 100
    if step < 1e-6 or abs(value) >= LIMIT:
        number = f"{value:.3g}"
    else:
        number = f"{value:,.{max(0, -math.floor(math.log10(step) + 1e-9))}f}"
    return _minus(number) + ("%" if percent else "")


# --- linear axes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Axis:
    """A scale from ``lo`` to ``hi`` with its ticks and their labels (numbers or dates)."""

    lo: float
    hi: float
    ticks: tuple[float, ...]
    labels: tuple[str, ...]

    def position(self, value: float, start: float, end: float) -> float:
        """Where ``value`` lands between ``start`` (at ``lo``) and ``end`` (at ``hi``)."""
        return start + (value - self.lo) / (self.hi - self.lo) * (end - start)

    def label_width(self, size: float = TICK_SIZE) -> float:
        return max((text_width(label, size) for label in self.labels), default=0.0)


def nice_step(span: float, max_ticks: int) -> float:
    """The smallest step of 1, 2 or 5 times 10^k that covers ``span`` in at most ``max_ticks`` ticks."""
    raw = span / max(max_ticks - 1, 1)
    base = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5):
        if multiple * base >= raw * (1 - 1e-9):
            return multiple * base
    return 10 * base


# Spans below this are drawn as one value: dividing them into ticks underflows to zero.
TINY_SPAN = 1e-200


def linear_axis(values: Iterable[float], *, declared: tuple[float, float] | None = None,
                include_zero: bool = False, percent: bool = False, max_ticks: int = 6) -> Axis:
    """An axis for ``values``: from the declared range if given, else the data's range widened
    to whole tick steps (and to zero for bars). A single value or equal values get a range
    around them; no values at all get 0 to 1."""
    if declared is not None:
        lo, hi = sorted((max(-LIMIT, declared[0]), min(LIMIT, declared[1])))
        widen = False
    else:
        data = [v for v in values if -LIMIT <= v <= LIMIT]
        lo, hi = (min(data), max(data)) if data else (0.0, 1.0)
        if include_zero:
            lo, hi = min(lo, 0.0), max(hi, 0.0)
        widen = True
    magnitude = max(abs(lo), abs(hi))
    if hi - lo <= magnitude * 1e-9 or hi - lo < TINY_SPAN:
        # One value (or equal ones, or a span too small to divide into ticks, such as 0 to a
        # subnormal number): values next to 0 get 0 to 1, anything else ±10% around them.
        lo, hi = ((0.0, 1.0) if magnitude < TINY_SPAN
                  else (lo - magnitude * 0.1, hi + magnitude * 0.1))
    step = nice_step(hi - lo, max_ticks)
    if widen:
        lo = math.floor(lo / step + 1e-9) * step
        hi = math.ceil(hi / step - 1e-9) * step
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    ticks = tuple(float(f"{k * step:.12g}") for k in range(first, last + 1))
    return Axis(lo, hi, ticks, tuple(format_tick(t, step, percent=percent) for t in ticks))


def band_slots(count: int, start: float, end: float, *, gap: float = 0.25
               ) -> list[tuple[float, float]]:
    """``count`` equal slots between ``start`` and ``end`` as (start, width), ``gap`` of each
    slot left empty (half on either side), for bars."""
    size = (end - start) / max(count, 1)
    return [(start + i * size + size * gap / 2, size * (1 - gap)) for i in range(count)]


# --- time axes --------------------------------------------------------------------------------

HOUR, DAY = 3600.0, 86400.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONDAY = 4 * DAY  # 1970-01-05, the first Monday after the epoch
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def seconds(moment: object) -> float | None:
    """A date or datetime as seconds since 1970 (UTC; a naive datetime is taken as UTC)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return (moment - _EPOCH).total_seconds()
    if isinstance(moment, date):
        return (datetime(moment.year, moment.month, moment.day, tzinfo=UTC) - _EPOCH
                ).total_seconds()
    return None


def _moment(value: float) -> datetime:
    return _EPOCH + timedelta(seconds=value)


def format_moment(value: float, unit: str) -> str:
    """A time for a tick or a table: ISO dates, ``Mar 2025`` for months, the year for years."""
    moment = _moment(value)
    if unit == "hour":
        return f"{moment:%Y-%m-%d %H:%M}"
    if unit == "month":
        return f"{_MONTHS[moment.month - 1]} {moment.year}"
    if unit == "year":
        return str(moment.year)
    return f"{moment:%Y-%m-%d}"


def _fixed_ticks(lo: float, hi: float, step: float, offset: float) -> list[float]:
    first = math.ceil((lo - offset) / step - 1e-9)
    last = math.floor((hi - offset) / step + 1e-9)
    return [offset + k * step for k in range(first, last + 1)]


def _calendar_ticks(lo: float, hi: float, months: int) -> list[float]:
    start, end = _moment(lo), _moment(hi)
    year, month = start.year, start.month
    ticks = []
    while (year, month) <= (end.year, end.month):
        if (year * 12 + month - 1) % months == 0:
            moment = seconds(date(year, month, 1))
            if moment is not None and lo <= moment <= hi:
                ticks.append(moment)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ticks


def time_axis(lo: float, hi: float, *, width: float) -> Axis:
    """An axis over a time range, with calendar ticks (hours, days, Mondays, month or year
    starts) as many as fit in ``width`` px."""
    if hi - lo < HOUR:
        lo, hi = lo - DAY, hi + DAY
    pad = (hi - lo) * 0.03
    lo, hi = lo - pad, hi + pad
    lo, hi = max(lo, seconds(date(1, 1, 2)) or lo), min(hi, seconds(date(9999, 12, 1)) or hi)
    candidates: list[tuple[str, float, int]] = (
        [("hour", h * HOUR, 0) for h in (1, 2, 3, 6, 12)]
        + [("day", d * DAY, 0) for d in (1, 2)] + [("day", w * 7 * DAY, 1) for w in (1, 2)]
        + [("month", m * 30.44 * DAY, m) for m in (1, 2, 3, 6)]
        + [("year", y * 365.25 * DAY, 12 * y) for y in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)])
    label_chars = {"hour": 16, "day": 10, "month": 8, "year": 4}
    fits = 2
    for unit, step, months in candidates:
        fits = max(2, int(width // (text_width("0" * label_chars[unit], TICK_SIZE) + 24)))
        if (hi - lo) / step > fits + 1:
            continue
        if unit in ("hour", "day"):
            ticks = _fixed_ticks(lo, hi, step, _MONDAY if months else 0.0)
        else:
            ticks = _calendar_ticks(lo, hi, months)
        if len(ticks) <= fits:
            return Axis(lo, hi, tuple(ticks), tuple(format_moment(t, unit) for t in ticks))
    return Axis(lo, hi, (), ())


# --- drawing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


def draw_y_axis(axis: Axis, plot: Rect, *, grid: bool = True) -> str:
    """Horizontal grid lines at the ticks and their labels left of the plot."""
    parts = []
    for tick, label in zip(axis.ticks, axis.labels, strict=True):
        y = axis.position(tick, plot.bottom, plot.y)
        if grid:
            parts.append(line(plot.x, y, plot.right, y, stroke=GRID))
        parts.append(line(plot.x - 4, y, plot.x, y, stroke=AXIS))
        parts.append(text(plot.x - 7, y + TICK_SIZE * 0.35, label, anchor="end", fill=MUTED))
    parts.append(line(plot.x, plot.y, plot.x, plot.bottom, stroke=AXIS))
    return el("g", "".join(parts), class_="y-axis")


def draw_x_axis(axis: Axis, plot: Rect, *, grid: bool = True) -> str:
    """Vertical grid lines at the ticks and their labels under the plot."""
    parts = []
    for tick, label in zip(axis.ticks, axis.labels, strict=True):
        x = axis.position(tick, plot.x, plot.right)
        if grid:
            parts.append(line(x, plot.y, x, plot.bottom, stroke=GRID))
        parts.append(line(x, plot.bottom, x, plot.bottom + 4, stroke=AXIS))
        parts.append(text(x, plot.bottom + 6 + TICK_SIZE, label, anchor="middle", fill=MUTED))
    parts.append(line(plot.x, plot.bottom, plot.right, plot.bottom, stroke=AXIS))
    return el("g", "".join(parts), class_="x-axis")


# --- guides: reference lines and bands --------------------------------------------------------

def reference_label(reference: Reference, percent: bool) -> str:
    value = format_value(reference.value, percent=percent)
    return f"{clean(reference.label)}: {value}" if clean(reference.label) else value


def off_axis_notes(axis: Axis, references: Sequence[Reference], percent: bool) -> list[str]:
    """Notes for the references that fall outside a declared axis range (they are not drawn)."""
    return [f"Reference {reference_label(r, percent)} is outside the axis and not drawn."
            for r in references if not axis.lo <= r.value <= axis.hi]


def _band_span(axis: Axis, band: Band) -> tuple[float, float]:
    low, high = finite(band.low), finite(band.high)
    return (axis.lo if low is None else max(axis.lo, min(axis.hi, low)),
            axis.hi if high is None else max(axis.lo, min(axis.hi, high)))


def _band_fill(band: Band) -> str:
    return TONES.get(band.tone, TONES["neutral"])


def draw_y_guides(axis: Axis, plot: Rect, references: Sequence[Reference],
                  bands: Sequence[Band], *, percent: bool) -> tuple[str, str]:
    """Horizontal guides: the bands (to draw under the grid) and the reference lines with their
    labels at the right end (to draw over the data)."""
    under, over = [], []
    for band in bands:
        low, high = (axis.position(v, plot.bottom, plot.y) for v in _band_span(axis, band))
        under.append(rect(plot.x, high, plot.w, low - high, fill=_band_fill(band)))
    for reference in references:
        if axis.lo <= reference.value <= axis.hi:
            y = axis.position(reference.value, plot.bottom, plot.y)
            over.append(line(plot.x, y, plot.right, y, stroke=INK, width=1.5, dash="6 3"))
            over.append(text(plot.right - 4, y - 4, reference_label(reference, percent),
                             size=SMALL_SIZE, anchor="end", max_width=plot.w - 8, ground=True))
    return "".join(under), "".join(over)


def draw_x_guides(axis: Axis, plot: Rect, references: Sequence[Reference],
                  bands: Sequence[Band], *, percent: bool) -> tuple[str, str]:
    """Vertical guides: the bands and the reference lines, labelled above the plot."""
    under, over = [], []
    for band in bands:
        low, high = (axis.position(v, plot.x, plot.right) for v in _band_span(axis, band))
        under.append(rect(low, plot.y, high - low, plot.h, fill=_band_fill(band)))
    for reference in references:
        if axis.lo <= reference.value <= axis.hi:
            x = axis.position(reference.value, plot.x, plot.right)
            over.append(line(x, plot.y - 2, x, plot.bottom, stroke=INK, width=1.5, dash="6 3"))
            anchor = "end" if x > plot.x + plot.w * 0.8 else "middle"
            over.append(text(x, plot.y - 6, reference_label(reference, percent),
                             size=SMALL_SIZE, anchor=anchor))
    return "".join(under), "".join(over)
