"""End to end in a real browser (issue 14): a deployer creates an endpoint, sets a canary,
promotes it, rolls back and suspends, each destructive step behind a confirmation that names its
consequence; the history names the people."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from serving.models import Endpoint, EndpointStatus
from tests.browser.test_login_flow import SCREENSHOTS
from tests.serving.conftest import (  # noqa: F401
    approved,
    credit_model,
    devi,
    draft,
    next_version,
    onnx_bytes,
    onnx_file,
    policy,
    tiered_model,
    walk,
)

pytestmark = pytest.mark.browser


def test_a_deployer_creates_canaries_promotes_rolls_back_and_suspends(
        page, login, devi, approved, next_version):  # noqa: F811
    devi.first_name, devi.last_name = "Devi", "Nair"
    devi.save()
    login(devi)
    page.get_by_role("link", name="Deployments").first.click()
    page.get_by_role("link", name="New endpoint").click()
    page.get_by_label("Name").fill("credit-scoring")
    page.get_by_label("Version").select_option(label="Retail scorecard v1 (retail-scorecard)")
    page.get_by_role("button", name="Create the endpoint").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Endpoint credit-scoring")
    expect(page.locator("dl.facts")).to_contain_text("retail-scorecard v1")
    expect(page.locator("dl.facts")).to_contain_text("servable")

    # A share out of range is refused on the form, keeping the endpoint as it was.
    page.get_by_role("link", name="Set a canary").click()
    page.get_by_label("Canary version").select_option(
        label="Retail scorecard v2 (retail-scorecard)")
    page.get_by_label("Share of requests (%)").fill("150")
    page.get_by_role("button", name="Set a canary").click()
    expect(page.locator(".field-error")).to_contain_text("100")
    page.get_by_label("Share of requests (%)").fill("25")
    page.get_by_role("button", name="Set a canary").click()
    expect(page.locator("dl.facts")).to_contain_text("25% of requests")

    page.get_by_role("link", name="Promote the canary").click()
    expect(page.locator(".consequence")).to_contain_text(
        "retail-scorecard v2 becomes the primary of credit-scoring")
    page.get_by_role("button", name="Confirm: promote the canary").click()
    expect(page.locator("dl.facts")).to_contain_text("Primary")
    assert Endpoint.objects.get().primary_version == next_version

    page.get_by_role("link", name="Roll back to retail-scorecard v1").click()
    expect(page.locator(".consequence")).to_contain_text(
        "retail-scorecard v2 stops answering credit-scoring")
    page.get_by_label("Reason").fill("Declines doubled overnight.")
    page.get_by_role("button", name="Confirm: roll back").click()
    expect(page.get_by_role("table")).to_contain_text("Declines doubled overnight.")
    assert Endpoint.objects.get().primary_version == approved

    page.get_by_role("link", name="Suspend").click()
    expect(page.locator(".consequence")).to_contain_text("every application calling it is "
                                                         "refused")
    page.get_by_role("button", name="Confirm: suspend").click()
    expect(page.locator(".field-error")).to_contain_text("Say why you suspend")
    page.get_by_label("Reason").fill("Incident 42.")
    page.get_by_role("button", name="Confirm: suspend").click()
    expect(page.get_by_role("alert").first).to_contain_text("The endpoint is suspended")
    history = page.get_by_role("table")
    expect(history).to_contain_text("Devi Nair")
    for action in ("Created", "Canary set", "Canary promoted", "Rolled back", "Suspended"):
        expect(history).to_contain_text(action)
    assert Endpoint.objects.get().status == EndpointStatus.SUSPENDED
    page.screenshot(path=SCREENSHOTS / "endpoint-devi.png", full_page=True)
