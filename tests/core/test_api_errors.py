"""One error shape for every API failure, and request ids on every response."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from core.models import AuditEvent

SHAPE = {"detail", "code", "fields"}


def assert_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == SHAPE
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["fields"], dict)
    return body


def test_400_validation_names_each_field(api, dana):
    body = assert_shape(api.as_(dana).post("/api/v1/tokens/", {}), 400, "invalid")
    assert set(body["fields"]) == {"name", "expires_in_days"}
    assert body["fields"]["name"] == ["This field is required."]
    assert body["detail"] == "Some fields are invalid: name, expires_in_days."


def test_400_from_a_service_has_the_same_shape(api, dana):
    body = assert_shape(
        api.as_(dana).post("/api/v1/tokens/", {"name": "x", "expires_in_days": 100000}),
        400, "invalid")
    assert body["fields"] == {"expires_in_days": ["Choose an expiry between 1 and 365 days."]}


def test_malformed_json_is_a_400_that_says_how_to_fix_it(api, dana):
    response = api.as_(dana).post("/api/v1/tokens/", data='{"name": "CI",', content_type="application/json")
    body = assert_shape(response, 400, "parse_error")
    assert body["detail"].startswith("JSON parse error")
    assert "Send a valid JSON body with Content-Type: application/json." in body["detail"]


def test_an_unsupported_media_type_is_explained(api, dana):
    response = api.as_(dana).post("/api/v1/tokens/", data="name=x", content_type="text/plain")
    body = assert_shape(response, 415, "unsupported_media_type")
    assert "text/plain" in body["detail"]


def test_401_without_credentials(db):
    response = APIClient().get("/api/v1/me/")
    body = assert_shape(response, 401, "not_authenticated")
    assert body["detail"] == "Authentication credentials were not provided."
    assert response["WWW-Authenticate"] == "Token"


def test_403_carries_the_reason(api, dana):
    response = api.as_(dana).post("/api/v1/users/", {"username": "x", "password": "y" * 20})
    body = assert_shape(response, 403, "permission_denied")
    assert body["detail"] == "Only administrators can manage users, teams and roles."


def test_404_for_what_does_not_exist_or_may_not_be_seen(api, dana, frank):
    api.as_(dana)
    body = assert_shape(api.get("/api/v1/tokens/987654/"), 404, "not_found")
    assert body["detail"] == "Not found: it does not exist or you may not see it."
    assert_shape(api.get(f"/api/v1/users/{frank.pk}/"), 404, "not_found")  # another team


def test_405_names_the_method(api, dana):
    body = assert_shape(api.as_(dana).delete("/api/v1/me/"), 405, "method_not_allowed")
    assert "DELETE" in body["detail"]


def test_409_for_a_conflict(api, adam):
    body = assert_shape(api.as_(adam).post(f"/api/v1/users/{adam.pk}/deactivate/"), 409,
                        "conflict")
    assert body["fields"] == {}


HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.mark.parametrize("path", ["/api/v1/me/", "/login/", "/api/v1/nowhere/"])
def test_every_response_has_a_request_id(client, db, path):
    first, second = client.get(path), client.get(path)
    assert HEX_ID.match(first["X-Request-ID"]) and HEX_ID.match(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_well_formed_incoming_request_id_is_echoed_and_audited(api, dana):
    response = api.as_(dana).post("/api/v1/tokens/", {"name": "CI", "expires_in_days": 3},
                                  HTTP_X_REQUEST_ID="lb-2026.11:abc_DEF-123")
    assert response.status_code == 201
    assert response["X-Request-ID"] == "lb-2026.11:abc_DEF-123"
    assert AuditEvent.objects.get(action="token.create").request_id == "lb-2026.11:abc_DEF-123"


@pytest.mark.parametrize("incoming", [
    "short",                       # fewer than 8 characters
    "x" * 65,                      # longer than 64
    "has spaces in it",
    "<script>alert(1)</script>",
    "id\r\nSet-Cookie: a=b",
    "ünïcödé-identifier",
])
def test_a_malformed_incoming_request_id_is_replaced(client, db, incoming):
    response = client.get("/login/", HTTP_X_REQUEST_ID=incoming)
    assert response.status_code == 200
    assert HEX_ID.match(response["X-Request-ID"])
