"""Single sign-on in a real browser against a real OpenID Connect provider (tests/sso): the
redirect dance to the provider's sign-in form and back to the dashboard, and a sign-off whose
signature is a fresh sign-in at the provider."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.models import User
from governance.models import SignOff
from tests.browser.test_login_flow import SCREENSHOTS
from tests.governance.conftest import draft, policy, tiered_model, walk  # noqa: F401  (fixtures)
from tests.registry.conftest import credit_model, onnx_bytes, onnx_file  # noqa: F401
from tests.sso.idp import IDP_PASSWORD, enable_sso, start_provider

pytestmark = pytest.mark.browser


@pytest.fixture
def provider(site, settings, tmp_path):
    """The provider, accepting redirects back to the live server; Assay's SSO switched on."""
    with start_provider(tmp_path / "idp", [site]) as running:
        enable_sso(settings, running)
        yield running


def sign_in_at_provider(page, username: str) -> None:
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("IdP username").fill(username)
    page.get_by_label("IdP password").fill(IDP_PASSWORD)
    page.get_by_role("button", name="Sign in at the provider").click()


def test_signing_in_through_the_provider_lands_on_the_dashboard(page, site, provider, teams):
    page.goto("/login/")
    expect(page.get_by_label("Password")).to_have_count(0)
    page.get_by_role("link", name="Sign in with Test IdP").click()

    sign_in_at_provider(page, "vera")

    page.wait_for_url(f"{site}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Vera Lind")
    expect(page.locator("header.topbar .roles")).to_have_text("Validator")
    page.screenshot(path=SCREENSHOTS / "sso-home-vera.png", full_page=True)
    assert set(User.objects.get(username="vera").teams.values_list("slug", flat=True)) == {
        "credit"}


def test_a_sign_off_sends_the_signer_to_the_provider_and_records_on_return(
        page, site, provider, walk, draft, boris):  # noqa: F811
    version = walk.to_pending(draft)
    page.goto("/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    sign_in_at_provider(page, "boris")
    page.wait_for_url(f"{site}/")

    page.goto(f"/models/{version.model.slug}/versions/{version.number}/sign/")
    expect(page.get_by_label("Password")).to_have_count(0)
    page.get_by_label("Approve").check()
    page.get_by_label("Comment").fill("Evidence is complete; approve.")
    page.get_by_role("button", name="Sign at Test IdP").click()

    # prompt=login: the provider asks again although the browser is signed in there.
    sign_in_at_provider(page, "boris")

    page.wait_for_url(f"{site}/models/{version.model.slug}/versions/{version.number}/workflow/")
    expect(page.get_by_text("Signed.")).to_be_visible()
    signoff = SignOff.objects.get()
    assert (signoff.signer.username, signoff.comment) == ("boris",
                                                          "Evidence is complete; approve.")
