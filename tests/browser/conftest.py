"""Browser tests: Playwright driving the system's Chromium against pytest-django's live server.

Run them with ``pytest -m browser``. They need Chromium at ``/usr/bin/chromium`` (Debian:
``apt-get install chromium``) or at the path in ``ASSAY_CHROMIUM``; Playwright's own browser
download is never used. A missing browser fails the run loudly rather than skipping silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.models import User
from tests.conftest import PASSWORD

CHROMIUM = os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run browser tests last (see ``browser`` below for why), keeping everyone's order."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the whole session.

    Playwright's sync API keeps an asyncio event loop running in the main thread for as long as
    it is started, so Django's async-safety check believes every ORM call made by the tests'
    fixtures comes from a coroutine and refuses it. That belief is false here: no coroutine runs
    Django code (the live server serves requests from its own thread, with its own connection),
    so the check is switched off while the browser lives, and browser tests run last so that the
    rest of the suite keeps the check.
    """
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. Install it (Debian/Ubuntu: "
            "`sudo apt-get install chromium`) or point ASSAY_CHROMIUM at a Chromium/Chrome "
            "binary. Do not use `playwright install`; these tests drive the system's browser.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def site(transactional_db, live_server) -> str:
    """The live server's base URL. The server reads the database from its own thread, so the test
    commits its data (transactional_db); tests/conftest.py empties the tables afterwards."""
    return live_server.url


@pytest.fixture
def page(browser, site) -> Iterator:
    """A fresh browser context (own cookies) and page per test."""
    context = browser.new_context(base_url=site, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def login(page) -> Callable[[User], None]:
    """Sign in through the real login form, as a person would."""

    def sign_in(user: User, password: str = PASSWORD) -> None:
        page.goto("/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/login/" not in url)

    return sign_in
