"""The SVG chart renderer (core.charts): structure, accessibility, escaping, robustness and
determinism, read back by parsing every chart as XML. No database needed."""

from __future__ import annotations

import copy
import math
import pickle
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from django.template import Context, Template
from hypothesis import given, settings
from hypothesis import strategies as st

from core.charts import (
    Band,
    Bar,
    BarSeries,
    CalibrationCurve,
    PrCurve,
    Reference,
    RocCurve,
    Series,
    Svg,
    TimeSeries,
    confusion_matrix,
    group_bars,
    horizontal_bars,
    line_chart,
    pr_curve,
    reliability_diagram,
    roc_curve,
    time_series,
)
from core.charts.axes import linear_axis
from core.charts.svg import PALETTE

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = [
    '<script>alert("x")</script>',
    "O'Brien & \"Sons\"",
    "]]><!-- -->",
    "Zo\u00eb \u2013 \u6771\u4eac \u2013 \u0395\u03bb\u03bb\u03ac\u03b4\u03b1 \U0001f642",
    "&amp; &lt;b&gt;",
]
LONG = "feature_" + "very_long_name_" * 30


def parse(markup: str) -> ET.Element:
    """Our own output, parsed to check it (defusedxml guards against hostile XML we do not read)."""
    return ET.fromstring(markup)  # noqa: S314


def texts(root: ET.Element) -> list[str]:
    """Every visible text of the chart (the <text> elements), in document order."""
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def desc(root: ET.Element) -> str:
    element = root.find(f"{SVG}desc")
    assert element is not None
    return element.text or ""


def tag_count(root: ET.Element, tag: str, **attributes: str) -> int:
    return sum(all(e.get(k.replace("_", "-")) == v for k, v in attributes.items())
               for e in root.iter(f"{SVG}{tag}"))


def fill_count(root: ET.Element, color: str) -> int:
    """Rectangles filled with ``color`` (bars)."""
    return sum(1 for r in root.iter(f"{SVG}rect") if (r.get("fill") or "").lower() == color.lower())


# One of each kind, with ordinary data: every rule that holds for all charts is checked on these.
KINDS: dict[str, Callable[[], Svg]] = {
    "reliability": lambda: reliability_diagram([
        CalibrationCurve("Overall", [0.05, 0.15, 0.25, 0.35], [0.04, 0.18, 0.22, 0.4],
                         [400, 300, 200, 100]),
        CalibrationCurve("Women", [0.06, 0.14, 0.27, 0.33], [0.05, 0.2, 0.2, 0.45],
                         [120, 90, 40, 10])]),
    "group_bars": lambda: group_bars(
        [BarSeries("Selection rate", [Bar("A", 0.42, 0.38, 0.46), Bar("B", 0.31, 0.2, 0.44),
                                      Bar("C", 0.5, 0.1, 0.9, flagged=True)])],
        title="Selection rate by group", y_label="Selection rate", percent=True,
        y_range=(0, 1), references=[Reference(0.4, "Overall")]),
    "roc": lambda: roc_curve([RocCurve("v1", [0, 0.1, 0.3, 1], [0, 0.5, 0.8, 1], 0.8123),
                              RocCurve("v2", [0, 0.2, 0.4, 1], [0, 0.6, 0.9, 1], 0.7931)]),
    "pr": lambda: pr_curve([PrCurve("v1", [0, 0.5, 1], [1, 0.8, 0.3], 0.71)], prevalence=0.3),
    "confusion": lambda: confusion_matrix([[50, 10], [5, 35]], ["good", "bad"]),
    "line": lambda: line_chart(
        [Series("Gaussian noise", [0, 0.1, 0.2], [0.9, 0.85, 0.7]),
         Series("Dropout", [0, 0.1, 0.2], [0.9, 0.88, 0.8])],
        title="Robustness", x_label="Noise level", y_label="AUC"),
    "importance": lambda: horizontal_bars({"age": 0.12, "income": 0.3, "tenure": 0.05},
                                          title="Importance", x_label="Mean |SHAP value|"),
    "contribution": lambda: horizontal_bars({"age": -0.12, "income": 0.3, "tenure": 0.05},
                                            title="Why", x_label="SHAP value"),
    "drift": lambda: horizontal_bars(
        {"age": 0.31, "income": 0.12, "tenure": 0.02}, title="Drift", x_label="PSI",
        references=[Reference(0.1, "moderate"), Reference(0.25, "major")],
        bands=[Band(0.1, 0.25, "Moderate shift", "warn"), Band(0.25, None, "Major shift", "bad")]),
    "time": lambda: time_series(
        [TimeSeries("AUC", [date(2025, 1, 6) + timedelta(weeks=i) for i in range(10)],
                    [0.8 - 0.01 * i for i in range(10)])],
        title="AUC by week", y_label="AUC", references=[Reference(0.75, "Alert")],
        bands=[Band(None, 0.75, "Below tolerance", "bad")]),
}


