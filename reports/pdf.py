"""HTML templates to PDF/A: the one PDF path of Assay's reports.

A report is a Django template under ``templates/reports/`` extending ``reports/_print.html``,
which carries the print stylesheet (running headers, page numbers, the table of contents' page
numbers through CSS ``target-counter``). WeasyPrint lays it out and writes PDF/A-3b
(``pdf_variant="pdf/a-3b"``: XMP metadata with ``pdfaid:part``, an sRGB output intent, every
font embedded). Charts are the SVGs of ``core/charts``, the same as on the pages, inlined.

Output is stable: the fonts are DejaVu (installed by ``.ci/run``, found through fontconfig), the
document's dates are the data's (``dcterms.created``/``modified`` in the template, from the
context's ``dated``), the embedded font subsets carry that date too (fontTools stamps a subset
with ``SOURCE_DATE_EPOCH`` when it is set, else with the clock), and the PDF identifier is
derived from the HTML, so the same facts give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import weasyprint
from django.conf import settings
from django.template.loader import render_to_string

from core.charts import distinct_ids

PDF_VARIANT = "pdf/a-3b"
_epoch_lock = threading.Lock()


@dataclass(frozen=True)
class Pdf:
    """A rendered PDF: its bytes, SHA-256, page count and how long it took."""

    content: bytes
    sha256: str
    pages: int
    seconds: float


def html_of(template: str, context: dict[str, Any]) -> str:
    """The report's HTML, as WeasyPrint reads it (and as a browser could): a chart shown twice
    has distinct ids in each copy."""
    return distinct_ids(render_to_string(template, context))


@contextmanager
def _source_date(moment: dt.datetime) -> Iterator[None]:
    """Font subsets stamped with ``moment`` rather than the clock (one rendering at a time per
    process changes the variable, and puts back what was there)."""
    with _epoch_lock:
        before = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = str(int(moment.timestamp()))
        try:
            yield
        finally:
            if before is None:
                del os.environ["SOURCE_DATE_EPOCH"]
            else:
                os.environ["SOURCE_DATE_EPOCH"] = before


def render_pdf(template: str, context: dict[str, Any]) -> Pdf:
    """Render ``template`` with ``context`` (whose ``dated`` is the document's date) to a
    PDF/A-3b file."""
    started = time.perf_counter()
    html = html_of(template, context)
    document = weasyprint.HTML(string=html, base_url=str(settings.BASE_DIR)).render()
    with _source_date(context["dated"]):
        content: bytes = document.write_pdf(
            pdf_variant=PDF_VARIANT,
            pdf_identifier=hashlib.sha256(html.encode()).hexdigest()[:32].encode())
    return Pdf(content=content, sha256=hashlib.sha256(content).hexdigest(),
               pages=len(document.pages), seconds=time.perf_counter() - started)
