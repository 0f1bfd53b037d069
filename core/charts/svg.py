"""Primitives of the chart renderer: the result types, escaping, text measure, shapes and styles.

Nothing here knows about Django: a result only has an ``__html__`` method, the protocol Django
(and Jinja, and markupsafe) use to insert markup without escaping it again.

Every text that reaches the markup goes through :func:`esc`, which first removes what XML 1.0
cannot carry (control characters, lone surrogates) and then escapes ``& < > " '``. Group, feature
and model names come from uploads, so this is the one door they pass.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

# Okabe & Ito, "Color Universal Design" (2008): told apart under every common colour-vision
# deficiency. Ordered by contrast on white; their yellow (#F0E442) is left out, too pale for lines.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#000000", "#CC79A7", "#E69F00", "#56B4E9")
MarkerShape = Literal["circle", "square", "triangle", "diamond", "triangle-down", "cross", "plus"]
MARKERS: tuple[MarkerShape, ...] = (
    "circle", "square", "triangle", "diamond", "triangle-down", "cross", "plus")
# Dash patterns, so that series differ in more than colour (a grey printout, colour blindness).
DASHES = ("", "8 4", "2 3", "10 3 2 3", "4 2 4 6")

INK = "#1d2430"
MUTED = "#5b6678"
GRID = "#e3e7ee"
AXIS = "#8a94a6"
NA_FILL = "#f1f3f6"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"
TITLE_SIZE = 15
LABEL_SIZE = 13
TICK_SIZE = 12
SMALL_SIZE = 11

# Stands for the chart's id prefix while the markup is built; XML cannot carry U+0000, and esc()
# replaces it in every text, so it can only be ours. Replaced by a digest of the content.
ID = "\x00"


@dataclass(frozen=True)
class SeriesStyle:
    color: str
    marker: MarkerShape
    dash: str


def series_style(index: int) -> SeriesStyle:
    """The look of the index-th series: colour, marker and dash pattern all differ."""
    return SeriesStyle(PALETTE[index % len(PALETTE)], MARKERS[index % len(MARKERS)],
                       DASHES[index % len(DASHES)])


# --- text -------------------------------------------------------------------------------------

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACES = re.compile(r"\s+")


def clean(value: object) -> str:
    """A text fit for one line of XML: no characters XML forbids, whitespace runs as one space."""
    text = value if isinstance(value, str) else str(value)
    return _SPACES.sub(" ", _NOT_XML.sub("\ufffd", text)).strip()


def esc(value: object) -> str:
    """Text or attribute content, cleaned and escaped (``& < > " '``)."""
    return html.escape(clean(value), quote=True)


_NARROW = frozenset("ijlI|!.,:;'`")
_SEMI = frozenset("frt()[]{}/\\- \"*")
_WIDE = frozenset("mwMW@%")


def text_width(text: str, size: float) -> float:
    """Estimated width in px of ``text`` at font size ``size``.

    Errs on the wide side (DejaVu Sans, the widest common sans-serif, is what a server without
    other fonts renders with), so labels that are judged to fit do fit.
    """
    em = 0.0
    for char in text:
        if char in _NARROW:
            em += 0.3
        elif char in _SEMI:
            em += 0.4
        elif char in _WIDE:
            em += 0.95
        elif char.isdigit():
            em += 0.64
        elif char.isascii():
            em += 0.72 if char.isupper() else 0.6
        elif unicodedata.east_asian_width(char) in ("W", "F"):
            em += 1.0
        elif unicodedata.combining(char):
            continue
        else:
            em += 0.7
    return em * size


def truncate(text: str, max_width: float, size: float) -> str:
    """``text`` cut to fit ``max_width`` px, ending in an ellipsis when cut."""
    if text_width(text, size) <= max_width:
        return text
    budget = max_width - text_width("\u2026", size)
    width = 0.0
    for index, char in enumerate(text):
        width += text_width(char, size)
        if width > budget:
            return text[:index].rstrip() + "\u2026"
    return text


def wrap(text: str, max_width: float, size: float) -> list[str]:
    """``text`` broken at spaces into lines of at most ``max_width`` px (long words are cut)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if line and text_width(candidate, size) > max_width:
            lines.append(line)
            candidate = word
        line = candidate
    if line:
        lines.append(line)
    return [truncate(line, max_width, size) for line in lines]


# --- elements ---------------------------------------------------------------------------------

def num(value: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros, never ``-0``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


Attr = str | float | int | None


def attrs(**values: Attr) -> str:
    """Presentation attributes; ``stroke_width`` is written ``stroke-width``; None is left out."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        if isinstance(value, bool):
            value = str(value).lower()
        if isinstance(value, float):
            text = num(value)
        elif isinstance(value, str):
            # The id placeholder passes; everything around it is escaped like any text.
            text = ID.join(esc(part) for part in value.split(ID))
        else:
            text = str(value)
        parts.append(f' {name}="{text}"')
    return "".join(parts)


def el(tag: str, content: str = "", /, **values: Attr) -> str:
    """An element; ``content`` is markup (already escaped)."""
    if content:
        return f"<{tag}{attrs(**values)}>{content}</{tag}>"
    return f"<{tag}{attrs(**values)}/>"


def text(x: float, y: float, value: str, *, size: float = TICK_SIZE, anchor: str = "start",
         max_width: float | None = None, fill: str = INK, bold: bool = False,
         rotate: bool = False, italic: bool = False, ground: bool = False) -> str:
    """One line of text with its baseline at ``y``.

    Cut to ``max_width`` with an ellipsis if needed; the full text is then kept in a ``<title>``
    (a tooltip on pages). ``rotate`` turns it a quarter left, for a vertical axis title;
    ``ground`` puts it on white, to stay readable where it crosses a line or a bar.
    """
    full = clean(value)
    # Bold glyphs are about a tenth wider; measuring them larger keeps the estimate on the safe side.
    measure = size * 1.1 if bold else size
    shown = truncate(full, max_width, measure) if max_width is not None else full
    markup = el("text", esc(shown), x=float(x), y=float(y), font_size=size,
                text_anchor=None if anchor == "start" else anchor, fill=fill,
                font_weight="bold" if bold else None, font_style="italic" if italic else None,
                transform=f"rotate(-90 {num(x)} {num(y)})" if rotate else None)
    if ground:
        width = text_width(shown, measure) + 4
        left = x - 2 - {"middle": width / 2 - 2, "end": width - 4}.get(anchor, 0.0)
        markup = rect(left, y - size * 0.9, width, size * 1.15, fill="#ffffff",
                      opacity=0.85) + markup
    if shown != full:
        return f"<g><title>{esc(full)}</title>{markup}</g>"
    return markup


def line(x1: float, y1: float, x2: float, y2: float, *, stroke: str = INK, width: float = 1,
         dash: str = "") -> str:
    return el("line", x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), stroke=stroke,
              stroke_width=float(width), stroke_dasharray=dash or None)


