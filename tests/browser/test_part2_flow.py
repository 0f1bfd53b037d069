"""In a real browser: a validator reads a run's part-2 results — robustness curves, SHAP bars,
drift bars with the bands, the mitigation what-if under its caveat — and explains one row of the
evaluation data by its number; a row outside the data is refused with the valid range."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from evaluation import services as evaluation
from tests.browser.test_login_flow import SCREENSHOTS
from tests.evaluation.conftest import (  # noqa: F401  (fixtures)
    demo_onnx,
    evaluation_policy,
    german_model,
    german_version,
    queued_explanations,
    queued_runs,
    validating,
)
from tests.evaluation.test_part2_runs import FAST, PART2, reference_and_drifted

pytestmark = pytest.mark.browser


def test_a_validator_reads_part2_results_and_explains_one_row(
        page, login, validating, people, queued_runs, queued_explanations):  # noqa: F811
    victor = people["victor"]
    _reference, data = reference_and_drifted(validating.model, victor)
    run = evaluation.run_launch(actor=victor, version=validating, dataset=data, checks=PART2,
                                options=FAST)
    assert queued_runs.run() == ["succeeded"]

    login(victor)
    page.goto(f"/evaluation/runs/{run.pk}/")
    for check in ("Robustness", "Explainability", "Drift", "Mitigation"):
        expect(page.get_by_role("heading", name=check)).to_be_visible()
    expect(page.locator("svg[role=img]", has_text="Robustness under Gaussian noise")).to_have_count(1)
    expect(page.locator("svg[role=img]", has_text="Population stability index")).to_have_count(1)
    expect(page.locator("#mitigation-caveat")).to_contain_text("Equal Credit Opportunity Act")
    expect(page.locator("#mitigation-rules-sex tbody tr")).to_have_count(2)  # female, male
    expect(page.locator("#mitigation-rules-age tbody tr")).to_have_count(3)  # three age bands

    page.get_by_label("Row number").fill("7")
    page.get_by_role("button", name="Explain this row").click()
    # Queued for a worker: the page shows its progress and polls until it is done.
    expect(page.locator("#local-progress")).to_contain_text("Waiting for a worker")
    assert queued_explanations.run() == ["succeeded"]
    expect(page.locator("#local svg[role=img]")).to_contain_text("Row 7: from the base value")
    expect(page.locator("#row-values")).to_contain_text("duration")
    page.screenshot(path=SCREENSHOTS / "evaluation-part2-row.png", full_page=True)

    page.get_by_label("Row number").fill("0")
    page.get_by_role("button", name="Explain this row").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose a row number from 1 to 1000")