# --- every chart ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_every_chart_is_accessible_sized_svg(kind):
    chart = KINDS[kind]()
    assert isinstance(chart, str) and isinstance(chart, Svg)
    root = parse(chart)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title, description = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text
    assert description is not None and len(description.text or "") > 20
    assert root.get("aria-labelledby") == f"{title.get('id')} {description.get('id')}"
    width, height = float(root.get("width", 0)), float(root.get("height", 0))
    assert width >= 300 and height >= 150
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    # The title is also drawn, for the PDF, where <title> is not shown.
    assert title.text in texts(root)


@pytest.mark.parametrize("kind", KINDS)
def test_every_chart_is_byte_identical_when_drawn_again(kind):
    assert KINDS[kind]() == KINDS[kind]()


@pytest.mark.parametrize("kind", KINDS)
def test_every_chart_has_a_data_table(kind):
    chart = KINDS[kind]()
    table = parse(chart.table())
    assert table.tag == "table"
    assert table.find("caption") is not None
    assert len(table.findall("thead/tr/th")) >= 2
    assert len(table.findall("tbody/tr")) >= 2


def test_ids_differ_between_charts_on_one_page():
    ids = [element.get("id") for kind in KINDS for element in parse(KINDS[kind]()).iter()
           if element.get("id")]
    assert ids and len(ids) == len(set(ids))
    assert all(re.fullmatch(r"chart-[0-9a-f]{12}-[a-z0-9-]+", i) for i in ids)


def test_series_differ_in_more_than_colour():
    root = parse(KINDS["line"]())
    paths = [p for p in root.iter(f"{SVG}path") if p.get("fill") == "none"]
    assert len(paths) == 2
    assert len({p.get("stroke") for p in paths}) == 2
    assert len({p.get("stroke-dasharray") for p in paths}) == 2  # one solid, one dashed
    # Markers differ in shape too: circles for the first series, squares for the second.
    assert tag_count(root, "circle") >= 3 and tag_count(root, "rect", fill=PALETTE[1]) >= 3


def test_a_template_inserts_the_chart_unescaped_and_its_table():
    chart = KINDS["group_bars"]()
    html = Template("{{ chart }}{{ chart.table }}").render(Context({"chart": chart}))
    assert html.startswith("<svg ") and "&lt;svg" not in html
    assert '<table class="chart-data">' in html


def test_a_chart_survives_copy_and_pickle():
    chart = KINDS["confusion"]()
    pickled = pickle.loads(pickle.dumps(chart))  # noqa: S301 (our own bytes)
    for clone in (copy.copy(chart), copy.deepcopy(chart), pickled):
        assert clone == chart and clone.data == chart.data and isinstance(clone, Svg)


# --- the kinds --------------------------------------------------------------------------------

def test_group_bars_draw_bars_intervals_reference_and_flagged_groups():
    root = parse(KINDS["group_bars"]())
    shown = texts(root)
    assert fill_count(root, PALETTE[0]) == 2  # A and B; C is flagged, hatched instead
    hatched = [r for r in root.iter(f"{SVG}rect") if (r.get("fill") or "").startswith("url(#")]
    assert len(hatched) == 2  # the bar and its legend swatch
    pattern = root.find(f"{SVG}defs/{SVG}pattern")
    assert pattern is not None and hatched[0].get("fill") == f"url(#{pattern.get('id')})"
    assert "Too few rows to be reliable" in shown and "95% confidence interval" in shown
    assert "Overall: 40%" in shown
    assert {"A", "B", "C", "Selection rate", "Group"} <= set(shown)
    assert {"0%", "20%", "40%", "60%", "80%", "100%"} <= set(shown)
    # Three error bars of three lines each (stroke-width 1.5, ink), plus the legend's.
    assert tag_count(root, "line", stroke="#1d2430", stroke_width="1.5") == 3 * 3 + 3 + 1
    assert "C: 50% (95% confidence interval 10% to 90%), too few rows to be reliable" in desc(root)


