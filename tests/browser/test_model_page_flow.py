"""In a real browser: a risk officer goes through the tabs of an approved, deployed model's page,
by mouse (htmx swaps the tab in and the address follows) and by keyboard (arrow keys between the
tabs, Enter to open one), and the back button returns to the tab before."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from governance import services as governance
from serving import services
from tests.browser.test_login_flow import SCREENSHOTS
from tests.governance.conftest import (  # noqa: F401  (fixtures)
    _fresh_throttle,
    draft,
    policy,
    tiered_model,
    walk,
)
from tests.registry.conftest import credit_model, onnx_bytes, onnx_file  # noqa: F401
from tests.serving.conftest import approved, devi  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_a_risk_officer_clicks_and_keys_through_the_model_page_tabs(
        page, login, people, devi, approved):  # noqa: F811
    governance.finding_raise(actor=people["victor"], version=approved, severity="medium",
                             title="Calibration drifts for young applicants",
                             description="Expected and observed default rates differ.")
    services.endpoint_create(actor=devi, slug="credit", version=approved)
    slug = approved.model.slug
    login(people["rhea"])
    page.goto(f"/models/{slug}/")
    tabs = page.get_by_role("tablist")
    expect(tabs.get_by_role("tab", name="Overview")).to_have_attribute("aria-selected", "true")
    page.evaluate("window.assayNotReloaded = true")

    expected = {
        "Versions": ("versions", "Approved"),
        "Evaluations": ("evaluations", "Evaluation data"),
        "Findings": ("findings", "Calibration drifts for young applicants"),
        "Review and sign-offs": ("review", "1 of 1 review board"),
        "Deployments": ("deployments", "credit"),
        "Dependencies": ("dependencies", "No model you can see depends on it."),
        "Audit timeline": ("history", "Model create"),
        "Model card": ("model-card", "Model card — v1"),
    }
    for name, (key, text) in expected.items():
        tabs.get_by_role("tab", name=name).click()
        expect(page).to_have_url(f"{page.url.split('/models/')[0]}/models/{slug}/{key}/")
        expect(tabs.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")
        expect(page.get_by_role("tabpanel")).to_contain_text(text)
    # htmx swapped each tab in: the page itself never reloaded.
    assert page.evaluate("window.assayNotReloaded") is True
    page.screenshot(path=SCREENSHOTS / "model-page-model-card-tab.png", full_page=True)

    # The keyboard, after all those swaps (the WAI-ARIA tabs pattern): the tabs come in the
    # issue's order, only the selected tab is in the Tab sequence (roving tabindex), the arrow
    # keys move between the tabs and wrap round, Home and End go to the ends, Enter or Space
    # opens the focused tab, and Tab goes on to the tab panel.
    assert tabs.get_by_role("tab").all_inner_texts() == ["Overview", *expected]
    roving(tabs, selected="Model card")
    tabs.get_by_role("tab", name="Model card").focus()
    page.keyboard.press("ArrowRight")
    expect(tabs.get_by_role("tab", name="Overview")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(tabs.get_by_role("tab", name="Model card")).to_be_focused()
    page.keyboard.press("Home")
    expect(tabs.get_by_role("tab", name="Overview")).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    expect(tabs.get_by_role("tab", name="Audit timeline")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("tabpanel")).to_contain_text("Model create")
    expect(page).to_have_url(f"{page.url.split('/models/')[0]}/models/{slug}/history/")
    roving(tabs, selected="Audit timeline")
    # The swapped-in strip keeps the focus on the tab opened, and the keys work on it at once.
    expect(tabs.get_by_role("tab", name="Audit timeline")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(tabs.get_by_role("tab", name="Model card")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(tabs.get_by_role("tab", name="Overview")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    expect(page).to_have_url(f"{page.url.split('/models/')[0]}/models/{slug}/versions/")
    expect(page.get_by_role("tabpanel")).to_contain_text("Approved")
    roving(tabs, selected="Versions")
    tabs.get_by_role("tab", name="Versions").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("tabpanel")).to_be_focused()
    assert page.evaluate("window.assayNotReloaded") is True

    # Back: the tabs before, from the addresses htmx pushed.
    page.go_back()
    expect(page).to_have_url(f"{page.url.split('/models/')[0]}/models/{slug}/history/")
    page.go_back()
    expect(page).to_have_url(f"{page.url.split('/models/')[0]}/models/{slug}/model-card/")
    expect(page.get_by_role("tabpanel")).to_contain_text("Model card — v1")


def roving(tabs, *, selected: str) -> None:
    """Only the tab ``selected`` is in the Tab sequence, and it alone is marked selected."""
    for tab in tabs.get_by_role("tab").all():
        name = tab.inner_text()
        expect(tab).to_have_attribute("tabindex", "0" if name == selected else "-1")
        expect(tab).to_have_attribute("aria-selected", "true" if name == selected else "false")
