"""Vendor documentation files: stored content-addressed, downloadable, only on vendor models."""

from __future__ import annotations

import io

import pytest

from core.models import AuditEvent
from registry import services
from registry.models import VendorDocument

pytestmark = pytest.mark.django_db


def pdf(name: str = "vendor-model-card.pdf", body: bytes = b"%PDF-1.4 vendor facts") -> io.BytesIO:
    f = io.BytesIO(body)
    f.name = name
    return f


@pytest.fixture
def vendor_model(dana, teams):
    return services.model_create(actor=dana, team=teams["credit"], name="Bureau score",
                                 purpose="Third-party credit score.", decision_type="credit",
                                 task="regression", sourcing="vendor", vendor_name="Acme Bureau")


def test_upload_list_and_download_through_the_api(api, dana, vendor_model):
    client = api.as_(dana)
    url = f"/api/v1/models/{vendor_model.slug}/vendor-documents/"
    created = client.post(url, {"document": pdf()}, format="multipart")
    assert created.status_code == 201, created.json()
    assert created.json()["filename"] == "vendor-model-card.pdf"
    assert [d["filename"] for d in client.get(url).json()["results"]] == ["vendor-model-card.pdf"]
    download = client.get(f"{url}{created.json()['id']}/")
    assert b"".join(download.streaming_content) == b"%PDF-1.4 vendor facts"
    assert download["Content-Type"] == "application/octet-stream"
    [event] = AuditEvent.objects.filter(action="model.vendor_document_add")
    assert event.payload["sha256"] == created.json()["sha256"]


def test_an_in_house_model_takes_no_vendor_documents(api, dana, credit_model):
    response = api.as_(dana).post(f"/api/v1/models/{credit_model.slug}/vendor-documents/",
                                  {"document": pdf()}, format="multipart")
    assert response.status_code == 409
    assert "vendor" in response.json()["detail"]
    assert not VendorDocument.objects.exists()


def test_an_empty_or_missing_file_is_refused(api, dana, vendor_model):
    client = api.as_(dana)
    url = f"/api/v1/models/{vendor_model.slug}/vendor-documents/"
    assert "document" in client.post(url, {}, format="multipart").json()["fields"]
    empty = client.post(url, {"document": pdf(body=b"")}, format="multipart")
    assert empty.status_code == 400
    assert not VendorDocument.objects.exists()


def test_other_teams_and_auditors(api, frank, aude, vendor_model):
    url = f"/api/v1/models/{vendor_model.slug}/vendor-documents/"
    assert api.as_(frank).post(url, {"document": pdf()}, format="multipart").status_code == 404
    assert api.as_(aude).post(url, {"document": pdf()}, format="multipart").status_code == 403
    assert not VendorDocument.objects.exists()


def test_upload_on_the_model_page(client, dana, vendor_model):
    client.force_login(dana)
    response = client.post(f"/models/{vendor_model.slug}/documents/", {"document": pdf()})
    assert response.status_code == 302
    page = client.get(f"/models/{vendor_model.slug}/").content.decode()
    assert "vendor-model-card.pdf" in page
