"""Data sources as entities: recorded, changed and deleted through one service each (audited),
linked to models, and "which models use this data?" answered on the page and the API, scoped
to the models the reader may see. The free-text lines of before become linked sources
(migration registry 0010), the text staying as notes."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent
from registry import data_sources, services
from registry.models import DataSource, RegisteredModel
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def bureau(dana) -> DataSource:
    return data_sources.data_source_create(actor=dana, name="Bureau scores", system="Experian",
                                           description="Monthly bureau extract.")


def test_recording_changing_and_deleting_a_source_is_audited(dana, rhea, bureau):
    assert (bureau.owner, bureau.system) == (dana, "Experian")
    data_sources.data_source_update(actor=rhea, source=bureau, system="Experian feed v2",
                                    owner=rhea)
    bureau.refresh_from_db()
    assert (bureau.owner, bureau.system) == (rhea, "Experian feed v2")
    data_sources.data_source_delete(actor=rhea, source=bureau)
    assert not DataSource.objects.exists()
    events = {e.action: e.payload for e in AuditEvent.objects.filter(
        action__startswith="data_source.")}
    assert events["data_source.create"]["owner"] == "dana"
    assert events["data_source.update"]["changes"] == {
        "system": {"before": "Experian", "after": "Experian feed v2"},
        "owner": {"before": "dana", "after": "rhea"}}
    assert events["data_source.delete"]["name"] == "Bureau scores"


def test_bad_input_says_what_is_wrong(dana, bureau):
    with pytest.raises(ValidationFailed, match="Name the data source"):
        data_sources.data_source_create(actor=dana, name="  ")
    with pytest.raises(Conflict, match="exists already"):
        data_sources.data_source_create(actor=dana, name="Bureau scores")


def test_who_may_record_and_change_sources(aude, frank, bureau):
    with pytest.raises(PermissionRefused):
        data_sources.data_source_create(actor=aude, name="Ledger")
    with pytest.raises(PermissionRefused):  # not its owner
        data_sources.data_source_update(actor=frank, source=bureau, system="x")
    with pytest.raises(PermissionRefused):
        data_sources.data_source_delete(actor=frank, source=bureau)


def test_a_source_in_use_cannot_be_deleted(dana, credit_model, bureau):
    services.model_update(actor=dana, model=credit_model, linked_data_sources=[bureau])
    with pytest.raises(Conflict, match="1 model uses Bureau scores; unlink it"):
        data_sources.data_source_delete(actor=dana, source=bureau)
    event = AuditEvent.objects.filter(action="model.update").last()
    assert event.payload["changes"]["linked_data_sources"] == {
        "before": [], "after": ["Bureau scores"]}


def test_which_models_use_this_data_over_the_api(api, dana, frank, credit_model, fraud_model,
                                                 bureau):
    created = api.as_(dana).post("/api/v1/models/", {
        **model_fields(name="Limits"), "team": "credit",
        "linked_data_sources": ["Bureau scores"]}, format="json")
    assert created.status_code == 201 and created.json()["linked_data_sources"] == [
        "Bureau scores"]
    unknown = api.as_(dana).patch(f"/api/v1/models/{credit_model.slug}/",
                                  {"linked_data_sources": ["Nope"]}, format="json")
    assert unknown.status_code == 400 and "linked_data_sources" in unknown.json()["fields"]
    assert api.as_(frank).patch(f"/api/v1/models/{fraud_model.slug}/",
                                {"linked_data_sources": ["Bureau scores"]},
                                format="json").status_code == 200

    using = api.as_(dana).get(f"/api/v1/data-sources/{bureau.pk}/models/").json()
    assert [m["slug"] for m in using] == ["limits"]  # frank's fraud model is not dana's to see
    detail = api.as_(frank).get(f"/api/v1/data-sources/{bureau.pk}/").json()
    assert detail["model_count"] == 1 and detail["owner"] == "dana"
    assert api.as_(frank).delete(f"/api/v1/data-sources/{bureau.pk}/").status_code == 403
    assert api.as_(dana).delete(f"/api/v1/data-sources/{bureau.pk}/").status_code == 409


def test_data_source_crud_over_the_api(api, dana, aude):
    made = api.as_(dana).post("/api/v1/data-sources/", {"name": "Core banking ledger",
                                                         "system": "T24"}, format="json")
    assert made.status_code == 201 and made.json()["owner"] == "dana"
    pk = made.json()["id"]
    assert api.as_(aude).post("/api/v1/data-sources/", {"name": "X"},
                              format="json").status_code == 403
    assert api.as_(dana).post("/api/v1/data-sources/", {"name": "Core banking ledger"},
                              format="json").status_code == 409
    assert api.as_(dana).post("/api/v1/data-sources/", {"name": "A", "colour": "red"},
                              format="json").status_code == 400
    changed = api.as_(dana).patch(f"/api/v1/data-sources/{pk}/", {"description": "GL"},
                                  format="json")
    assert changed.status_code == 200 and changed.json()["description"] == "GL"
    assert [s["name"] for s in api.as_(aude).get("/api/v1/data-sources/").json()["results"]] \
        == ["Core banking ledger"]
    assert api.as_(dana).delete(f"/api/v1/data-sources/{pk}/").status_code == 204


def test_the_pages_record_a_source_and_say_which_models_use_it(client, dana, frank,
                                                              credit_model, fraud_model):
    client.force_login(dana)
    response = client.post("/data-sources/new/", {"name": "Bureau scores", "system": "Experian"})
    source = DataSource.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/data-sources/{source.pk}/"
    services.model_update(actor=dana, model=credit_model, linked_data_sources=[source])
    services.model_update(actor=frank, model=fraud_model, linked_data_sources=[source])
    page = client.get(f"/data-sources/{source.pk}/").content.decode()
    assert "Which models use this data?" in page and credit_model.name in page
    assert fraud_model.name not in page and "1 more model of other teams uses it" in page
    refused = client.post(f"/data-sources/{source.pk}/delete/")
    assert refused.status_code == 409 and "unlink it" in refused.content.decode()
    listing = client.get("/data-sources/").content.decode()
    assert "Bureau scores" in listing
    client.force_login(frank)
    assert client.get(f"/data-sources/{source.pk}/edit/").status_code == 403
    assert client.post("/data-sources/new/", {"name": ""}).status_code == 400


def test_the_model_form_links_sources(client, dana, credit_model, bureau):
    client.force_login(dana)
    form = client.get(f"/models/{credit_model.slug}/edit/").content.decode()
    assert "Bureau scores" in form
    fields = {**model_fields(), "linked_data_sources": [bureau.pk], "data_sources": "",
              "decision_threshold": "0.5", "favourable_class": "1", "sourcing": "in_house"}
    assert client.post(f"/models/{credit_model.slug}/edit/", fields).status_code == 302
    assert list(credit_model.linked_data_sources.all()) == [bureau]
    overview = client.get(f"/models/{credit_model.slug}/").content.decode()
    assert f'href="/data-sources/{bureau.pk}/"' in overview


def test_the_free_text_lines_become_linked_sources(dana, frank, teams):
    first = services.model_create(actor=dana, team=teams["credit"], **model_fields(
        data_sources="Bureau scores\n- Application form\n\n"))
    second = services.model_create(actor=frank, team=teams["fraud"], **model_fields(
        name="Fraud", decision_type="fraud", data_sources="Bureau scores"))
    migration = importlib.import_module("registry.migrations.0010_data_sources_change_class")
    migration.data_sources_from_notes(apps, None)

    assert sorted(DataSource.objects.values_list("name", flat=True)) == [
        "Application form", "Bureau scores"]
    assert DataSource.objects.get(name="Bureau scores").owner == dana  # the first to name it
    assert sorted(first.linked_data_sources.values_list("name", flat=True)) == [
        "Application form", "Bureau scores"]
    assert list(second.linked_data_sources.values_list("name", flat=True)) == ["Bureau scores"]
    assert RegisteredModel.objects.get(pk=first.pk).data_sources.startswith("Bureau scores")
    assert AuditEvent.objects.filter(action="data_source.create").count() == 2
