"""In a real browser (issue 18): an administrator checks an inventory CSV, reads the problems by
line and column, uploads the corrected file and imports it; then an imported model's owner
attests from the model's page. axe-core passes the import report and the attestation page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from governance.models import OwnerAttestation
from registry.models import RegisteredModel
from tests.browser.axe_check import axe_violations
from tests.governance.conftest import policy  # noqa: F401  (fixture)
from tests.governance.test_inventory_onboarding import GOOD

pytestmark = pytest.mark.browser


def test_an_administrator_imports_an_inventory_and_an_owner_attests(
        page, login, people, policy, tmp_path):  # noqa: F811
    broken = tmp_path / "broken.csv"
    broken.write_text(GOOD.replace("credit,dana,Decides", "credit,nobody,Decides"),
                      encoding="utf-8")
    good = tmp_path / "inventory.csv"
    good.write_text(GOOD, encoding="utf-8")

    login(people["adam"])
    page.goto("/governance/inventory/import/")
    page.get_by_label("Inventory CSV").set_input_files(str(broken))
    page.get_by_role("button", name="Check the file (dry run)").click()
    errors = page.locator("#import-errors")
    expect(errors).to_contain_text("No active user 'nobody'")
    expect(errors.locator("tbody tr").first).to_contain_text("owner")
    assert not axe_violations(page)
    assert not RegisteredModel.objects.exists()

    page.get_by_label("Inventory CSV").set_input_files(str(good))
    page.get_by_role("button", name="Check the file (dry run)").click()
    expect(page.locator("#import-report")).to_contain_text("3 rows checked; nothing is wrong")
    page.get_by_role("button", name="Import 3 models").click()
    expect(page.locator(".messages")).to_contain_text("Imported 3 models from inventory.csv")
    assert RegisteredModel.objects.count() == 3

    # A year on, the scorecard's owner attests from its page.
    RegisteredModel.objects.filter(slug="retail-scorecard").update(
        created_at=timezone.now() - dt.timedelta(days=200))
    page.context.clear_cookies()
    login(people["dana"])
    page.goto("/models/retail-scorecard/")
    page.locator("#attestation-h").scroll_into_view_if_needed()
    page.get_by_role("link", name="Attestation →").click()
    expect(page.locator("#attestation-due")).to_contain_text("due")
    assert not axe_violations(page)
    page.get_by_label("The inventory entry is complete and accurate").check()
    page.get_by_label("The model is used as it was approved").check()
    page.get_by_label("The model is used within the conditions and limits of its "
                      "approval").check()
    page.get_by_role("button", name="Attest").click()
    expect(page.locator(".messages")).to_contain_text("Attested. The next attestation is due")
    expect(page.locator("#attestation-due")).to_contain_text("up to date")
    assert OwnerAttestation.objects.get(model__slug="retail-scorecard").attested_by == \
        people["dana"]
