"""End to end in a real browser: a validator uploads the German-credit evaluation data, launches
a run, watches its progress, reads the figures and charts — and the version's approval is no
longer blocked by missing evidence, as the policy (roc_auc, dp_ratio, ece) says."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from evaluation.models import Run
from governance.gates import blocking_items
from tests.browser.test_login_flow import SCREENSHOTS
from tests.evaluation.conftest import (  # noqa: F401  (fixtures)
    GERMAN_CSV,
    demo_onnx,
    evaluation_policy,
    german_model,
    german_version,
    queued_runs,
    validating,
)

pytestmark = pytest.mark.browser


def run_worker_in_background(runs, monkeypatch, watched: threading.Event) -> threading.Thread:
    """Run the queued task as a worker would, while the page watches. The worker holds still
    after its first "Computing the ..." report until the page has shown it (``watched``): the
    German-credit run takes well under a second, less than the page's polling interval."""
    from evaluation import services

    report = services._Progress.__call__

    def report_and_wait(self, percent: int, step: str) -> None:
        report(self, percent, step)
        if step.startswith("Computing the") and not watched.is_set():
            watched.wait(timeout=60)

    monkeypatch.setattr(services._Progress, "__call__", report_and_wait)

    def work() -> None:
        try:
            runs.run()
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_a_validator_evaluates_the_german_credit_model_in_the_browser(
        page, login, validating, people, queued_runs, monkeypatch):  # noqa: F811
    version = validating
    evidence_missing = [b.key for b in blocking_items(version) if b.kind == "evidence"]
    assert evidence_missing == ["performance", "bias", "calibration"]
    login(people["victor"])

    page.goto(f"/models/{version.model.slug}/evaluations/")
    page.get_by_role("link", name="Upload evaluation data").click()
    page.get_by_label("File").set_input_files(str(GERMAN_CSV))
    page.get_by_label("Label column").fill("good_credit")
    page.get_by_label("Sensitive columns").fill("sex, age")
    page.get_by_label("Bins").fill("age: 25, 60")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".evaluation-panel")).to_contain_text("german_credit.csv")
    expect(page.locator(".evaluation-panel")).to_contain_text("age (bins at 25.0, 60.0)")

    page.goto(f"/models/{version.model.slug}/versions/{version.number}/")
    expect(page.locator(".governance-panel")).to_contain_text("Required evidence")
    page.get_by_role("link", name="Launch an evaluation").click()
    page.get_by_label("Evaluation data").select_option(label="german_credit.csv")
    page.get_by_label("Bootstrap replicates").fill("3000")
    page.get_by_role("button", name="Launch the evaluation").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Queued")
    expect(page.locator(".progress-step")).to_contain_text("Waiting for a worker")
    # A mark on this page's window: a reload would lose it.
    page.evaluate("window.assayNotReloaded = true")

    watched = threading.Event()
    worker = run_worker_in_background(queued_runs, monkeypatch, watched)
    expect(page.locator(".progress-step")).to_contain_text("Computing the", timeout=60_000)
    expect(page.locator("#run-progress-bar")).not_to_have_attribute("value", "0")
    page.screenshot(path=SCREENSHOTS / "evaluation-running.png", full_page=True)
    watched.set()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Succeeded", timeout=120_000)
    worker.join(timeout=60)
    # The results came in place of the progress bar: the page was never reloaded.
    assert page.evaluate("window.assayNotReloaded") is True
    expect(page.locator("progress")).to_have_count(0)

    run = Run.objects.get()
    assert run.status == "succeeded" and run.launched_by == people["victor"]
    for check in ("Performance", "Bias", "Calibration"):
        expect(page.get_by_role("heading", name=check)).to_contain_text("passed")
    expect(page.locator("svg[role=img]")).to_have_count(7)  # ROC, PR, confusion; sex, age, sex&age; reliability
    expect(page.locator("svg[role=img]").first).to_contain_text("ROC curve")
    page.get_by_text("Figures").first.click()
    expect(page.locator("table.figures").first).to_contain_text("roc_auc")
    expect(page.locator("#blockers")).not_to_contain_text("evidence")
    expect(page.get_by_role("link", name="Download the full results (JSON)")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "evaluation-results.png", full_page=True)

    # The policy's required evidence is there and passes: approval is no longer blocked by it.
    assert not [b for b in blocking_items(version) if b.kind == "evidence"]
    page.goto(f"/models/{version.model.slug}/versions/{version.number}/")
    expect(page.locator(".governance-panel")).not_to_contain_text("Required evidence")
    expect(page.locator(".evaluation-panel")).to_contain_text("Succeeded")
