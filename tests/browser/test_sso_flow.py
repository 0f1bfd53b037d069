"""Single sign-on in a real browser against a real OpenID Connect provider (tests/sso): the
redirect dance to the provider's sign-in form and back to the dashboard, a sign-off whose
signature is a fresh sign-in at the provider, and signing out, which ends the provider's session
too (a break-glass administrator's does not go to the provider)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.models import AuditEvent, Role, User
from governance.models import SignOff
from tests.browser.test_login_flow import SCREENSHOTS
from tests.conftest import PASSWORD
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


def sign_in_through_the_provider(page, site: str, username: str) -> None:
    page.goto("/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    sign_in_at_provider(page, username)
    page.wait_for_url(f"{site}/")


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
    sign_in_through_the_provider(page, site, "boris")

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


def test_signing_out_of_assay_signs_out_at_the_provider_too(page, site, provider, teams):
    sign_in_through_the_provider(page, site, "vera")

    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_text("Sign out of the test identity provider?")).to_be_visible()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{site}/login/")
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    assert AuditEvent.objects.filter(action="auth.logout", actor_username="vera").count() == 1
    # The provider's session has ended: signing in again asks for credentials there.
    page.get_by_role("link", name="Sign in with Test IdP").click()
    expect(page.get_by_label("IdP username")).to_be_visible()


def test_with_provider_sign_out_off_the_providers_session_outlives_assays(
        page, site, provider, teams, settings):
    settings.OIDC_PROVIDER_LOGOUT = False
    sign_in_through_the_provider(page, site, "vera")

    page.get_by_role("button", name="Sign out").click()

    page.wait_for_url(f"{site}/login/")
    # Still signed in at the provider: back in without being asked for credentials.
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.wait_for_url(f"{site}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Vera Lind")


def test_a_break_glass_administrators_sign_out_does_not_go_to_the_provider(
        page, site, provider, make_user):
    make_user("rescue", Role.ADMIN)
    at_provider: list[str] = []
    page.on("request", lambda request: at_provider.append(request.url)
            if request.url.startswith(provider.issuer) else None)
    page.goto("/login/?break_glass=1")
    page.get_by_label("Username").fill("rescue")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in with a password").click()
    page.wait_for_url(f"{site}/")

    page.get_by_role("button", name="Sign out").click()

    page.wait_for_url(f"{site}/login/")
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    assert at_provider == []
    assert AuditEvent.objects.filter(action="auth.logout", actor_username="rescue").count() == 1
