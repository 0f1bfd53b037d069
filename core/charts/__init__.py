"""The one chart renderer of Assay: plain data in, SVG out, for htmx pages and PDF reports alike.

No JavaScript, no matplotlib, no Django: every chart is a function that returns an :class:`Svg`,
a ``str`` of SVG markup that templates insert as it is (``{{ chart }}``) and that WeasyPrint
draws in a PDF. ``chart.table()`` gives the same values as an HTML table. See docs/charts.md.

Modules: ``svg`` (primitives: escaping, text measure, shapes, palette, the result types),
``data`` (the input types and how their values are read), ``axes`` (scales, ticks, number and
date formats, axes, reference lines and bands), ``frame`` (the layout around the plot: title,
axis titles, legend, notes; the wording of descriptions), and the kinds: ``lines``, ``bars``,
``matrix``, ``graph``.
"""

from core.charts.bars import group_bars, horizontal_bars
from core.charts.data import (
    Band,
    Bar,
    BarSeries,
    CalibrationCurve,
    PrCurve,
    Reference,
    RocCurve,
    Series,
    TimeSeries,
)
from core.charts.graph import GraphNode, dependency_graph
from core.charts.lines import line_chart, pr_curve, reliability_diagram, roc_curve, time_series
from core.charts.matrix import confusion_matrix
from core.charts.svg import DataTable, Html, Svg, distinct_ids

__all__ = [
    "Band",
    "Bar",
    "BarSeries",
    "CalibrationCurve",
    "DataTable",
    "GraphNode",
    "Html",
    "PrCurve",
    "Reference",
    "RocCurve",
    "Series",
    "Svg",
    "TimeSeries",
    "confusion_matrix",
    "dependency_graph",
    "distinct_ids",
    "group_bars",
    "horizontal_bars",
    "line_chart",
    "pr_curve",
    "reliability_diagram",
    "roc_curve",
    "time_series",
]
