"""Malformed requests answer 4xx with a clear message, never 500."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", [
    "/api/v1/models/?q=%00", "/api/v1/models/?team=a%00", "/api/v1/versions/?model=%00",
    "/api/v1/models/a%00b/", "/api/v1/teams/a%00/",
])
def test_a_nul_character_in_the_url_is_a_400_in_the_error_shape(api, dana, url):
    response = api.as_(dana).get(url)
    assert response.status_code == 400
    assert "NUL character" in response.json()["detail"]


def test_a_nul_character_on_a_page_is_a_400(client, dana):
    client.force_login(dana)
    response = client.get("/models/?q=%00")
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_a_nul_character_in_the_token_header_is_a_400(api):
    response = api.get("/api/v1/models/", HTTP_AUTHORIZATION="Token assay_\x00_x")
    assert response.status_code == 400


def test_a_nul_character_in_a_json_field_is_a_field_error(api, dana):
    response = api.as_(dana).post("/api/v1/models/", {
        "name": "a\x00b", "team": "credit", "purpose": "p", "decision_type": "credit",
        "task": "regression"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["fields"]


def test_a_json_body_over_the_limit_is_a_413_and_stores_nothing(api, dana, settings):
    from registry.models import RegisteredModel

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.as_(dana).post("/api/v1/models/", {
        "name": "Big", "team": "credit", "purpose": "x" * 2000, "decision_type": "credit",
        "task": "regression"}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not RegisteredModel.objects.exists()


def test_an_oversized_multipart_field_is_a_400_in_the_error_shape(api, dana, settings, teams):
    from registry import services

    model = services.model_create(actor=dana, team=teams["credit"], name="M", purpose="p",
                                  decision_type="credit", task="regression")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.as_(dana).post(f"/api/v1/models/{model.slug}/versions/",
                                  {"changelog": "x" * 5000}, format="multipart")
    assert response.status_code == 400
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in response.json()["detail"]
    assert not model.versions.exists()
