"""The API says what it does (issue 11 item 13): every operation documents its error responses
in the error shape, and the answers match the schema (nullable fields, no patterns an empty
string breaks, every list paginated, page_size checked)."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from registry import services as registry
from tests.registry.conftest import model_fields

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"400", "401", "403"}
        if "{" in path:
            expected.add("404")
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            expected |= {"409", "413"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status in expected:
            body = responses[status]["content"]["application/json"]["schema"]
            assert body == {"$ref": ERROR_REF}, (method, path, status)
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {
        "detail", "code", "fields"}


def test_sign_off_documents_the_password_throttle(schema):
    assert "429" in schema["paths"]["/api/v1/versions/{id}/sign-off/"]["post"]["responses"]


@pytest.mark.parametrize(("component", "field"), [
    ("Finding", "resolved_by"), ("Finding", "raised_by"), ("Waiver", "ended_by"),
    ("PolicyVersion", "created_by"), ("TierOverride", "decided_by"), ("Comment", "author"),
    ("Evidence", "recorded_by"), ("Intake", "policy_version"),
])
def test_fields_that_can_be_null_are_declared_nullable(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field]["nullable"] is True


def test_lists_are_not_declared_nullable(schema):
    assert "nullable" not in schema["components"]["schemas"]["FindingDetail"]["properties"][
        "comments"]


def test_empty_strings_are_not_declared_with_email_or_digest_patterns(schema):
    components = schema["components"]["schemas"]
    assert "format" not in components["User"]["properties"]["email"]
    pattern = components["Version"]["properties"]["training_data_sha256"]["pattern"]
    assert pattern == "^(?:[0-9a-fA-F]{64})?$"


@pytest.mark.django_db
def test_answers_with_empty_email_and_digest_are_served(api, adam, dana, teams):
    from core import services

    nomail = services.user_create(actor=adam, username="nomail", password="x",
                                  check_password=False)
    assert api.as_(adam).get(f"/api/v1/users/{nomail.pk}/").json()["email"] == ""
    model = registry.model_create(actor=dana, team=teams["credit"], **model_fields())
    version = registry.version_create(actor=dana, model=model)
    assert api.as_(dana).get(f"/api/v1/versions/{version.pk}/").json()[
        "training_data_sha256"] == ""


@pytest.mark.django_db
def test_vendor_documents_are_paginated_like_every_list(api, dana, teams):
    model = registry.model_create(actor=dana, team=teams["credit"],
                                  **model_fields(sourcing="vendor", vendor_name="Acme"))
    body = api.as_(dana).get(f"/api/v1/models/{model.slug}/vendor-documents/").json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.django_db
@pytest.mark.parametrize("junk", ["abc", "0", "-5", "1.5", "\u0661"])
def test_a_junk_page_size_is_a_400(api, dana, junk):
    response = api.as_(dana).get("/api/v1/models/", {"page_size": junk})
    assert response.status_code == 400
    assert "page_size" in response.json()["fields"]


@pytest.mark.django_db
def test_a_large_page_size_is_capped(api, adam, make_user):
    for i in range(205):
        make_user(f"u{i:03}")
    body = api.as_(adam).get("/api/v1/users/", {"page_size": 100000}).json()
    assert len(body["results"]) == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/notifications/preferences/", "/api/v1/models/",
                                 "/api/v1/me/"])
def test_options_is_not_part_of_the_api(api, dana, url):
    """Found by the fuzz run: DRF's OPTIONS answer called get_object() for a list-level PUT
    action (notification preferences), a 500. OPTIONS is not in the schema: 405 everywhere."""
    response = api.as_(dana).options(url)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
