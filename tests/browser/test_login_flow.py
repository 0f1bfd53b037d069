"""End to end in a real browser: sign in, see who you are, create an API token, sign out."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.models import ApiToken

pytestmark = pytest.mark.browser

# Screenshots for a person to look at (they are not compared): $TMPDIR/assay-browser/.
SCREENSHOTS = Path(tempfile.gettempdir()) / "assay-browser"
SCREENSHOTS.mkdir(exist_ok=True)


def test_a_data_scientist_signs_in_creates_a_token_and_signs_out(page, login, dana):
    login(dana)
    header = page.locator("header.topbar")
    expect(header.locator(".username")).to_have_text("dana")
    expect(header.locator(".roles")).to_have_text("Data scientist")
    expect(header.get_by_role("link", name="Inventory")).to_be_visible()
    expect(header.get_by_role("link", name="Admin")).to_have_count(0)
    expect(header.get_by_role("link", name="Audit trail")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, dana")
    page.screenshot(path=SCREENSHOTS / "home-dana.png", full_page=True)

    header.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("Nightly scoring")
    page.get_by_label("Expires in (days)").fill("30")
    page.get_by_role("button", name="Create token").click()
    shown = page.locator("#new-token")
    expect(shown).to_have_text(re.compile(r"^assay_[0-9a-f]{12}_\S{40,}$"))
    token = shown.inner_text()
    row = ApiToken.objects.get(user=dana)
    assert row.digest == ApiToken.digest_of(token)
    expect(page.get_by_role("row", name=re.compile("Nightly scoring"))).to_contain_text("active")
    page.screenshot(path=SCREENSHOTS / "tokens-created.png", full_page=True)

    page.reload()  # shown once: a reload (a GET) does not show it again
    expect(page.locator("#new-token")).to_have_count(0)
    assert token not in page.content()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login/$"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto("/account/tokens/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/account/tokens/$"))


def test_a_token_is_revoked_from_the_page(page, login, dana):
    login(dana)
    page.goto("/account/tokens/")
    page.get_by_label("Name").fill("Laptop")
    page.get_by_role("button", name="Create token").click()
    row = page.get_by_role("row", name=re.compile("Laptop"))
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Token 'Laptop' is revoked; it no longer works.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Laptop"))).to_contain_text("revoked")
    assert ApiToken.objects.get(user=dana).status == "revoked"


@pytest.mark.parametrize(("who", "roles", "admin_link"), [
    ("aude", "Auditor", True),
    ("adam", "Administrator", True),
    ("rhea", "Risk officer", False),
    ("dana", "Data scientist", False),
])
def test_navigation_follows_the_role(page, login, people, who, roles, admin_link):
    login(people[who])
    header = page.locator("header.topbar")
    expect(header.locator(".roles")).to_have_text(roles)
    expect(header.get_by_role("link", name="Admin")).to_have_count(1 if admin_link else 0)
    # Risk officers read the audit trail without administering anything.
    expect(header.get_by_role("link", name="Audit trail")).to_have_count(
        1 if admin_link or who == "rhea" else 0)
    expect(header.locator(".badge", has_text="read-only")).to_have_count(1 if who == "aude" else 0)
    page.screenshot(path=SCREENSHOTS / f"home-{who}.png")
    if admin_link:
        header.get_by_role("link", name="Admin").click()
        expect(page.locator("#site-name")).to_have_text("Assay administration")


def test_a_wrong_password_shows_the_error_on_the_form(page, dana):
    page.goto("/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username")
    expect(page).to_have_url(re.compile(r"/login/$"))
    page.screenshot(path=SCREENSHOTS / "login-error.png")
