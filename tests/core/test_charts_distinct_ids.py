"""A chart shown twice in one PDF: each copy gets its own ids, so WeasyPrint lays the report out
without "Anchor defined twice", while a chart shown once keeps its bytes (the pages' output)."""

from __future__ import annotations

import datetime as dt
import logging
import re

import weasyprint

from core.charts import distinct_ids
from reports import pdf
from tests.core.test_charts import KINDS


def _hatched_chart() -> str:
    chart = next(str(c) for c in (kind() for kind in KINDS.values()) if "hatch" in str(c))
    return chart


def _page(*charts: str) -> str:
    figures = "".join(f"<figure>{chart}</figure>" for chart in charts)
    return f"<!doctype html><html><head><meta charset='utf-8'></head><body>{figures}</body></html>"


def _ids(markup: str) -> list[str]:
    return re.findall(r' id="([^"]+)"', markup)


def test_a_chart_shown_twice_has_distinct_ids_and_each_copy_points_at_its_own(caplog):
    chart = _hatched_chart()
    page = distinct_ids(_page(chart, chart, chart))
    ids = _ids(page)
    assert len(ids) == len(set(ids)) == 3 * len(_ids(chart))
    first, second, third = re.findall(r"<svg .*?</svg>", page, re.S)
    assert first == chart  # the first copy is untouched
    for copy, n in ((second, 2), (third, 3)):
        references = re.findall(r'url\(#([^)]+)\)|aria-labelledby="([^"]+)"', copy)
        targets = {name for pair in references for part in pair for name in part.split()}
        assert targets and targets <= set(_ids(copy))
        assert all(f"-{n}-" in name for name in targets)


def test_a_page_without_repeats_is_unchanged():
    charts = [str(kind()) for kind in KINDS.values()]
    page = _page(*charts)
    assert distinct_ids(page) == page


def test_a_report_with_a_chart_twice_renders_without_the_anchor_warning(monkeypatch, caplog):
    chart = _hatched_chart()
    caplog.set_level(logging.WARNING, logger="weasyprint")
    weasyprint.HTML(string=_page(chart, chart)).write_pdf()  # the warning this is about
    assert "Anchor defined twice" in caplog.text
    caplog.clear()

    monkeypatch.setattr(pdf, "render_to_string", lambda template, context: _page(chart, chart))
    rendered = pdf.render_pdf("reports/any.html", {"dated": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)})
    assert rendered.content.startswith(b"%PDF")
    assert "Anchor defined twice" not in caplog.text
