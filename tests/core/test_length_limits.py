"""Length limits on free text (core.limits.TEXT_MAX), checked by the services and declared in
the schema; the audit trail records text longer than that as its digest and length."""

from __future__ import annotations

import hashlib

import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator

from core import audit, services
from core.errors import ValidationFailed
from core.limits import TEXT_MAX
from core.models import AuditEvent
from registry import services as registry
from registry.services import MODEL_TEXT_FIELDS, VERSION_TEXT_FIELDS
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.django_db

TOO_LONG = "x" * (TEXT_MAX + 1)


@pytest.fixture
def model(dana, teams):
    return registry.model_create(actor=dana, team=teams["credit"], **model_fields())


@pytest.mark.parametrize("field", MODEL_TEXT_FIELDS)
def test_each_free_text_field_of_a_model_is_limited(api, dana, model, field):
    events = AuditEvent.objects.count()
    response = api.as_(dana).patch(f"/api/v1/models/{model.slug}/", {field: TOO_LONG},
                                   format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    with pytest.raises(ValidationFailed) as refused:  # the service itself, for every front door
        registry.model_update(actor=dana, model=model, **{field: TOO_LONG})
    assert field in refused.value.fields
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("field", VERSION_TEXT_FIELDS)
def test_each_free_text_field_of_a_version_is_limited(api, dana, model, field):
    version = registry.version_create(actor=dana, model=model)
    response = api.as_(dana).patch(f"/api/v1/versions/{version.pk}/", {field: TOO_LONG},
                                   format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    with pytest.raises(ValidationFailed):
        registry.version_create(actor=dana, model=model, **{field: TOO_LONG})


def test_text_at_the_limit_is_accepted_and_audited_whole(api, dana, model):
    text = "y" * TEXT_MAX
    response = api.as_(dana).patch(f"/api/v1/models/{model.slug}/", {"purpose": text},
                                   format="json")
    assert response.status_code == 200
    event = AuditEvent.objects.filter(action="model.update").latest("seq")
    assert event.payload["changes"]["purpose"]["after"] == text


def test_three_large_patches_add_nothing_to_the_audit_trail(api, dana, model, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
    events = AuditEvent.objects.count()
    for field in ("purpose", "intended_use", "restrictions"):
        response = api.as_(dana).patch(f"/api/v1/models/{model.slug}/",
                                       {field: "z" * 4_500_000}, format="json")
        assert response.status_code == 400
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(("field", "value"), [
    ("vendor_name", "v" * 201),  # a varchar(200): was a database error
    ("business_line", "b" * 101),
])
def test_short_fields_keep_their_columns_length(api, dana, field, value):
    response = api.as_(dana).post("/api/v1/models/", {
        **model_fields(), "team": "credit", "sourcing": "vendor", "vendor_name": "Acme",
        field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_tags_are_limited_in_number_and_length(dana, model):
    with pytest.raises(ValidationFailed) as too_many:
        registry.model_update(actor=dana, model=model, tags=[f"t{i}" for i in range(51)])
    assert "tag_names" in too_many.value.fields
    with pytest.raises(ValidationFailed):  # a varchar(50): was a database error
        registry.model_update(actor=dana, model=model, tags=["t" * 51])


def test_account_fields_are_limited(api, adam, teams):
    response = api.as_(adam).post("/api/v1/users/", {
        "username": "nina", "password": "a long enough password 42",
        "email": "n" * 250 + "@example.org"}, format="json")  # over the column's 254
    assert response.status_code == 400
    assert "email" in response.json()["fields"]
    with pytest.raises(ValidationFailed):
        services.team_create(actor=adam, name="Risk", description=TOO_LONG)


def test_the_schema_declares_the_limits():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    for field in MODEL_TEXT_FIELDS:
        assert components["PatchedModelRequest"]["properties"][field]["maxLength"] == TEXT_MAX
    for name, field in (("FindingInputRequest", "description"), ("ReasonRequest", "reason"),
                        ("CommentInputRequest", "body"), ("WaiverInputRequest", "reason")):
        assert components[name]["properties"][field]["maxLength"] == TEXT_MAX


def test_the_audit_trail_records_longer_text_as_its_digest_and_length(dana):
    body = "long " * 5_000
    with transaction.atomic():
        event = audit.record(action="test.long", actor=dana,
                             payload={"body": body, "short": "kept", "list": [body]})
    digest = {"sha256": hashlib.sha256(body.encode()).hexdigest(), "length": len(body)}
    event.refresh_from_db()
    assert event.payload == {"body": digest, "short": "kept", "list": [digest]}
    assert audit.verify_chain().ok