def rect(x: float, y: float, w: float, h: float, *, fill: str, stroke: str | None = None,
         width: float | None = None, dash: str = "", opacity: float | None = None) -> str:
    return el("rect", x=float(x), y=float(y), width=float(max(w, 0)), height=float(max(h, 0)),
              fill=fill, stroke=stroke, stroke_width=None if width is None else float(width),
              stroke_dasharray=dash or None, fill_opacity=opacity)


def marker(shape: MarkerShape, x: float, y: float, r: float, color: str) -> str:
    """A point marker of radius about ``r``, outlined in white so that overlapping points separate.

    Drawn as plain shapes rather than SVG ``<marker>``s, which renderers (WeasyPrint among them)
    support unevenly.
    """
    halo: dict[str, Attr] = {"stroke": "#ffffff", "stroke_width": 1.0}
    if shape == "circle":
        return el("circle", cx=float(x), cy=float(y), r=float(r), fill=color, **halo)
    if shape == "square":
        s = r * 0.9
        return el("rect", x=float(x - s), y=float(y - s), width=float(2 * s), height=float(2 * s),
                  fill=color, **halo)
    if shape in ("cross", "plus"):
        s = r * 1.05
        if shape == "plus":
            d = f"M{num(x - s)} {num(y)}H{num(x + s)}M{num(x)} {num(y - s)}V{num(y + s)}"
        else:
            d = (f"M{num(x - s)} {num(y - s)}L{num(x + s)} {num(y + s)}"
                 f"M{num(x - s)} {num(y + s)}L{num(x + s)} {num(y - s)}")
        return el("path", d=d, stroke=color, stroke_width=float(max(r * 0.55, 1.5)), fill="none")
    if shape == "diamond":
        s = r * 1.25
        points = [(x, y - s), (x + s, y), (x, y + s), (x - s, y)]
    elif shape == "triangle":
        s = r * 1.3
        points = [(x, y - s), (x + s * 0.87, y + s * 0.5), (x - s * 0.87, y + s * 0.5)]
    else:  # triangle-down
        s = r * 1.3
        points = [(x, y + s), (x + s * 0.87, y - s * 0.5), (x - s * 0.87, y - s * 0.5)]
    return el("polygon", points=" ".join(f"{num(px)},{num(py)}" for px, py in points),
              fill=color, **halo)


