"""The layered dependency graph (core.charts.dependency_graph): columns follow the longest path,
arrows run from what is depended on to what depends on it, names are escaped, a cycle in the
input still draws, and the same chart reads in a PDF. No database needed."""

from __future__ import annotations

import subprocess

from core.charts import GraphNode, dependency_graph
from core.charts.graph import layers
from tests.core.test_charts import SVG, parse, texts
from tests.core.test_charts_pdf import pdf_of, tool

NODES = [GraphNode("bureau", "Bureau score", "Approved", "ok"),
         GraphNode("limits", "Credit limit setter", "Suspended", "bad", focus=True),
         GraphNode("collections", "Collections strategy", "In validation", "warn"),
         GraphNode("pricing", "Loan pricing", "Draft")]
EDGES = [("bureau", "limits"), ("limits", "collections"), ("limits", "pricing"),
         ("bureau", "pricing")]


def chart():
    return dependency_graph(NODES, EDGES, title="Dependencies of Credit limit setter")


def test_columns_follow_the_longest_path():
    assert layers([n.key for n in NODES], EDGES) == {
        "bureau": 0, "limits": 1, "collections": 2, "pricing": 2}


def test_a_cycle_in_the_input_still_gets_a_layout():
    assert layers(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "b")]) == {
        "a": 0, "b": 1, "c": 2}


def test_the_graph_is_accessible_svg_with_a_box_per_model_and_an_arrow_per_link():
    root = parse(chart())
    assert root.get("role") == "img"
    shown = texts(root)
    assert shown[0] == "Dependencies of Credit limit setter"
    for node in NODES:
        assert node.label in shown and (not node.detail or node.detail in shown)
    arrows = [p for p in root.iter(f"{SVG}path") if p.get("fill") == "none"]
    assert len(arrows) == len(EDGES)
    description = root.find(f"{SVG}desc").text
    assert "Credit limit setter depends on Bureau score" in description
    # The page's own model is outlined heavier than the rest.
    widths = sorted(float(r.get("stroke-width")) for r in root.iter(f"{SVG}rect")
                    if r.get("stroke-width"))
    assert widths[-1] == 2.5 and widths.count(2.5) == 1


def test_the_data_table_lists_each_model_and_what_it_depends_on():
    rows = {row[0]: row for row in chart().data.rows}
    assert rows["Loan pricing"] == ("Loan pricing", "Draft", "Bureau score, Credit limit setter")
    assert rows["Bureau score"][2] == "—"


def test_names_are_escaped_and_drawing_again_gives_the_same_bytes():
    hostile = [GraphNode("x", '<script>alert("x")</script> & co', "Draft")]
    root = parse(dependency_graph(hostile, [], title="T"))
    assert '<script>alert("x")</script> & co' in texts(root)
    assert chart() == chart()


def test_the_graph_reads_in_a_pdf(tmp_path):
    pdf = pdf_of([chart()], tmp_path / "graph.pdf")
    text = subprocess.run([tool("pdftotext"), "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    words = " ".join(text.split())
    for expected in ("Dependencies of Credit limit setter", "Bureau score", "Suspended",
                     "Collections strategy"):
        assert expected in words