def test_group_bars_side_by_side_for_several_metrics_with_a_legend():
    chart = group_bars([BarSeries("TPR", [Bar("A", 0.7), Bar("B", 0.8)]),
                        BarSeries("FPR", [Bar("A", 0.2), Bar("B", 0.1), Bar("C", 0.3)])],
                       title="Error rates", y_label="Rate")
    root = parse(chart)
    assert fill_count(root, PALETTE[0]) == 2 + 1  # TPR bars and its legend swatch
    assert fill_count(root, PALETTE[1]) == 3 + 1
    assert {"TPR", "FPR", "A", "B", "C"} <= set(texts(root))
    assert len(chart.data.rows) == 5
    # Not by colour alone: each bar carries its series' marker, as the legend shows.
    assert tag_count(root, "circle", fill="#ffffff") == 2 + 1
    assert fill_count(root, "#ffffff") >= 3 + 1 + 1  # squares, and the white background


def test_group_bars_handle_negative_values_and_ratio_reference():
    root = parse(group_bars([BarSeries("Difference", [Bar("A", -0.1), Bar("B", 0.05)])],
                            title="Differences", y_label="Difference",
                            references=[Reference(0.8, "Four-fifths")]))
    shown = texts(root)
    assert "\u22120.1" in shown and "0.05" in shown
    assert "Four-fifths: 0.8" in shown  # the axis widens to show the reference


def test_confusion_matrix_cells_counts_shares_and_readable_text():
    root = parse(confusion_matrix([[50, 10, 0], [5, 35, 2], [1, 2, 9]],
                                  ["good", "bad", "unknown"]))
    cells = [r for r in root.iter(f"{SVG}rect") if r.get("stroke") == "#ffffff"]
    assert len(cells) == 9
    shown = texts(root)
    assert {"50", "10", "0", "35", "9"} <= set(shown)
    assert "83.3%" in shown  # 50 of the 60 actual "good"
    assert {"good", "bad", "unknown", "Actual class", "Predicted class"} <= set(shown)
    assert_cell_text_contrast(root)


def test_cell_text_is_readable_on_every_shade():
    for share in range(0, 101, 5):
        assert_cell_text_contrast(parse(confusion_matrix([[share, 100 - share], [0, 100]],
                                                         ["a", "b"])))


def assert_cell_text_contrast(root: ET.Element) -> None:
    """Every text inside a cell contrasts with the cell's shade by WCAG AA (4.5:1)."""
    cells = [r for r in root.iter(f"{SVG}rect") if r.get("stroke") == "#ffffff"]
    size = float(cells[0].get("width", 0))
    checked = 0
    for t in root.iter(f"{SVG}text"):
        x, y = float(t.get("x", 0)), float(t.get("y", 0))
        for cell in cells:
            cx, cy = float(cell.get("x", 0)), float(cell.get("y", 0))
            if cx <= x <= cx + size and cy <= y <= cy + size:
                assert contrast(t.get("fill") or "", cell.get("fill") or "") >= 4.5, t.text
                checked += 1
    assert checked == 2 * len(cells)  # the count and the share


