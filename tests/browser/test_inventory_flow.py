"""End to end in a real browser: register a model, upload its ONNX artifact, read its schema."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from registry.models import ModelVersion, RegisteredModel
from tests.browser.test_login_flow import SCREENSHOTS
from tests.registry import artifact_builders as build

pytestmark = pytest.mark.browser


def test_a_data_scientist_registers_a_model_and_uploads_its_artifact(page, login, dana,
                                                                     tmp_path):
    login(dana)
    page.get_by_role("link", name="Inventory").first.click()
    page.get_by_role("link", name="Register a model").click()
    page.get_by_role("textbox", name="Name", exact=True).fill("Retail scorecard")
    page.get_by_label("Team").select_option("credit")
    page.get_by_label("Purpose").fill("Approve or decline consumer loans.")
    page.get_by_label("Decision type").select_option("credit")
    page.get_by_label("Task").select_option("binary_classification")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Retail scorecard")

    # A pickle is refused on the form, with why and how to convert.
    page.get_by_role("link", name="New version").first.click()
    pickle_file = tmp_path / "model.onnx"
    pickle_file.write_bytes(build.pickle_bytes())
    page.get_by_label("Artifact").set_input_files(str(pickle_file))
    page.get_by_role("button", name="Create version").click()
    expect(page.locator(".field-error")).to_contain_text("skl2onnx")
    assert not ModelVersion.objects.exists()

    onnx_file = tmp_path / "scorecard.onnx"
    onnx_file.write_bytes(build.valid_onnx_bytes())
    page.get_by_label("Changelog").fill("First version.")
    page.get_by_label("Artifact").set_input_files(str(onnx_file))
    page.get_by_role("button", name="Create version").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("v1")
    version = ModelVersion.objects.get(model=RegisteredModel.objects.get())
    expect(page.locator("dl.facts").first).to_contain_text(version.artifact_sha256)
    expect(page.get_by_role("table").first).to_contain_text("any \u00d7 3")
    page.screenshot(path=SCREENSHOTS / "version-dana.png", full_page=True)