def hatch_pattern(pattern_id: str, color: str) -> str:
    """Diagonal stripes of ``color`` on white: how a bar that must not be trusted is filled."""
    return el("pattern",
              rect(0, 0, 6, 6, fill="#ffffff") + line(3, 0, 3, 6, stroke=color, width=2),
              id=pattern_id, patternUnits="userSpaceOnUse", width=6, height=6,
              patternTransform="rotate(45)")


# --- results ----------------------------------------------------------------------------------

class Html(str):
    """Markup that is safe as it is: templates insert it without escaping (``__html__``)."""

    __slots__ = ()

    def __html__(self) -> Html:
        return self


@dataclass(frozen=True)
class DataTable:
    """The values a chart shows, as rows of text: the chart's accessible companion."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""

    def html(self) -> Html:
        if not self.rows:
            return Html(f'<table class="chart-data"><caption>{esc(self.caption)}</caption>'
                        f"<tbody><tr><td>{esc(self.note or 'No data')}</td></tr></tbody></table>")
        head = "".join(f'<th scope="col">{esc(c)}</th>' for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>"
            for row in self.rows)
        caption = esc(self.caption) + (f" ({esc(self.note)})" if self.note else "")
        return Html(f'<table class="chart-data"><caption>{caption}</caption>'
                    f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


class Svg(Html):
    """A chart: SVG markup (a ``str``) that carries the values it shows as ``data``.

    ``{{ chart }}`` in a template places the SVG; ``{{ chart.table }}`` the same values as an
    HTML table (for a ``<details>`` under the chart, or a report's appendix).
    """

    data: DataTable

    def __new__(cls, markup: str, data: DataTable) -> Svg:
        svg = super().__new__(cls, markup)
        svg.data = data
        return svg

    def __getnewargs__(self) -> tuple[str, DataTable]:  # type: ignore[override]
        return (str(self), self.data)

    def table(self) -> Html:
        return self.data.html()


def document(*, width: float, height: float, title: str, desc: str, defs: str, body: str,
             data: DataTable) -> Svg:
    """The ``<svg>`` element around a chart's body, with its accessible name and description.

    Ids (for ``aria-labelledby`` and patterns) are derived from a digest of the content, so the
    same data gives the same bytes, and two different charts on one page never share an id.
    """
    head = (f'<title id="{ID}-title">{esc(title)}</title>'
            f'<desc id="{ID}-desc">{esc(desc)}</desc>')
    inner = head + (el("defs", defs) if defs else "") + \
        rect(0, 0, width, height, fill="#ffffff") + body
    digest = hashlib.sha256(f"{num(width)}x{num(height)}{inner}".encode()).hexdigest()[:12]
    markup = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        f' aria-labelledby="{ID}-title {ID}-desc"'
        f'{attrs(width=float(width), height=float(height))}'
        f' viewBox="0 0 {num(width)} {num(height)}" style="max-width:100%"'
        f'{attrs(font_family=FONT)}>{inner}</svg>')
    return Svg(markup.replace(ID, f"chart-{digest}"), data)


# A chart as ``document`` writes it; its id follows ``aria-labelledby="``. Charts never nest.
_CHART = re.compile(r'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
                    r' aria-labelledby="(chart-[0-9a-f]{12})-title .*?</svg>', re.S)


def distinct_ids(markup: str) -> str:
    """``markup`` (a page or report holding charts) with every id unique: the second and later
    copies of an identical chart get their ids suffixed ``-2``, ``-3``… (each copy's references
    follow its own ids). The first copy, and every chart that appears once, is unchanged, so a
    page without repeats gives the same bytes. WeasyPrint warns "Anchor defined twice" without
    this when a report shows the same chart twice."""
    copies: dict[str, int] = {}

    def rename(match: re.Match[str]) -> str:
        chart_id = match.group(1)
        copies[chart_id] = copies.get(chart_id, 0) + 1
        if copies[chart_id] == 1:
            return match.group(0)
        return match.group(0).replace(f"{chart_id}-", f"{chart_id}-{copies[chart_id]}-")

    return _CHART.sub(rename, markup)
