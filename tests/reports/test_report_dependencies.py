"""A model's reports (validation report, model card) print its dependencies: the graph the model
page's Dependencies tab draws (core.charts, through registry.dependencies) and a table of the
models up- and downstream; models of other teams are counted, not named. Read back with
poppler's pdftotext."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from registry import services as registry
from reports import services
from reports.facts import gather
from reports.models import ReportKind
from tests.registry.conftest import fraud_model, model_fields  # noqa: F401
from tests.reports.conftest import pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(draft, dana, adam, teams, fraud_model):  # noqa: F811
    """The credit scorecard depends on the credit team's bureau score and on the fraud team's
    detector; the credit team's limits model depends on the scorecard."""
    model = draft.model
    bureau = registry.model_create(actor=dana, team=teams["credit"],
                                   **model_fields(name="Bureau score"))
    registry.model_update(actor=adam, model=model, upstream_models=[bureau, fraud_model])
    registry.model_create(actor=dana, team=teams["credit"], upstream_models=[model],
                          **model_fields(name="Credit limits"))
    return draft


@pytest.mark.parametrize("kind", [ReportKind.VALIDATION_REPORT, ReportKind.MODEL_CARD])
def test_a_model_s_report_prints_its_dependencies_as_a_table_and_a_graph(linked, kind,
                                                                         tmp_path):
    name = linked.model.name
    pdf = services.render_report(linked, kind, now=timezone.now())
    text = pdf_text(pdf.content, tmp_path)
    assert "Dependencies on other models" in text
    upstream = text.index(f"Upstream: what {name} depends on")
    downstream = text.index(f"Downstream: what depends on {name}")
    assert "Bureau score" in text[upstream:downstream]
    assert "Credit limits" in text[downstream:] and "Credit limits" not in text[
        upstream:downstream]
    assert f"Dependencies of {name}" in text  # the graph's own title, drawn in the SVG
    # The fraud team's detector is counted, not named: the report is one for every reader.
    assert "Card fraud detector" not in text
    assert (f"Beyond these, {name} depends on 1 model of other teams and 0 models of other "
            "teams depend on it") in text


def test_the_report_draws_the_graph_the_model_page_draws(linked, client, dana):
    model = linked.model
    facts = gather(linked, now=timezone.now())
    html = render_to_string("reports/validation_report.html", services.report_context(
        facts, frozen=False))
    assert str(facts.dependencies.graph) in html
    # dana sees the credit team's models, not the fraud team's: her model page draws the very
    # graph the report draws.
    client.force_login(dana)
    page = client.get(f"/models/{model.slug}/dependencies/").content.decode()
    assert str(facts.dependencies.graph) in page
    assert "Card fraud detector" not in page


def test_a_model_without_dependencies_says_so(draft, tmp_path):
    text = pdf_text(services.render_report(draft, ReportKind.VALIDATION_REPORT,
                                           now=timezone.now()).content, tmp_path)
    assert (f"{draft.model.name} depends on no other model in the inventory, and no model "
            "depends on it") in text
