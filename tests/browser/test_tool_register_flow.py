"""In a real browser: an entry recorded at intake as not a model goes into the tool register.
Choosing another criticality swaps the policy's controls checklist in place (htmx, no reload);
the tool page shows the missing controls, the risk officer the policy names concludes the
review and then lowers its criticality; the findings page shows its ageing summary and taxonomy
filters, and its CSV export takes the filter shown. axe-core passes the pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from governance import services as governance
from governance.models import Tool
from governance.policy import DEFAULT_TOOL_RULES
from reports.models import GeneratedReport
from tests.browser.axe_check import axe_violations
from tests.governance.conftest import policy  # noqa: F401  (fixture)
from tests.registry.conftest import credit_model  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
HIGH = DEFAULT_TOOL_RULES["high"]["controls"]


def test_a_spreadsheet_is_registered_as_a_tool_and_reviewed(page, login, people, policy,  # noqa: F811
                                                            credit_model):  # noqa: F811
    governance.intake_record(actor=people["dana"], model=credit_model, is_model=False,
                             rationale="Sums overlays; estimates nothing.")
    login(people["dana"])
    page.goto(f"/models/{credit_model.slug}/intake/")
    page.get_by_role("link", name="Register it as a tool →").click()
    page.evaluate("window.assayNotReloaded = true")
    page.get_by_label("Kind").select_option("spreadsheet")
    page.get_by_label("High").check()
    expect(page.locator("#controls")).to_contain_text(HIGH[-1])
    assert page.evaluate("window.assayNotReloaded") is True
    assert not axe_violations(page)
    page.get_by_label("Usage").fill("Finance, at each monthly close.")
    page.get_by_label(HIGH[0]).check()
    page.get_by_role("button", name="Register the tool").click()
    expect(page.locator(".messages")).to_contain_text("is in the tool register")
    expect(page.locator("h1")).to_contain_text("high criticality")
    expect(page.locator(".checklist .badge.bad")).to_have_count(len(HIGH) - 1)
    expect(page.get_by_text("Conclude the periodic review")).to_have_count(0)  # a risk officer's
    assert not axe_violations(page)

    page.context.clear_cookies()
    login(people["rhea"])
    page.goto(f"/governance/tools/{credit_model.slug}/")
    page.get_by_label("Yes: it stays in the register until its next review").check()
    page.get_by_label("Notes").fill("Access list checked; reconciled with the ledger.")
    for control in HIGH:
        page.locator("form").get_by_label(control).check()
    page.get_by_role("button", name="Record the review").click()
    expect(page.locator(".messages")).to_contain_text("Review recorded.")
    expect(page.locator(".checklist .badge.bad")).to_have_count(0)
    assert Tool.objects.get().reviews.count() == 1

    # Its use narrows: the risk officer lowers its criticality; the workflow follows the policy.
    page.get_by_label("Medium").check()
    page.get_by_label("Reason").fill("Only the credit team uses it now.")
    page.get_by_role("button", name="Change the criticality").click()
    expect(page.locator(".messages")).to_contain_text("is now of medium criticality")
    expect(page.locator("h1")).to_contain_text("medium criticality")
    expect(page.get_by_text("Every 12 months by its owner")).to_be_visible()
    assert Tool.objects.get().criticality == "medium"
    assert not axe_violations(page)

    page.goto("/governance/tools/")
    expect(page.get_by_role("link", name=credit_model.name)).to_be_visible()
    assert not axe_violations(page)
    page.goto("/governance/findings/")
    expect(page.get_by_role("heading", name="Ageing of unresolved findings")).to_be_visible()
    page.get_by_label("SR 11-7 area").select_option("outcomes_analysis")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"sr117_area=outcomes_analysis"))
    assert not axe_violations(page)
    # The export takes the filter the page shows.
    page.get_by_role("button", name="Export these findings (CSV)").click()
    expect(page).to_have_url(re.compile(r"/reports/exports/\d+/$"))
    job = GeneratedReport.objects.get()
    assert job.params == {"status": "unresolved", "sr117_area": "outcomes_analysis"}
