"""The whole approval journey in a real browser, as each person lives it, against the live server
on PostgreSQL with a real Celery worker on this test's own queue:

a data scientist registers the demo German-credit model and submits it through the forms; a
validator takes the validation, uploads the evaluation data, runs the evaluations on the worker
and raises a finding; the data scientist answers it; the validator closes it and concludes; a
risk officer who also develops the model is refused the sign-off with the reason; the required
signers sign off; a deployer deploys it and the gateway answers; an auditor downloads the PDF
validation report, an audit bundle and the model's evidence pack, which verify. Each person's dashboard shows what waits for
them at their step. Screenshots of the key pages land in $TMPDIR/assay-browser/journey-*.png.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest
from playwright.sync_api import expect

from core import verify_bundle, verify_pack
from core.models import Role
from evaluation import services as evaluation
from registry.demo.train_german_credit import DATA_PATH as GERMAN_CSV
from registry.models import ModelVersion, VersionState
from serving import appkeys
from tests.browser.test_login_flow import SCREENSHOTS
from tests.evaluation.conftest import (  # noqa: F401  (fixtures)
    demo_onnx,
    evaluation_policy,
    queued_runs,
)
from tests.evaluation.test_worker_kill import start_worker
from tests.governance.conftest import MEDIUM, review_fields
from tests.serving.conftest import InProcess

pytestmark = [pytest.mark.browser, pytest.mark.worker]

MODEL = "German credit scorecard"


def shot(page, name: str) -> None:
    page.screenshot(path=SCREENSHOTS / f"journey-{name}.png", full_page=True)


@pytest.fixture
def worker(transactional_db, queued_runs, tmp_path):  # noqa: F811
    """A real Celery worker on a queue of this test's own; evaluation runs are sent to it."""
    from config.celery import app

    queue = f"journey_{uuid.uuid4().hex}"
    queued_runs.send_to(lambda run_id: app.send_task(evaluation.RUN_TASK, args=[run_id],
                                                     queue=queue))
    process = start_worker("journey", queue, tmp_path)
    yield process
    process.terminate()
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # a warm shutdown slower than a minute on a loaded machine
        process.kill()
        process.communicate(timeout=30)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)


