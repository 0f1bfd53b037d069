"""In a real browser: an administrator declines a risk officer's policy draft. The form opens
behind "Decline this draft…", names the consequence, keeps a missing reason in place (htmx swaps
the form back with what was wrong, no reload), and once confirmed the page shows who declined it,
when and why; the drafter finds the reason in the inbox. axe-core passes the open form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from governance import services as governance
from governance.models import PolicyVersion
from tests.browser.axe_check import axe_violations
from tests.browser.test_login_flow import SCREENSHOTS
from tests.governance.conftest import policy, strict_definition  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_an_administrator_declines_a_draft_with_a_reason_and_the_drafter_reads_it(
        page, login, people, policy):  # noqa: F811
    draft = governance.policy_version_create(
        actor=people["rhea"], policy_slug="sr-11-7", definition=strict_definition(),
        notes="Fairness evidence in every tier.")
    login(people["adam"])
    page.goto(f"/governance/policies/{draft.pk}/")
    page.evaluate("window.assayNotReloaded = true")
    page.get_by_text("Decline this draft…").click()
    form = page.locator("#policy-decision")
    expect(form).to_contain_text("will never become current")
    expect(form).to_contain_text("its drafter, rhea, is notified with your reason")
    assert not axe_violations(page)

    # No reason: the form comes back in place, saying so, open, without a reload.
    form.get_by_role("button", name=f"Confirm: decline {draft}").click()
    expect(page.locator("#policy-decision .field-error")).to_contain_text("required")
    assert page.evaluate("window.assayNotReloaded") is True
    assert PolicyVersion.objects.get(pk=draft.pk).is_draft

    page.get_by_label("Why you decline it").fill("Tier 3 models need no fairness evidence.")
    page.locator("#policy-decision").get_by_role(
        "button", name=f"Confirm: decline {draft}").click()
    expect(page.locator(".messages")).to_contain_text(
        f"{draft} is declined; its drafter, rhea, is notified with your reason.")
    expect(page.locator("h1")).to_contain_text("declined")
    expect(page.locator(".decline-reason")).to_have_text(
        "Tier 3 models need no fairness evidence.")
    expect(page.get_by_text("Decline this draft…")).to_have_count(0)
    page.screenshot(path=SCREENSHOTS / "policy-declined.png", full_page=True)
    assert PolicyVersion.objects.get(pk=draft.pk).declined_by == people["adam"]

    page.context.clear_cookies()
    login(people["rhea"])
    page.goto("/governance/inbox/")
    expect(page.get_by_text(f"{draft} declined by adam: Tier 3 models need no fairness "
                            "evidence.")).to_be_visible()
