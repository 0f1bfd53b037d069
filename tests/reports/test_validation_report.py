"""The validation report: a draft before approval, generated, frozen and archived as PDF/A at
approval with its digest in the signed approval attestation; read back with poppler."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from core.models import AuditEvent
from governance.models import Evidence
from registry.models import SignatureKind
from reports import services
from reports.models import Report, ReportKind
from tests.reports.conftest import pdf_bytes, pdf_pages, pdf_text, tool, xmp_and_catalog

pytestmark = pytest.mark.django_db


def attestation(version) -> dict:
    bundle = version.current_signature(SignatureKind.APPROVAL).bundle
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))["predicate"]


def test_approval_archives_a_frozen_pdf_a_report_whose_digest_the_attestation_signs(
        approved, aude, tmp_path):
    report = Report.objects.get(version=approved, kind=ReportKind.VALIDATION_REPORT)
    assert report.frozen and report.generated_by.username == "rhea"
    content = pdf_bytes(report)
    assert hashlib.sha256(content).hexdigest() == report.sha256
    assert attestation(approved)["documents"]["validation_report"] == {
        "sha256": report.sha256, "pages": report.pages, "filename": report.filename}
    assert AuditEvent.objects.filter(action="reports.generated",
                                     payload__sha256=report.sha256).count() == 1
    assert pdf_pages(content, tmp_path) == report.pages >= 5
    # PDF/A-3b: the XMP metadata says so, with an sRGB output intent and every font embedded.
    inside = xmp_and_catalog(content)
    assert b'pdfaid:part="3"' in inside and b'pdfaid:conformance="B"' in inside
    assert b"/OutputIntents" in inside and b"/GTS_PDFA1" in inside
    path = tmp_path / "r.pdf"
    path.write_bytes(content)
    fonts = subprocess.run([tool("pdffonts"), str(path)], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts
    assert any("DejaVu" in line for line in fonts), fonts
    # From now on the archived report is what everyone downloads; it is never made again.
    assert services.report_generate(actor=aude, version=approved,
                                    kind=ReportKind.VALIDATION_REPORT) == report
    assert Report.objects.filter(version=approved).count() == 1


def test_the_report_prints_the_names_figures_history_and_hashes_it_is_about(approved, tmp_path):
    report = Report.objects.get(version=approved, kind=ReportKind.VALIDATION_REPORT)
    content = pdf_bytes(report)
    text = pdf_text(content, tmp_path)
    auc = Evidence.objects.get(version=approved, check_name="performance").figures["roc_auc"]
    for expected in [
        approved.model.name, "Model validation report (SR 11-7)", approved.artifact_sha256,
        "Logistic regression on bureau features; sound.",  # the validator's words
        "Refer every decline to a credit officer.",  # the conditions
        f"{auc:.4f}",  # the AUC the run computed
        "ROC curve", "Confusion matrix", "Selection rate",  # the run page's charts
        # the finding with its challenge and response
        "Thin file applicants under-represented", "Challenge — victor",
        "Is the score stable for applicants with no history?", "Response — dana",
        "boris", "rhea", "victor",
    ]:
        assert expected in text, expected
    assert "Draft" not in pdf_text(content, tmp_path, last=1)
    # Running headers: none on the cover; the title and the chapter on the pages after it.
    cover, third = pdf_text(content, tmp_path, last=1), pdf_text(content, tmp_path, first=3,
                                                                  last=3)
    assert f"Page 1 of {report.pages}" in cover
    assert third.startswith(f"{approved.model.name} v1") and f"Page 3 of {report.pages}" in third
    # The table of contents gives the page each chapter starts on.
    contents = pdf_text(content, tmp_path, first=2, last=2)
    for chapter in ["6. Evaluations", "7. Findings", "Appendix: audit trail"]:
        page = int(re.search(re.escape(chapter) + r"[ .]*?(\d+)", contents).group(1))
        assert chapter in pdf_text(content, tmp_path, first=page, last=page), chapter
    # The audit appendix: the model's events and the chain head as they stood just before the
    # approving sign-off (the report is rendered before the approval's transaction, which then
    # checks that nothing changed since and signs its digest).
    final = AuditEvent.objects.get(action="signoff.record", actor_username="rhea",
                                   model_id=approved.model_id)
    head = AuditEvent.objects.filter(seq__lt=final.seq).latest("seq")
    appendix = text[text.index("Chain head"):]
    assert f"seq {head.seq}" in appendix
    assert head.chain_hash in appendix.replace(" ", "")  # a long hash wraps
    assert "signoff.record" in appendix  # boris's
    assert "version.approve" not in appendix and "signing.version_signed" not in appendix
    assert "archived with the approval recorded by rhea" in text
    assert "python -m core.verify_bundle" in appendix
    # A page renders: dark text and the palette's blue of a chart on white.
    subprocess.run([tool("pdftoppm"), "-png", "-r", "50", "-f", "1", "-l", "1",
                    str(_file(content, tmp_path)), str(tmp_path / "page")], check=True)
    image = np.asarray(Image.open(next(tmp_path.glob("page-*.png"))).convert("L"))
    assert image.shape[1] > 300 and (image < 80).sum() > 500 and (image > 240).mean() > 0.8


def _file(content: bytes, tmp_path):
    path = tmp_path / "page.pdf"
    path.write_bytes(content)
    return path


def test_before_approval_the_report_is_a_draft_and_the_same_facts_give_the_same_bytes(
        evaluated, victor, tmp_path):
    draft = services.report_generate(actor=victor, version=evaluated,
                                     kind=ReportKind.VALIDATION_REPORT)
    assert not draft.frozen
    assert "Draft: generated before approval" in pdf_text(pdf_bytes(draft), tmp_path, last=1)
    now = timezone.now()
    one = services.render_report(evaluated, ReportKind.VALIDATION_REPORT, now=now)
    two = services.render_report(evaluated, ReportKind.VALIDATION_REPORT, now=now)
    assert one.sha256 == two.sha256 and one.pages == two.pages
