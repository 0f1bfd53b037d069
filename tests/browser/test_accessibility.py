"""Every main page, for each role, passes axe-core with no serious or critical violation; the
keyboard reaches the content through a visible skip link; the layout holds at tablet width."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from governance import services as governance
from governance.models import PolicyVersion
from tests.browser.axe_check import axe_violations
from tests.browser.test_login_flow import SCREENSHOTS
from tests.governance.conftest import strict_definition
from tests.serving.conftest import (  # noqa: F401  (fixtures)
    approved,
    credit_model,
    devi,
    draft,
    onnx_bytes,
    onnx_file,
    policy,
    tiered_model,
    walk,
)

pytestmark = pytest.mark.browser

# The Django admin is Django's own page, left out; the API's Swagger UI page is checked.
FOREIGN = ("/admin/",)


@pytest.fixture
def world(approved, walk, people, onnx_file):  # noqa: F811
    """An approved version 1, a version 2 in validation with a finding, and a policy draft."""
    from registry import services as registry

    v2 = registry.version_create(actor=people["dana"], model=approved.model,
                                 artifact=onnx_file(), changelog="Second.")
    walk.submit(v2)
    walk.assign(v2)
    finding = governance.finding_raise(actor=people["victor"], version=v2, title="Drift unchecked",
                                       description="No drift check on recent data.",
                                       severity="high")
    draft_policy = governance.policy_version_create(
        actor=people["rhea"], policy_slug="sr-11-7", definition=strict_definition(),
        notes="Stricter.")
    return {"v1": approved, "v2": v2, "finding": finding, "policy": draft_policy}


def main_pages(page) -> list[str]:
    """The home page, every link the header shows this person, and the pages reached from them
    that people use every day."""
    links = page.locator("header nav a").evaluate_all("els => els.map(e => e.pathname)")
    return ["/", *(href for href in dict.fromkeys(links) if href not in FOREIGN and href != "/")]


def test_main_pages_have_no_serious_or_critical_violations_for_any_role(
        page, login, people, devi, world):  # noqa: F811
    model = world["v1"].model
    details = {
        f"/models/{model.slug}/", f"/models/{model.slug}/versions/1/",
        f"/models/{model.slug}/versions/2/workflow/",
        f"/governance/findings/{world['finding'].pk}/",
        f"/governance/policies/{world['policy'].pk}/", "/governance/policies/new/",
        "/governance/inbox/", reverse("tokens"),
    }
    failures: dict[str, list[str]] = {}
    checked = 0
    page.goto("/login/")
    failures.update({f"anonymous {page.url}": v for v in [axe_violations(page)] if v})
    for user in (people["dana"], people["victor"], people["rhea"], people["boris"],
                 people["aude"], people["adam"], devi):
        login(user)
        for path in [*main_pages(page), *sorted(details)]:
            response = page.goto(path)
            if response is None or response.status in (403, 404):
                continue  # not this person's page: refused, with the reason, elsewhere
            assert response.status == 200, f"{user.username} {path}: {response.status}"
            checked += 1
            violations = axe_violations(page)
            if violations:
                failures[f"{user.username} {path}"] = violations
        page.context.clear_cookies()
    assert checked > 40
    assert not failures, "\n".join(f"{where}:\n  " + "\n  ".join(v)
                                   for where, v in failures.items())


def test_the_keyboard_reaches_the_content_and_sees_where_it_is(page, login, people, policy):  # noqa: F811
    login(people["rhea"])
    page.goto("/governance/policies/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    outline = skip.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    expect(page.get_by_role("link", name="Policies")).to_have_attribute("aria-current", "page")


def test_the_draft_form_marks_required_fields_and_fits_a_tablet(page, login, people, policy):  # noqa: F811
    page.set_viewport_size({"width": 768, "height": 1024})
    login(people["rhea"])
    page.goto("/governance/policies/new/")
    expect(page.locator("label[for=id_notes] .required-mark")).to_have_text("*")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 768, f"the page is {width}px wide on a 768px tablet"
    page.screenshot(path=SCREENSHOTS / "policy-draft-tablet.png", full_page=True)
    assert PolicyVersion.objects.filter(created_by=people["rhea"]).count() == 0
