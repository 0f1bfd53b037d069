"""Charts in a PDF: rendered by WeasyPrint as a report would, then read back with poppler's
pdftotext (the words are there) and pdftoppm (the plot is drawn, in the palette's colours).

poppler-utils is installed by .ci/run; a missing tool fails the run loudly rather than skipping.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import weasyprint
from PIL import Image

from core.charts import Svg
from core.charts.svg import PALETTE
from tests.core.test_charts import KINDS, parse

RESOLUTION = 96  # one PNG pixel per CSS pixel, so the chart's coordinates are the image's


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: apt-get install -y poppler-utils"
    return path


def pdf_of(charts: list[Svg], path: Path, *, page_per_chart: bool = False) -> Path:
    """The charts in a PDF, as a report template would place them."""
    if page_per_chart:
        pages = "".join(
            f'<section style="page: c{i}">{chart}</section>' for i, chart in enumerate(charts))
        sizes = "".join(
            f"@page c{i} {{ size: {root.get('width')}px {root.get('height')}px; margin: 0 }}"
            for i, root in enumerate(map(parse, charts)))
        css = sizes + "section { break-after: page } svg { display: block }"
    else:
        pages = "".join(f"<figure>{chart}</figure>" for chart in charts)
        css = "@page { size: A4; margin: 15mm }"
    html = f"<!doctype html><html><head><meta charset='utf-8'><style>{css}</style></head>" \
           f"<body>{pages}</body></html>"
    weasyprint.HTML(string=html).write_pdf(path)
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return pdf_of([kind() for kind in KINDS.values()],
                  tmp_path_factory.mktemp("charts") / "report.pdf")


def test_titles_axis_labels_ticks_and_legends_are_text_in_the_pdf(report):
    text = subprocess.run([tool("pdftotext"), "-layout", str(report), "-"], check=True,
                          capture_output=True, text=True).stdout
    words = " ".join(text.split())
    for expected in [
        # titles
        "Reliability diagram", "Selection rate by group", "ROC curve", "Confusion matrix",
        "Robustness", "Importance", "Drift", "AUC by week",
        # axis labels, including the rotated vertical ones
        "Mean predicted probability", "Observed rate", "False positive rate",
        "True positive rate", "Recall", "Precision", "Predicted class", "Actual class",
        "Noise level", "Mean |SHAP value|", "PSI", "Date",
        # ticks
        "0.0", "0.2", "0.8", "1.0", "20%", "100%", "2025-02",
        # legends, reference labels and cell texts
        "v1 (AUC 0.812)", "Chance (AUC 0.5)", "Perfect calibration", "Too few rows to be reliable",
        "95% confidence interval", "Overall: 40%", "moderate: 0.1", "Major shift",
        "Below tolerance", "Gaussian noise", "83.3%",
    ]:
        assert expected in words, expected
    # <title> and <desc> are for screen readers, not printed.
    assert "perfectly calibrated model lies on the diagonal" not in words


def test_each_chart_is_drawn_in_its_plot_area(tmp_path):
    charts = {name: kind() for name, kind in KINDS.items()}
    pdf = pdf_of(list(charts.values()), tmp_path / "pages.pdf", page_per_chart=True)
    subprocess.run([tool("pdftoppm"), "-png", "-r", str(RESOLUTION), str(pdf),
                    str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(charts)
    for (name, chart), png in zip(charts.items(), pages, strict=True):
        root = parse(chart)
        image = pixels(png)
        assert image.shape[:2] == (round(float(root.get("height", 0))),
                                   round(float(root.get("width", 0)))), name
        # The plot area: below the title, above the legend; it must not be blank.
        height, width = image.shape[:2]
        plot = image[50:height // 2, 60:width - 20]
        assert (plot.sum(axis=2) < 600).sum() > 200, f"{name}: the plot area is blank"
        # The first series' colour (or, for the matrix, its darkest shade) is really painted.
        colour = "#08306b" if name == "confusion" else PALETTE[0]
        assert near(image, colour).sum() > 30, f"{name}: no {colour} pixels"


def test_hatched_bars_print_as_stripes(tmp_path):
    chart = KINDS["group_bars"]()
    pdf = pdf_of([chart], tmp_path / "hatched.pdf", page_per_chart=True)
    subprocess.run([tool("pdftoppm"), "-png", "-r", str(RESOLUTION), str(pdf),
                    str(tmp_path / "page")], check=True)
    image = pixels(next(tmp_path.glob("page-*.png")))
    root = parse(chart)
    bar = next(r for r in root.iter("{http://www.w3.org/2000/svg}rect")
               if (r.get("fill") or "").startswith("url(#") and float(r.get("height", 0)) > 50)
    x, y, w, h = (round(float(bar.get(k, 0))) for k in ("x", "y", "width", "height"))
    inside = image[y + 3:y + h - 3, x + 3:x + w - 3]
    blue, white = near(inside, PALETTE[0], 90).mean(), (inside.min(axis=2) > 235).mean()
    assert blue > 0.15 and white > 0.15


def pixels(png: Path) -> np.ndarray:
    """The image as rows of RGB pixels."""
    return np.asarray(Image.open(png).convert("RGB"), dtype=np.int32)


def near(image: np.ndarray, colour: str, tolerance: int = 40) -> np.ndarray:
    """Which pixels are within ``tolerance`` (summed over channels) of ``colour``."""
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return np.abs(image - rgb).sum(axis=2) < tolerance