def luminance(color: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(int(color[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_confusion_matrix_normalised_by_column_or_all_and_missing_cells():
    root = parse(confusion_matrix([[50, None], [50, 100]], ["a", "b"], normalize="pred"))
    shown = texts(root)
    assert "50%" in shown and "n/a" in shown and "100%" in shown
    assert "n/a: no count (missing or not a number)." in shown
    root = parse(confusion_matrix([[1, 3]], ["a", "b"], normalize="all"))
    assert {"25%", "75%"} <= set(texts(root))


def test_roc_curves_have_the_auc_in_the_legend_and_the_chance_line():
    root = parse(KINDS["roc"]())
    shown = texts(root)
    assert "v1 (AUC 0.812)" in shown and "v2 (AUC 0.793)" in shown
    assert "Chance (AUC 0.5)" in shown
    assert {"False positive rate", "True positive rate", "0.0", "0.2", "1.0"} <= set(shown)
    assert tag_count(root, "line", stroke="#5b6678", stroke_dasharray="5 3") == 1 + 1  # legend
    # The plot of a ROC curve is square.
    frame = [r for r in root.iter(f"{SVG}line") if r.get("stroke") == "#8a94a6"]
    y_axis = next(ln for ln in frame if ln.get("x1") == ln.get("x2") and
                  float(ln.get("y2", 0)) - float(ln.get("y1", 0)) > 100)
    x_axis = next(ln for ln in frame if ln.get("y1") == ln.get("y2") and
                  float(ln.get("x2", 0)) - float(ln.get("x1", 0)) > 100)
    height = float(y_axis.get("y2", 0)) - float(y_axis.get("y1", 0))
    width = float(x_axis.get("x2", 0)) - float(x_axis.get("x1", 0))
    assert height == pytest.approx(width)


def test_a_roc_curve_of_many_points_is_drawn_with_few_and_keeps_its_shape():
    count = 100_000
    fpr = [i / count for i in range(count + 1)]
    tpr = [math.sqrt(x) for x in fpr]
    chart = roc_curve([RocCurve("big", fpr, tpr, 0.667)])
    root = parse(chart)
    path = next(p for p in root.iter(f"{SVG}path") if p.get("fill") == "none")
    drawn = [tuple(map(float, xy.split())) for xy in path.get("d", "")[1:].split("L")]
    plot_width = drawn[-1][0] - drawn[0][0]
    assert 100 < len(drawn) <= 4 * (plot_width + 2)
    assert len(chart) < 80_000
    # Every point of the curve lies on the drawn line, to a pixel: (0, 0) and (1, 1) map to
    # the first and last drawn points, so the curve's pixel positions follow from them.
    (x0, y0), (x1, y1) = drawn[0], drawn[-1]
    for i in range(0, count + 1, 997):
        px, py = x0 + fpr[i] * (x1 - x0), y0 + tpr[i] * (y1 - y0)
        assert min(distance_to_segment((px, py), a, b)
                   for a, b in pairwise(drawn)) < 1.0


def distance_to_segment(p, a, b):
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    share = 0.0 if not (dx or dy) else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy)
                                                    / (dx * dx + dy * dy)))
    return math.hypot(px - ax - share * dx, py - ay - share * dy)


def test_a_roc_curve_of_many_points_has_a_sampled_table():
    count = 2_000
    chart = roc_curve([RocCurve("big", [i / count for i in range(count + 1)],
                                [i / count for i in range(count + 1)], 0.5)])
    # The table shows the curve by evenly spaced points, and says so.
    assert len(chart.data.rows) == 50 and "evenly spaced" in chart.data.note


def test_pr_curve_draws_the_no_skill_line_at_the_prevalence():
    root = parse(KINDS["pr"]())
    shown = texts(root)
    assert "v1 (AP 0.71)" not in shown and "v1 (AP 0.710)" in shown
    assert "No skill (prevalence 0.3)" in shown
    chance = [ln for ln in root.iter(f"{SVG}line") if ln.get("stroke-dasharray") == "5 3"
              and ln.get("stroke") == "#5b6678"]
    assert len(chance) == 2  # the line and its legend swatch
    assert chance[0].get("y1") == chance[0].get("y2")
    assert float(chance[0].get("x2", 0)) - float(chance[0].get("x1", 0)) > 200


def test_reliability_diagram_sizes_markers_by_count_and_draws_the_diagonal():
    root = parse(KINDS["reliability"]())
    circles = [c for c in root.iter(f"{SVG}circle") if c.get("fill") == PALETTE[0]]
    radii = [float(c.get("r", 0)) for c in circles]
    assert len(radii) == 4 + 1  # four bins and the legend's marker
    assert radii[0] > radii[1] > radii[2] > radii[3]
    shown = texts(root)
    assert "Perfect calibration" in shown and "Overall" in shown and "Women" in shown
    assert "Marker area grows with the number of rows in the bin." in shown
    diagonal = [ln for ln in root.iter(f"{SVG}line") if ln.get("stroke-dasharray") == "5 3"
                and ln.get("stroke") == "#5b6678" and ln.get("y1") != ln.get("y2")]
    assert len(diagonal) == 1
    x1, y1, x2, y2 = (float(diagonal[0].get(k, 0)) for k in ("x1", "y1", "x2", "y2"))
    assert x2 - x1 == pytest.approx(y1 - y2) and x2 - x1 > 200


def test_reliability_diagram_leaves_empty_bins_out():
    chart = reliability_diagram([CalibrationCurve("All", [0.1, 0.3, 0.5], [0.1, 0.2, 0.5],
                                                  [10, 0, 10])])
    root = parse(chart)
    paths = [p for p in root.iter(f"{SVG}path") if p.get("fill") == "none"]
    assert len(paths) == 0  # two single points either side of the gap: no line to draw
    # Two bins drawn, and the legend's marker.
    assert len([c for c in root.iter(f"{SVG}circle") if c.get("fill") == PALETTE[0]]) == 2 + 1


def test_line_chart_breaks_the_line_at_a_missing_value():
    root = parse(line_chart([Series("s", [0, 1, 2, 3, 4], [1, 2, None, 4, 5])],
                            title="Gap", x_label="x", y_label="y"))
    paths = [p for p in root.iter(f"{SVG}path") if p.get("fill") == "none"]
    assert len(paths) == 2
    assert tag_count(root, "circle") == 4


def test_horizontal_bars_rank_by_magnitude_and_keep_the_top():
    values = {f"f{i}": i / 100 for i in range(30)}
    chart = horizontal_bars(values, title="Importance", x_label="Mean |SHAP|", top=10)
    root = parse(chart)
    assert fill_count(root, PALETTE[0]) == 10
    names = [t for t in texts(root) if re.fullmatch(r"f\d+", t)]
    assert names == [f"f{i}" for i in range(29, 19, -1)]
    assert "Showing the 10 largest of 30 values." in texts(root)
    assert len(chart.data.rows) == 30


def test_signed_bars_lie_either_side_of_zero_with_signs_and_a_legend():
    root = parse(horizontal_bars({"a": -0.4, "b": 0.3, "c": 0.05}, title="Why",
                                 x_label="SHAP value", positive_label="Raises risk",
                                 negative_label="Lowers risk"))
    shown = texts(root)
    assert [t for t in shown if t in ("a", "b", "c")] == ["a", "b", "c"]
    assert {"\u22120.4", "+0.3", "+0.05", "Raises risk", "Lowers risk"} <= set(shown)
    positive = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == PALETTE[1]]
    negative = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == PALETTE[0]]
    assert len(positive) == 2 + 1 and len(negative) == 1 + 1
    zero = float(positive[0].get("x", 0))
    assert float(negative[0].get("x", 0)) + float(negative[0].get("width", 0)) == \
        pytest.approx(zero)


