"""In a real browser: a validator sees on version 2's page that it regresses against version 1,
the approved version in use, follows the banner to the comparison, then picks two runs of the
model and reads them side by side — changes told in words and symbols, paired charts drawn."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_login_flow import SCREENSHOTS
from tests.evaluation.conftest import (  # noqa: F401  (fixtures)
    demo_onnx,
    evaluation_policy,
    german_data,
    german_model,
    german_version,
    queued_runs,
    validating,
)
from tests.evaluation.test_compare import two_versions  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def test_a_validator_compares_versions_and_runs(page, login, two_versions, people):  # noqa: F811
    v1, v2, run1, run2 = two_versions
    login(people["victor"])
    page.goto(f"/models/{v2.model.slug}/versions/2/")
    banner = page.locator("#version-regressions")
    expect(banner).to_contain_text("regression")
    expect(banner).to_contain_text("against v1")
    page.get_by_role("link", name="See the comparison").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "against the previous approved version")
    expect(page.locator("#regressions")).to_contain_text("recall")
    page.screenshot(path=SCREENSHOTS / "version-comparison.png", full_page=True)

    page.goto(f"/models/{v1.model.slug}/")
    page.get_by_role("tab", name="Evaluations").click()
    page.get_by_label("Baseline (left)").select_option(str(run1.pk))
    page.get_by_label("Compared (right)").select_option(str(run2.pk))
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", level=2).first).to_contain_text(
        f"Run {run2.pk} against run {run1.pk}")
    recall = page.locator("tr", has=page.locator("code", has_text="recall")).first
    expect(recall).to_contain_text("⚠ regression")
    expect(recall).to_contain_text("the confidence intervals do not overlap")
    roc = page.locator("tr", has=page.locator("code", has_text="roc_auc")).first
    expect(roc).to_contain_text("= same")
    expect(page.locator("svg[role=img]").first).to_contain_text("ROC curves compared")
    assert page.locator("svg[role=img]").count() >= 5
    page.screenshot(path=SCREENSHOTS / "run-comparison.png", full_page=True)
