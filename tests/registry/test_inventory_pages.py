"""The inventory pages: register, edit, version with upload; field errors; nothing stored on error."""

from __future__ import annotations

import io

import pytest

from core.models import AuditEvent
from registry import services
from registry.models import ModelVersion, RegisteredModel
from tests.registry import artifact_builders as build

pytestmark = pytest.mark.django_db

FORM = {"name": "Retail scorecard", "team": "credit", "purpose": "Approve loans.",
        "decision_type": "credit", "task": "binary_classification", "sourcing": "in_house",
        "tags": "retail, pd"}


def test_register_a_model_through_the_form(client, dana):
    client.force_login(dana)
    response = client.post("/models/new/", FORM)
    assert response.status_code == 302
    model = RegisteredModel.objects.get()
    assert response["Location"] == f"/models/{model.slug}/"
    assert sorted(model.tags.values_list("name", flat=True)) == ["pd", "retail"]
    assert AuditEvent.objects.filter(action="model.create").count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "Retail scorecard" in page and "Approve loans." in page


def test_the_form_shows_field_errors_and_stores_nothing(client, dana):
    client.force_login(dana)
    response = client.post("/models/new/", {**FORM, "name": "", "decision_type": "astrology"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html
    assert "Select a valid choice" in html
    assert not RegisteredModel.objects.exists()


def test_a_duplicate_slug_is_shown_on_the_slug_field(client, dana, credit_model):
    client.force_login(dana)
    response = client.post("/models/new/", FORM)
    assert response.status_code == 409  # the service's Conflict, as the API answers it
    assert "is taken by another model" in response.content.decode()
    assert RegisteredModel.objects.count() == 1


def test_edit_a_model(client, dana, credit_model):
    client.force_login(dana)
    response = client.post(f"/models/{credit_model.slug}/edit/",
                           {**FORM, "known_limitations": "Small sample."})
    assert response.status_code == 302
    credit_model.refresh_from_db()
    assert credit_model.known_limitations == "Small sample."
    assert AuditEvent.objects.filter(action="model.update").count() == 1


def test_the_list_filters_and_returns_rows_only_to_htmx(client, dana, credit_model, teams):
    services.model_create(actor=dana, team=teams["credit"], name="Fraud thing", purpose="p",
                          decision_type="fraud", task="binary_classification")
    client.force_login(dana)
    html = client.get("/models/?decision_type=fraud").content.decode()
    assert "Fraud thing" in html and "Retail scorecard" not in html
    fragment = client.get("/models/?q=retail", headers={"HX-Request": "true"}).content.decode()
    assert "Retail scorecard" in fragment and "<html" not in fragment


def test_a_bad_filter_is_explained(client, dana):
    client.force_login(dana)
    response = client.get("/models/?status=shipped")
    assert response.status_code == 400
    assert "Unknown status" in response.content.decode()


def test_create_a_version_with_an_artifact_through_the_form(client, dana, credit_model,
                                                             onnx_file):
    client.force_login(dana)
    response = client.post(f"/models/{credit_model.slug}/versions/new/",
                           {"changelog": "first", "artifact": onnx_file()})
    assert response.status_code == 302
    version = ModelVersion.objects.get()
    assert version.has_artifact
    page = client.get(response["Location"]).content.decode()
    assert version.artifact_sha256 in page
    assert version.input_schema[0]["name"] in page


def test_a_pickle_upload_shows_why_and_how_to_convert(client, dana, credit_model):
    client.force_login(dana)
    upload = io.BytesIO(build.pickle_bytes())
    upload.name = "model.onnx"
    response = client.post(f"/models/{credit_model.slug}/versions/new/",
                           {"changelog": "x", "artifact": upload})
    assert response.status_code == 400
    html = response.content.decode()
    assert "pickle" in html.lower() and "skl2onnx" in html
    assert not ModelVersion.objects.exists()


def test_download_the_artifact(client, dana, credit_model, onnx_file, onnx_bytes):
    version = services.version_create(actor=dana, model=credit_model, artifact=onnx_file())
    client.force_login(dana)
    response = client.get(f"/models/{credit_model.slug}/versions/{version.number}/artifact/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == onnx_bytes


def test_the_model_page_audit_timeline_tab_shows_its_history(client, dana, credit_model):
    services.model_update(actor=dana, model=credit_model, business_line="Retail")
    client.force_login(dana)
    html = client.get(f"/models/{credit_model.slug}/history/").content.decode()
    assert "Model create" in html and "Model update" in html and "business_line" in html


def test_the_version_page_shows_shapes_for_people(client, dana, credit_model, onnx_file):
    version = services.version_create(actor=dana, model=credit_model, artifact=onnx_file())
    client.force_login(dana)
    html = client.get(f"/models/{credit_model.slug}/versions/{version.number}/").content.decode()
    assert "any \u00d7 3" in html  # the test model's input X is [None, 3]


@pytest.mark.parametrize("path", ["versions/1/artifact/", "documents/"])
def test_upload_pages_refuse_readers_before_looking_at_the_form(client, aude, dana, credit_model,
                                                                path):
    services.version_create(actor=dana, model=credit_model)
    client.force_login(aude)
    response = client.post(f"/models/{credit_model.slug}/{path}", {})
    assert response.status_code == 403
    assert "read-only" in response.content.decode()