def test_drift_bars_draw_threshold_lines_and_bands():
    root = parse(KINDS["drift"]())
    shown = texts(root)
    assert {"moderate: 0.1", "major: 0.25", "Moderate shift", "Major shift", "PSI"} <= set(shown)
    assert tag_count(root, "line", stroke_dasharray="6 3") == 2
    assert fill_count(root, "#fdf0dc") == 2 and fill_count(root, "#fbe4e1") == 2  # band, legend
    assert "Shaded band Major shift: above 0.25." in desc(root)


def test_time_series_has_date_ticks_and_draws_in_time_order():
    days = [date(2025, 3, 1) + timedelta(days=i) for i in range(20)]
    values = [float(i) for i in range(20)]
    root = parse(time_series([TimeSeries("m", days[::-1], values[::-1])], title="Daily",
                             y_label="Metric"))
    shown = texts(root)
    assert any(re.fullmatch(r"2025-03-\d\d", t) for t in shown)
    path = next(p for p in root.iter(f"{SVG}path") if p.get("fill") == "none")
    xs = [float(m) for m in re.findall(r"[ML]([\d.]+) ", path.get("d", ""))]
    assert xs == sorted(xs)


@pytest.mark.parametrize(("start", "step", "count", "pattern"), [
    (datetime(2025, 1, 1, tzinfo=UTC), timedelta(hours=1), 30, r"2025-01-0[12] \d\d:00"),
    (date(2024, 1, 1), timedelta(days=30), 14, r"(Jan|Mar|Apr|Jul|Oct) 202[45]"),
    (date(2010, 1, 1), timedelta(days=365), 15, r"20[12]\d"),
])
def test_time_ticks_follow_the_calendar(start, step, count, pattern):
    root = parse(time_series([TimeSeries("m", [start + i * step for i in range(count)],
                                         [1.0] * count)], title="T", y_label="v"))
    ticks = [t for t in texts(root) if re.fullmatch(pattern, t)]
    assert len(ticks) >= 2


