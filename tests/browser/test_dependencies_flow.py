"""In a real browser: a data scientist records a data source, links it and an upstream model to a
model, is refused a link that would close a cycle, and reads the dependency graph on the model
page and "which models use this data?" on the source's page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from registry import services
from registry.models import DataSource
from tests.browser.test_login_flow import SCREENSHOTS
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.browser


def test_a_data_scientist_links_data_and_models_and_reads_the_graph(page, login, dana, teams):
    bureau = services.model_create(actor=dana, team=teams["credit"],
                                   **model_fields(name="Bureau score"))
    limits = services.model_create(actor=dana, team=teams["credit"],
                                   **model_fields(name="Credit limit setter"))
    login(dana)

    page.get_by_role("link", name="Data sources").first.click()
    page.get_by_role("link", name="Record a data source").click()
    page.get_by_label("Name").fill("Experian bureau extract")
    page.get_by_label("System").fill("EDW")
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Experian bureau extract")
    source = DataSource.objects.get()

    page.goto(f"/models/{limits.slug}/edit/")
    page.get_by_label("Upstream models").select_option(bureau.slug)
    page.get_by_label("Data sources", exact=True).select_option(str(source.pk))
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".messages, [role=status]").first).to_contain_text("Changes saved")

    # Bureau score may not now depend on the model that depends on it.
    page.goto(f"/models/{bureau.slug}/edit/")
    page.get_by_label("Upstream models").select_option(limits.slug)
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("body")).to_contain_text(
        "Bureau score depends on Credit limit setter depends on Bureau score")

    page.goto(f"/models/{limits.slug}/")
    page.get_by_role("tablist").get_by_role("tab", name="Dependencies").click()
    graph = page.locator("#dependency-graph svg")
    expect(graph).to_be_visible()
    expect(graph).to_contain_text("Bureau score")
    expect(page.locator("#upstream-models")).to_contain_text("Bureau score")
    expect(page.locator("#model-data-sources")).to_contain_text("Experian bureau extract")
    page.screenshot(path=SCREENSHOTS / "model-dependencies-tab.png", full_page=True)

    page.locator("#model-data-sources").get_by_role("link",
                                                    name="Experian bureau extract").click()
    expect(page.locator("#using-models")).to_contain_text("Credit limit setter")
