"""The OpenAPI schema validates without warnings, and unknown API URLs answer in the error shape."""

from __future__ import annotations

import pytest
from django.core.management import call_command


def test_the_openapi_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    assert "/api/v1/models/" in (tmp_path / "s.yaml").read_text()


@pytest.mark.django_db
def test_an_unknown_api_url_is_a_json_404(api, dana):
    response = api.as_(dana).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "There is no API endpoint at /api/v1/no-such-thing/; the endpoints are listed "
                  "at /api/v1/docs/.", "code": "not_found", "fields": {}}


@pytest.mark.django_db
def test_an_unknown_page_is_the_404_page(client, dana):
    client.force_login(dana)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