# --- hostile and odd input --------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_escaped_everywhere(name):
    charts = [
        group_bars([BarSeries(name, [Bar(name, 0.5), Bar("other", 0.4)]),
                    BarSeries("second", [Bar(name, 0.3)])],
                   title=name, y_label=name, x_label=name, references=[Reference(0.45, name)]),
        horizontal_bars({name: 0.3, "b": -0.1}, title=name, x_label=name, positive_label=name),
        line_chart([Series(name, [0, 1], [1, 2]), Series("b", [0, 1], [2, 1])], title=name,
                   x_label=name, y_label=name),
        confusion_matrix([[1, 2], [3, 4]], [name, "b"], title=name, width=900),
        roc_curve([RocCurve(name, [0, 1], [0, 1], 0.5)], title=name),
    ]
    for chart in charts:
        root = parse(chart)  # would raise on broken markup
        assert not [e for e in root.iter() if e.tag.split("}")[-1].lower() == "script"]
        assert not [k for e in root.iter() for k in e.attrib if k.lower().startswith("on")]
        assert root.find(f"{SVG}title").text == name
        assert name in texts(root) or any(t.startswith(name) for t in texts(root))
        assert "<script>" not in chart and "]]><" not in chart
        table = parse(chart.table())
        assert any(name in "".join(cell.itertext()) for cell in table.iter())


def test_control_characters_are_removed_and_markup_stays_well_formed():
    name = "a\x00b\x1bc\ud800d\nnext\tline"
    root = parse(group_bars([BarSeries("s", [Bar(name, 0.2)])], title=name, y_label="y"))
    assert root.find(f"{SVG}title").text == "a\ufffdb\ufffdc\ufffdd next line"


def test_long_names_are_cut_with_an_ellipsis_and_kept_whole_in_a_tooltip():
    root = parse(horizontal_bars({LONG: 0.5, "short": 0.2}, title="Importance", x_label="x"))
    tooltips = [g for g in root.iter(f"{SVG}g") if g.find(f"{SVG}title") is not None]
    assert tooltips
    tooltip = tooltips[0]
    assert tooltip.find(f"{SVG}title").text == LONG
    shown = "".join(tooltip.find(f"{SVG}text").itertext())
    assert shown.endswith("\u2026") and LONG.startswith(shown[:-1]) and len(shown) < 60
    assert "short" in texts(root)
    # Descriptions cut long names too; the table keeps them whole.
    assert LONG not in desc(root)


@pytest.mark.parametrize("kind", ["line", "roc", "time", "bars", "hbars", "matrix", "calib"])
@pytest.mark.parametrize("empty", [[], None])
def test_empty_data_says_no_data(kind, empty):
    chart = {
        "line": lambda: line_chart(empty, title="T", x_label="x", y_label="y"),
        "roc": lambda: roc_curve(empty),
        "time": lambda: time_series(empty, title="T", y_label="y"),
        "bars": lambda: group_bars(empty, title="T", y_label="y"),
        "hbars": lambda: horizontal_bars(empty, title="T", x_label="x"),
        "matrix": lambda: confusion_matrix(empty, empty),
        "calib": lambda: reliability_diagram(empty),
    }[kind]()
    root = parse(chart)
    assert "No data" in texts(root)
    assert desc(root).startswith("No data")
    assert "No data" in chart.table() or "No data" in chart.data.note


def test_series_with_only_missing_values_say_no_data():
    nan = float("nan")
    assert "No data" in texts(parse(line_chart([Series("s", [nan, None], [None, nan])],
                                               title="T", x_label="x", y_label="y")))
    assert "No data" in texts(parse(horizontal_bars({"a": None, "b": nan}, title="T",
                                                    x_label="x")))
    assert "No data" in texts(parse(group_bars([BarSeries("s", [Bar("a", math.inf)])],
                                               title="T", y_label="y")))


