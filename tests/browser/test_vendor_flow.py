"""In a real browser: a data scientist registers a vendor's hosted model with no ONNX form, sees
it as an idea in the inventory, and answers its due diligence on the vendor page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from governance.models import DiligenceAnswer
from registry.models import RegisteredModel

pytestmark = pytest.mark.browser


def test_a_vendor_model_is_registered_as_an_idea_and_its_due_diligence_answered(page, login,
                                                                                dana):
    login(dana)
    page.goto("/models/new/")
    page.get_by_role("textbox", name="Name", exact=True).fill("Bureau score")
    page.get_by_label("Team").select_option("credit")
    page.get_by_label("Purpose").fill("A bureau's second opinion on loan applications.")
    page.get_by_label("Decision type").select_option("credit")
    page.get_by_label("Task").select_option("binary_classification")
    page.get_by_label("Sourcing").select_option("vendor")
    page.get_by_label("Vendor name").fill("Northwind Credit Bureau")
    page.get_by_label("Form of the model").select_option("vendor_api")
    page.get_by_label("Contract reference").fill("MSA-2026-114")
    page.get_by_label("Contingency and exit plan").fill("Fall back to the in-house scorecard.")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Idea")
    expect(page.locator("dl.facts").first).to_contain_text("no ONNX artifact")
    model = RegisteredModel.objects.get()
    assert model.artifact_form == "vendor_api" and model.contract_reference == "MSA-2026-114"

    page.goto("/models/?status=idea")
    expect(page.get_by_role("table").first).to_contain_text("Bureau score")

    page.goto(f"/models/{model.slug}/")
    page.get_by_role("link", name="Due diligence, contract and releases →").click()
    row = page.locator("#diligence-right_to_audit")
    row.get_by_label("Answer").fill("MSA clause 14 grants audit on 60 days' notice.")
    row.get_by_role("button", name="Answer").click()
    expect(page.locator("#diligence-right_to_audit")).to_contain_text(
        "Awaiting the validator's review")
    assert DiligenceAnswer.objects.get(model=model).item == "right_to_audit"
