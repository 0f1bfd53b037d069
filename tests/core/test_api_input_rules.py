"""The API's input rules (docs/security.md, "The API's input rules"): a NUL character anywhere in
a body is a 400 in the error shape before anything reaches the database; permission is checked
before input is validated."""

from __future__ import annotations

import pytest

from registry import services as registry_services
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.django_db


def assert_nul_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert "NUL" in body["detail"]
    assert field in body["fields"]


@pytest.fixture
def model(dana, teams):
    return registry_services.model_create(actor=dana, team=teams["credit"], **model_fields())


@pytest.mark.parametrize(("field", "value"), [
    ("team", "cre\x00dit"),  # a slug looked up in the database
    ("developers", ["da\x00na"]),
    ("upstream_models", ["x\x00"]),
    ("tag_names", ["ok", "t\x00ag"]),
])
def test_a_nul_in_a_relational_or_list_field_is_a_400_not_a_database_error(api, dana, field,
                                                                            value):
    body = {**model_fields(), "team": "credit", field: value}
    response = api.as_(dana).post("/api/v1/models/", body, format="json")
    assert_nul_refused(response, field)


def test_a_nul_in_an_admin_endpoints_slug_is_a_400(api, adam):
    response = api.as_(adam).post("/api/v1/users/", {
        "username": "newcomer", "password": "a long enough password 42",
        "teams": ["cre\x00dit"]}, format="json")
    assert_nul_refused(response, "teams")


def test_a_nul_inside_a_json_document_is_a_400(api, adam):
    """PostgreSQL's jsonb cannot hold U+0000: a policy definition carrying one would fail in
    the INSERT."""
    response = api.as_(adam).post("/api/v1/policy-versions/validate/", {
        "definition": {"tiers": {"1": {"name": "x\x00"}}}}, format="json")
    assert_nul_refused(response, "definition")


def test_a_nul_in_a_key_of_an_object_is_a_400(api, dana, model):
    response = api.as_(dana).put(f"/api/v1/intakes/{model.slug}/", {
        "is_model": True, "answers": {"us\x00e": "x"}}, format="json")
    assert_nul_refused(response, "answers")


def test_a_nul_in_a_multipart_field_is_a_400(api, dana, model):
    response = api.as_(dana).post(f"/api/v1/models/{model.slug}/versions/",
                                  {"changelog": "first\x00"}, format="multipart")
    assert_nul_refused(response, "changelog")
    assert not model.versions.exists()


def test_a_nul_in_a_version_patch_is_a_400(api, dana, model):
    version = registry_services.version_create(actor=dana, model=model, changelog="v1")
    response = api.as_(dana).patch(f"/api/v1/versions/{version.pk}/",
                                   {"training_data_description": "a\x00b"}, format="json")
    assert_nul_refused(response, "training_data_description")


# --- permission before validation ----------------------------------------------------------------

ADMIN_WRITES = [
    ("post", "/api/v1/users/"),
    ("post", "/api/v1/users/{user}/deactivate/"),
    ("post", "/api/v1/users/{user}/grant-role/"),
    ("post", "/api/v1/users/{user}/add-to-team/"),
    ("post", "/api/v1/policy-versions/"),
    ("post", "/api/v1/models/{model}/transfer/"),
]


@pytest.mark.parametrize(("method", "url"), ADMIN_WRITES)
def test_a_non_admin_gets_403_on_admin_endpoints_whatever_the_input(api, dana, model, method,
                                                                    url):
    url = url.format(user=dana.pk, model=model.slug)
    for body in ({}, {"role": "nonsense", "team": "nowhere\x00", "unknown": 1}):
        response = getattr(api.as_(dana), method)(url, body, format="json")
        assert response.status_code == 403, (url, response.content)
        assert response.json()["code"] == "permission_denied"
        assert response.json()["fields"] == {}


AUDITOR_WRITES = [
    ("post", "/api/v1/models/"),
    ("patch", "/api/v1/models/{model}/"),
    ("delete", "/api/v1/models/{model}/"),
    ("post", "/api/v1/models/{model}/versions/"),
    ("patch", "/api/v1/versions/{version}/"),
    ("delete", "/api/v1/versions/{version}/"),
    ("put", "/api/v1/intakes/{model}/"),
    ("post", "/api/v1/intakes/{model}/override/"),
    ("post", "/api/v1/versions/{version}/submit/"),
    ("post", "/api/v1/versions/{version}/sign-off/"),
    ("post", "/api/v1/versions/{version}/retire/"),
    ("post", "/api/v1/findings/"),
    ("post", "/api/v1/waivers/"),
    ("post", "/api/v1/periodic-reviews/"),
]


@pytest.mark.parametrize(("method", "url"), AUDITOR_WRITES)
def test_an_auditor_gets_403_for_any_write_whatever_the_state_or_input(api, aude, dana, model,
                                                                       method, url):
    version = registry_services.version_create(actor=dana, model=model, changelog="v1")
    url = url.format(model=model.slug, version=version.pk)
    for body in ({}, {"junk": "\x00", "name": ""}):
        response = getattr(api.as_(aude), method)(url, body, format="json")
        assert response.status_code == 403, (url, response.content)
        assert "Auditors" in response.json()["detail"]
    model.refresh_from_db()
    assert model.versions.count() == 1


def test_an_auditor_still_manages_their_own_tokens_and_exports(api, aude):
    response = api.as_(aude).post("/api/v1/tokens/", {"name": "cli", "expires_in_days": 30},
                                  format="json")
    assert response.status_code == 201
    assert api.as_(aude).post("/api/v1/notifications/mark-read/", {}, format="json"
                              ).status_code == 200
    assert api.as_(aude).post("/api/v1/audit/export/", {}, format="json").status_code == 200