def test_missing_values_are_drawn_as_na():
    root = parse(group_bars([BarSeries("s", [Bar("a", 0.4), Bar("b", float("nan")),
                                             Bar("c", None)])], title="T", y_label="y"))
    shown = texts(root)
    assert shown.count("n/a") == 2
    assert "n/a: no value (missing or not a number)." in shown
    assert fill_count(root, PALETTE[0]) == 1


@pytest.mark.parametrize("values", [[0.42], [0.5, 0.5, 0.5], [0.0, 0.0], [-3.0], [1e-12, 1e-12],
                                    [1e14, 1e14]])
def test_single_or_equal_values_give_a_sensible_axis(values):
    root = parse(line_chart([Series("s", list(range(len(values))), values)], title="T",
                            x_label="x", y_label="y"))
    y_ticks = [t for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    labels = ["".join(t.itertext()) for t in y_ticks]
    assert len(labels) >= 2 and len(set(labels)) == len(labels)
    ys = [float(t.get("y", 0)) for t in y_ticks]
    assert len(set(ys)) == len(ys)


def test_values_out_of_the_declared_range_are_clamped_with_a_note():
    root = parse(group_bars([BarSeries("s", [Bar("a", 1.4), Bar("b", -0.2), Bar("c", 0.5)])],
                            title="T", y_label="rate", percent=True, y_range=(0, 1)))
    shown = texts(root)
    assert "1 value above 100% drawn at 100% (clamped)." in shown
    assert "1 value below 0% drawn at 0% (clamped)." in shown
    assert "100%" in shown and "140%" not in shown
    roc = parse(roc_curve([RocCurve("v", [0, 0.5, 1.2], [0, 0.7, 1], 0.8)]))
    assert "1 false positive rate above 1 drawn at 1 (clamped)." in texts(roc)


def test_series_of_different_lengths_are_cut_to_the_shorter_with_a_note():
    root = parse(line_chart([Series("s", [0, 1, 2, 3], [1, 2])], title="T", x_label="x",
                            y_label="y"))
    assert "s: 4 x values but 2 y values; only the first 2 are drawn." in texts(root)


def test_huge_values_do_not_break_the_axis():
    root = parse(horizontal_bars({"a": 1e308, "b": -1e308, "c": 1.0}, title="T", x_label="x"))
    assert any("clamped" in t for t in texts(root))


def test_tick_labels_have_no_float_noise():
    root = parse(line_chart([Series("s", [0, 0.1, 0.2, 0.30000000000000004],
                                    [0.1, 0.2, 0.3, 0.7])], title="T", x_label="x",
                            y_label="y"))
    for label in texts(root):
        assert not re.search(r"\d\.\d{5,}", label), label


numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(min_value=-10**20, max_value=10**20))
names = st.text(min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(xs=st.lists(numbers, max_size=12), ys=st.lists(numbers, max_size=12), name=names)
def test_lines_never_fail_on_odd_numbers(xs, ys, name):
    for chart in (line_chart([Series(name, xs, ys)], title=name, x_label=name, y_label=name),
                  roc_curve([RocCurve(name, xs, ys, ys[0] if ys else None)]),
                  reliability_diagram([CalibrationCurve(name, xs, ys, ys)])):
        parse(chart)


@settings(max_examples=60, deadline=None)
@given(values=st.dictionaries(names, numbers, max_size=8),
       low=numbers, high=numbers, cells=st.lists(st.lists(numbers, max_size=4), max_size=4))
def test_bars_and_matrices_never_fail_on_odd_numbers(values, low, high, cells):
    parse(horizontal_bars(values, title="T", x_label="x",
                          bands=[Band(low, high, "band")], references=[Reference(low or 0, "r")]))
    parse(group_bars([BarSeries("s", [Bar(k, v, low, high) for k, v in values.items()])],
                     title="T", y_label="y"))
    parse(confusion_matrix(cells, list(values)))


def test_a_span_too_small_to_divide_draws_as_one_value():
    """0 and a subnormal number (found by the property test above): no math domain error."""
    axis = linear_axis([0.0, 5e-324], include_zero=True)
    assert axis.lo == 0.0 and axis.hi == 1.0
    parse(horizontal_bars({"a": 0.0, "b": 5e-324}, title="T", x_label="x"))
