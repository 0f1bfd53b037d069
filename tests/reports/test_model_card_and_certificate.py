"""The model card (page, PDF, Model Card Toolkit JSON, Hugging Face Markdown; the owner's
narrative, audited and frozen at approval) and the one-page approval certificate. Every
download is audited; who may not see the model gets 404, who may not edit it 403."""

from __future__ import annotations

import json

import jsonschema
import pytest
from django.urls import reverse

from core.models import AuditEvent
from governance.models import Evidence
from registry.models import SignatureKind
from reports import services
from reports.modelcard import SCHEMA_PATH
from reports.models import Report, ReportKind
from tests.conftest import PASSWORD
from tests.reports.conftest import pdf_bytes, pdf_pages, pdf_text

pytestmark = pytest.mark.django_db

NARRATIVE = {"overview": "Scores applications for consumer credit in Germany.",
             "ethical_considerations": "Age and sex must not drive a decline.",
             "recommendations": "Review declines of applicants under 25 by hand."}


def url(name: str, version) -> str:
    return reverse(f"reports:{name}", kwargs={"slug": version.model.slug,
                                              "number": version.number})


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_the_owner_writes_the_narrative_and_every_export_carries_it(
        evaluated, dana, client, tmp_path):
    services.model_card_edit(actor=dana, version=evaluated, **NARRATIVE)
    edit = AuditEvent.objects.get(action="reports.model_card_edited")
    assert edit.actor_username == "dana"
    assert edit.payload["changes"]["overview"] == {"before": "", "after": NARRATIVE["overview"]}
    login(client, dana)
    page = client.get(url("model-card", evaluated))
    assert page.status_code == 200
    assert NARRATIVE["overview"] in page.text and "Save the model card" in page.text
    assert "<svg" in page.text  # the run's charts, as on the run page

    card = json.loads(client.get(url("model-card-json", evaluated)).content)
    jsonschema.validate(card, json.loads(SCHEMA_PATH.read_text()))
    assert card["schema_version"] == "0.0.2"
    assert card["model_details"]["overview"] == NARRATIVE["overview"]
    assert card["model_details"]["owners"][0]["name"] == "dana"
    auc = Evidence.objects.get(version=evaluated, check_name="performance").figures["roc_auc"]
    assert {"type": "roc_auc", "value": f"{auc:.6g}"} in [
        {k: m[k] for k in ("type", "value")} for m in card["quantitative_analysis"]
        ["performance_metrics"]]
    assert card["considerations"]["ethical_considerations"][0] == {
        "name": NARRATIVE["ethical_considerations"],
        "mitigation_strategy": NARRATIVE["recommendations"]}

    markdown = client.get(url("model-card-markdown", evaluated)).content.decode()
    assert markdown.startswith("---\nlibrary_name: onnx\n")
    assert f"# Model Card for {evaluated.model.name} v1" in markdown
    for heading in ["## Model Details", "## Uses", "## Bias, Risks, and Limitations",
                    "## Training Details", "## Evaluation"]:
        assert f"\n{heading}\n" in markdown
    assert f"| roc_auc | {auc:.6g} |" in markdown

    response = client.get(url("model-card-pdf", evaluated))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    content = b"".join(response.streaming_content)
    report = Report.objects.get(version=evaluated, kind=ReportKind.MODEL_CARD)
    assert response["X-Content-SHA256"] == report.sha256 and not report.frozen
    text = pdf_text(content, tmp_path)
    for expected in [NARRATIVE["overview"], NARRATIVE["ethical_considerations"], "ROC curve",
                     "Not approved: this card can still change."]:
        assert expected in text, expected
    assert evaluated.artifact_sha256 in text.replace(" ", "")  # a long hash wraps
    downloads = AuditEvent.objects.filter(action="reports.downloaded", actor_username="dana")
    assert sorted(e.payload["format"] for e in downloads) == ["json", "markdown", "pdf"]


def test_bad_narrative_input_is_a_clear_4xx_and_changes_nothing(draft, dana, client):
    login(client, dana)
    services.model_card_edit(actor=dana, version=draft, overview="Kept.")
    response = client.post(url("model-card", draft), {"overview": "x" * 10_001})
    assert response.status_code == 400
    assert "at most 10000 characters" in response.text
    assert draft.model_card_narrative.overview == "Kept."
    with pytest.raises(Exception, match="Unknown section"):
        services.model_card_edit(actor=dana, version=draft, colour="blue")


def test_who_may_not_see_the_model_gets_404_and_who_may_not_edit_it_403(
        draft, frank, aude, client):
    login(client, frank)  # another team
    for name in ["model-card", "model-card-pdf", "model-card-json", "validation-report-pdf"]:
        assert client.get(url(name, draft)).status_code == 404, name
    client.logout()
    login(client, aude)  # auditors read everything and change nothing
    assert client.get(url("model-card", draft)).status_code == 200
    assert client.post(url("model-card", draft), {"overview": "Mine"}).status_code == 403
    assert AuditEvent.objects.filter(action="reports.model_card_edited").count() == 0


def test_at_approval_the_narrative_freezes_and_the_certificate_records_the_approval(
        approved, dana, aude, client, tmp_path):
    response = login(client, dana).post(url("model-card", approved), {"overview": "Later"})
    assert response.status_code == 409
    assert "The model card of german-credit-scorecard v1 is frozen" in response.text
    assert "Describe changes in a new version." in response.text
    client.logout()

    login(client, aude)
    assert "Approval certificate" in client.get(
        reverse("registry:version-detail", args=[approved.model.slug, 1])).text
    response = client.get(url("certificate-pdf", approved))
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    certificate = Report.objects.get(version=approved, kind=ReportKind.CERTIFICATE)
    assert pdf_bytes(certificate) == content and pdf_pages(content, tmp_path) == 1
    signature = approved.current_signature(SignatureKind.APPROVAL)
    archived = Report.objects.get(version=approved, kind=ReportKind.VALIDATION_REPORT)
    text = pdf_text(content, tmp_path)
    joined = text.replace(" ", "")  # long hashes wrap
    for expected in [
        approved.model.name, "tier 2", "boris", "rhea",
        "approve_with_conditions by victor", "Refer every decline to a credit officer.",
        f"python -m core.verify_bundle {signature.filename} --public-key "
                          f"approval.pem --artifact-sha256 {approved.artifact_sha256}",
    ]:
        assert expected in text, expected
    for digest in [approved.artifact_sha256, signature.key_id,
                   archived.sha256]:  # the validation report archived at approval
        assert digest in joined, digest
    # One certificate per attestation: asked again, the same file.
    assert services.certificate_generate(actor=aude, version=approved) == certificate
    assert AuditEvent.objects.filter(action="reports.downloaded", actor_username="aude",
                                     payload__kind="certificate").count() == 1


def test_a_version_not_approved_has_no_certificate(draft, dana, client):
    response = login(client, dana).get(url("certificate-pdf", draft))
    assert response.status_code == 409
    assert "a certificate is printed once it is approved" in response.text