def test_the_approval_journey_from_submission_to_a_verified_audit_bundle(
        page, login, people, make_user, evaluation_policy, demo_onnx, worker, tmp_path,  # noqa: F811
        own_files):
    dana, victor, rhea, boris, aude = (people[n] for n in ("dana", "victor", "rhea", "boris",
                                                           "aude"))
    dana.first_name, dana.last_name = "Dana", "Scully"
    dana.save()
    rob = make_user("rob", Role.RISK_OFFICER, Role.DATA_SCIENTIST, team="credit")
    devi = make_user("devi", Role.DEPLOYER)
    onnx = tmp_path / "german_credit.onnx"
    onnx.write_bytes(demo_onnx)

    # The journey's heavier steps (an approval signs the artifact and archives the validation
    # report as PDF/A) take seconds on a quiet machine and longer on a shared one.
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(180_000)

    def as_(user) -> None:
        page.context.clear_cookies()
        login(user)

    # --- The data scientist registers the model, answers the intake, uploads and submits. ---
    as_(dana)
    expect(page.locator(".dashboard")).to_contain_text("Nothing waits for you now")
    page.get_by_role("link", name="Inventory").first.click()
    page.get_by_role("link", name="Register a model").click()
    page.get_by_role("textbox", name="Name", exact=True).fill(MODEL)
    page.get_by_label("Team").select_option("credit")
    page.get_by_label("Purpose").fill("Estimate the probability that an applicant repays.")
    page.get_by_label("Decision type").select_option("credit")
    page.get_by_label("Task").select_option("binary_classification")
    page.get_by_label("Developers").select_option(label="rob")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(MODEL)
    slug = page.url.rstrip("/").rsplit("/", 1)[-1]

    page.goto(f"/models/{slug}/intake/")
    page.get_by_label("Yes: a quantitative method").check()
    page.get_by_label("Rationale").fill("A scorecard estimating the probability of repayment.")
    for key, answer in MEDIUM.items():
        page.locator(f"select[name=q_{key}]").select_option(answer)
    page.get_by_role("button", name="Save the intake").click()
    expect(page.locator("body")).to_contain_text("Tier 2")

    page.goto(f"/models/{slug}/")
    page.get_by_role("link", name="New version").first.click()
    page.get_by_label("Changelog").fill("The demo scorecard.")
    page.get_by_label("Artifact").set_input_files(str(onnx))
    page.get_by_role("button", name="Create version").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("v1")
    page.goto(f"/models/{slug}/versions/1/workflow/")
    page.get_by_role("button", name="Submit for validation").click()
    expect(page.locator(".messages")).to_contain_text("submitted")
    shot(page, "1-submitted")
    version = ModelVersion.objects.get(model__slug=slug, number=1)
    assert version.state == VersionState.SUBMITTED

    # --- The validator sees it in the open queue, takes it, uploads the data, evaluates. ---
    as_(victor)
    queue = page.locator(".dashboard")
    expect(queue).to_contain_text("Submitted, no validator yet")
    queue.get_by_role("link", name=f"{MODEL} v1").click()
    page.get_by_label("I attest that I am independent of this version").check()
    page.get_by_role("button", name="Take this validation").click()
    page.goto("/")
    expect(page.locator(".dashboard")).to_contain_text("Your validations")

    page.goto(f"/models/{slug}/evaluations/")
    page.get_by_role("link", name="Upload evaluation data").click()
    page.get_by_label("File").set_input_files(str(GERMAN_CSV))
    page.get_by_label("Label column").fill("good_credit")
    page.get_by_label("Sensitive columns").fill("sex, age")
    page.get_by_label("Bins").fill("age: 25, 60")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".evaluation-panel")).to_contain_text("german_credit.csv")

    page.goto(f"/models/{slug}/versions/1/")
    page.get_by_role("link", name="Launch an evaluation").click()
    page.get_by_label("Evaluation data").select_option(label="german_credit.csv")
    page.get_by_label("Bootstrap replicates").fill("200")
    page.get_by_role("button", name="Launch the evaluation").click()
    # The page polls the run: it finishes on the worker without a reload.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Succeeded", timeout=180_000)
    for check in ("Performance", "Bias", "Calibration"):
        expect(page.get_by_role("heading", name=check)).to_contain_text("passed")
    shot(page, "2-evaluated")

    page.goto(f"/models/{slug}/versions/1/workflow/")
    page.get_by_role("link", name="Raise a finding").click()
    page.get_by_label("Title").fill("Thin file applicants")
    page.get_by_label("Description").fill("Scores for applicants with no history are untested.")
    page.get_by_label("Severity").select_option("medium")
    page.get_by_role("button", name="Raise the finding").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thin file applicants")
    finding_url = page.url

    # --- The data scientist answers the finding from her dashboard. ---
    as_(dana)
    mine = page.locator(".dashboard")
    expect(mine).to_contain_text("Findings waiting for you")
    mine.get_by_role("link", name="Thin file applicants").click()
    page.get_by_label("Propose the remediation").fill(
        "Thin-file applicants are now referred to a credit officer; see the policy memo.")
    page.get_by_role("button", name="Propose the remediation").click()
    expect(page.locator("body")).to_contain_text("Remediation proposed")

    # --- The validator verifies it, closes it, and concludes the review. ---
    as_(victor)
    expect(page.locator(".dashboard")).to_contain_text("a remediation waits for your verdict")
    page.goto(finding_url)
    page.get_by_label("Close: the remediation is verified").fill("Referral rule checked.")
    page.get_by_role("button", name="Close: the remediation is verified").click()
    expect(page.locator("body")).to_contain_text("Closed")

    page.goto(f"/models/{slug}/versions/1/review/")
    fields = review_fields(version)
    for name in ("conceptual_soundness", "data_quality", "outcomes_analysis",
                 "implementation_verification", "artifact_sha256", "limitations"):
        page.locator(f"[name={name}]").fill(fields[name])
    page.locator("input[name=conclusion][value=approve]").check()
    page.get_by_role("button", name="Conclude the review").click()
    version.refresh_from_db()
    assert version.state == VersionState.PENDING_APPROVAL, version.state
    shot(page, "3-concluded")

    # --- A risk officer who develops the model is refused, with the reason. ---
    as_(rob)
    response = page.goto(f"/models/{slug}/versions/1/sign/")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("not independent")
    shot(page, "4-refused")

    # --- The required signers see it on their dashboards and sign off. ---
    for signer in (boris, rhea):
        as_(signer)
        waiting = page.locator(".dashboard")
        expect(waiting).to_contain_text("Awaiting your sign-off")
        waiting.get_by_role("link", name=f"{MODEL} v1").click()
        page.get_by_label("Approve").check()
        page.get_by_label("Comment").fill(f"{signer.username} approves.")
        page.get_by_label("Password").fill("correct horse battery staple")
        page.get_by_role("button", name="Sign", exact=True).click(timeout=180_000)
        expect(page.locator(".messages")).to_be_visible()
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED and version.is_servable()
    shot(page, "5-approved")

    # --- The deployer deploys it; the gateway answers with the approved version. ---
    as_(devi)
    page.get_by_role("link", name="Deployments").first.click()
    page.get_by_role("link", name="New endpoint").click()
    page.get_by_label("Name").fill("credit-decisions")
    page.get_by_label("Version").select_option(label=f"{MODEL} v1 ({slug})")
    page.get_by_role("button", name="Create the endpoint").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Endpoint credit-decisions")
    shot(page, "6-deployed")
    from serving.gateway import trust
    from serving.models import Endpoint

    trust_path = own_files / "trusted-keys.json"
    trust.export(trust_path)
    _key, secret = appkeys.appkey_create(actor=devi, name="loan-desk",
                                         endpoints=[Endpoint.objects.get()])
    record = _first_applicant()
    status, _headers, body = InProcess(trust_path).refresh().post(
        "credit-decisions", {"records": [record]}, secret)
    assert status == 200, body
    assert body["version"] == 1 and body["artifact_sha256"] == version.artifact_sha256

    # --- The auditor downloads the validation report and an audit bundle that verifies. ---
    as_(aude)
    page.goto(f"/models/{slug}/versions/1/")
    report = page.get_by_role("link", name="Validation report (PDF/A)")
    pdf = page.context.request.get(report.get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    pdf_path = tmp_path / "validation-report.pdf"
    pdf_path.write_bytes(pdf.body())
    text = subprocess.run(["pdftotext", str(pdf_path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert MODEL in text and "Thin file applicants" in text

    page.goto("/audit/")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export bundle").click()
    bundle = tmp_path / "bundle.jsonl"
    download.value.save_as(bundle)
    verdict = verify_bundle.verify_file(str(bundle))
    assert verdict.ok, verdict.reasons
    assert verdict.included > 20
    shot(page, "7-audit")

    # --- ... and the model's evidence pack, which the standalone verifier checks. ---
    page.goto("/reports/exports/")
    page.locator("select[name=model]").select_option(slug)
    page.get_by_role("button", name="Show its documents").click()
    page.get_by_role("link", name=f"Evidence pack of {MODEL}").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the evidence pack").click()
    pack = tmp_path / "evidence-pack.zip"
    download.value.save_as(pack)
    checked = verify_pack.verify_pack(str(pack))
    assert checked.ok, checked.reasons
    assert checked.attestations >= 1 and checked.runs >= 1
    shot(page, "8-evidence-pack")


def _first_applicant() -> dict:
    import pandas as pd

    # The first applicant of the evaluation data, without the label and the two columns the
    # model was trained without (sex and foreign_worker are kept only to measure bias).
    row = (pd.read_csv(GERMAN_CSV, nrows=1).drop(columns=["good_credit", "sex", "foreign_worker"])
           .iloc[0].to_dict())
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}

