"""In a real browser: a risk officer approves a policy scoped to the Retail business line, sees
which approved model's periodic review its cadence would move (old and new dates), applies it,
and the model's workflow then says which policy it was decided under and which governs its line
now. axe-core passes the preview."""

from __future__ import annotations

import copy

import pytest
from playwright.sync_api import expect

from governance import services as governance
from governance.models import VersionGovernance
from governance.policy import TEMPLATES
from registry import services as registry
from tests.browser.axe_check import axe_violations
from tests.browser.test_login_flow import SCREENSHOTS
from tests.governance.conftest import draft, policy, tiered_model, walk  # noqa: F401  (fixtures)
from tests.governance.test_reviews import approve
from tests.registry.conftest import credit_model, onnx_bytes, onnx_file  # noqa: F401

pytestmark = pytest.mark.browser


def test_a_risk_officer_approves_a_retail_policy_and_reschedules_its_reviews(
        page, login, people, walk, draft):  # noqa: F811
    registry.model_update(actor=people["dana"], model=draft.model, business_line="Retail")
    gov = approve(walk, draft)
    retail = governance.policy_version_create(
        actor=people["adam"], policy_slug="sr-11-7-retail", name="SR 11-7 Retail",
        definition=copy.deepcopy(TEMPLATES["sr-26-2"][-1]), business_lines=["Retail"],
        notes="Retail reviews tier 2 every 24 months.")
    login(people["rhea"])
    page.goto(f"/governance/policies/{retail.pk}/")
    expect(page.locator(".policy-scope")).to_have_text("Business line Retail")
    expect(page.locator(".consequence").first).to_contain_text(
        "the current policy for business line Retail")
    page.get_by_role("button", name="Approve and make current").click()
    expect(page.locator(".messages")).to_contain_text(
        f"{retail} is now the current policy for business line Retail")

    preview = page.locator("#reschedule + p + table")
    expect(preview).to_contain_text(draft.model.name)
    expect(preview).to_contain_text(gov.next_review_due.strftime("%Y-%m-%d"))
    assert not axe_violations(page)
    page.screenshot(path=SCREENSHOTS / "policy-reschedule-preview.png", full_page=True)
    page.get_by_role("button", name="Re-schedule 1 periodic review").click()
    expect(page.locator(".messages")).to_contain_text(
        f"1 periodic review re-scheduled under {retail}; the models' owners are notified.")
    gov.refresh_from_db()
    assert gov.review_policy_version_id == retail.pk

    page.goto(f"/models/{draft.model.slug}/versions/{draft.number}/workflow/")
    expect(page.locator(".policy-note")).to_contain_text(
        f"Decided under {gov.policy_version}; the current policy for this business line is "
        f"{retail}; its periodic reviews follow {retail}'s cadence.")
    assert VersionGovernance.objects.get(pk=gov.pk).policy_version != retail
