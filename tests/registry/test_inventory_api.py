"""The inventory REST API: models, versions, artifacts; bad input answers 4xx and stores nothing."""

from __future__ import annotations

import hashlib

import pytest
from django.test import override_settings

from core.models import AuditEvent
from registry import services, storage
from registry.models import ModelVersion, RegisteredModel, VersionState
from tests.registry import artifact_builders as build
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.django_db


def create_payload(**overrides) -> dict:
    return {**model_fields(), "team": "credit", **overrides}


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


class TestModels:
    def test_a_data_scientist_registers_a_model_for_their_team(self, api, dana):
        response = api.as_(dana).post("/api/v1/models/", create_payload(
            tag_names=["Retail", "pd"], developers=["dana"]), format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["slug"] == "retail-scorecard"
        assert body["owner"] == "dana" and body["team"] == "credit"
        assert body["status"] == "draft" and body["tags"] == ["pd", "retail"]
        [event] = events("model.create")
        assert event.actor_username == "dana" and event.payload["slug"] == "retail-scorecard"
        assert event.model_id == body["id"]

    def test_owner_status_and_unknown_fields_are_refused_not_ignored(self, api, dana):
        response = api.as_(dana).post("/api/v1/models/", create_payload(
            owner="adam", status="approved"), format="json")
        assert response.status_code == 400
        fields = response.json()["fields"]
        assert fields["owner"] == ["This field is read-only through the API."]
        assert "status" in fields
        assert not RegisteredModel.objects.exists()

    def test_missing_fields_name_each_field(self, api, dana):
        response = api.as_(dana).post("/api/v1/models/", {"team": "credit"}, format="json")
        assert response.status_code == 400
        body = response.json()
        assert {"name", "purpose", "decision_type", "task"} <= set(body["fields"])
        assert body["detail"].startswith("Some fields are invalid")

    def test_a_duplicate_slug_is_a_conflict(self, api, dana, credit_model):
        response = api.as_(dana).post("/api/v1/models/", create_payload(), format="json")
        assert response.status_code == 409
        assert "slug" in response.json()["fields"]
        assert RegisteredModel.objects.count() == 1

    def test_a_vendor_model_needs_the_vendor_name(self, api, dana):
        response = api.as_(dana).post("/api/v1/models/", create_payload(sourcing="vendor"),
                                      format="json")
        assert response.status_code == 400
        assert "vendor_name" in response.json()["fields"]

    def test_malformed_json_is_a_400_with_a_hint(self, api, dana):
        response = api.as_(dana).post("/api/v1/models/", data="{not json",
                                      content_type="application/json")
        assert response.status_code == 400
        assert "JSON" in response.json()["detail"]

    def test_registering_for_another_team_is_refused_with_the_reason(self, api, dana):
        response = api.as_(dana).post("/api/v1/models/", create_payload(team="fraud"),
                                      format="json")
        assert response.status_code == 403
        assert "team they belong to" in response.json()["detail"]
        assert not RegisteredModel.objects.exists()

    def test_auditors_cannot_register_models(self, api, aude):
        response = api.as_(aude).post("/api/v1/models/", create_payload(), format="json")
        assert response.status_code == 403
        assert "read-only" in response.json()["detail"]

    def test_update_records_before_and_after(self, api, dana, credit_model):
        response = api.as_(dana).patch(f"/api/v1/models/{credit_model.slug}/",
                                       {"business_line": "Retail", "tag_names": ["x"]},
                                       format="json")
        assert response.status_code == 200, response.json()
        [event] = events("model.update")
        assert event.payload["changes"]["business_line"] == {"before": "", "after": "Retail"}
        assert event.payload["changes"]["tags"] == {"before": [], "after": ["x"]}

    def test_team_cannot_change_through_the_api(self, api, dana, credit_model):
        response = api.as_(dana).patch(f"/api/v1/models/{credit_model.slug}/", {"team": "fraud"},
                                       format="json")
        assert response.status_code == 400
        assert "team" in response.json()["fields"]
        credit_model.refresh_from_db()
        assert credit_model.team.slug == "credit"

    def test_another_teams_model_is_not_found(self, api, frank, credit_model):
        client = api.as_(frank)
        assert client.get(f"/api/v1/models/{credit_model.slug}/").status_code == 404
        assert client.patch(f"/api/v1/models/{credit_model.slug}/", {"name": "x"},
                            format="json").status_code == 404
        assert client.delete(f"/api/v1/models/{credit_model.slug}/").status_code == 404
        assert not events("model.update")

    def test_a_draft_only_model_can_be_deleted_and_the_deletion_is_audited(
            self, api, dana, credit_model):
        response = api.as_(dana).delete(f"/api/v1/models/{credit_model.slug}/")
        assert response.status_code == 204
        [event] = events("model.delete")
        assert event.payload["slug"] == credit_model.slug

    def test_a_model_whose_version_left_draft_cannot_be_deleted(self, api, dana, credit_model):
        services.version_create(actor=dana, model=credit_model)
        ModelVersion.objects.update(state=VersionState.SUBMITTED)
        response = api.as_(dana).delete(f"/api/v1/models/{credit_model.slug}/")
        assert response.status_code == 409
        assert RegisteredModel.objects.filter(pk=credit_model.pk).exists()


class TestFilters:
    @pytest.fixture
    def inventory(self, dana, teams):
        for i, (line, decision) in enumerate([("Retail", "credit"), ("Cards", "fraud"),
                                              ("Retail", "pricing")]):
            services.model_create(actor=dana, team=teams["credit"],
                                  **model_fields(name=f"Model {i}", business_line=line,
                                                 decision_type=decision))

    def test_filters_and_search(self, api, dana, inventory):
        client = api.as_(dana)
        names = lambda r: [m["name"] for m in r.json()["results"]]  # noqa: E731
        assert names(client.get("/api/v1/models/?business_line=retail")) == ["Model 0", "Model 2"]
        assert names(client.get("/api/v1/models/?decision_type=fraud")) == ["Model 1"]
        assert names(client.get("/api/v1/models/?q=model 2")) == ["Model 2"]
        assert names(client.get("/api/v1/models/?sort=-name&owner=dana"))[0] == "Model 2"
        assert client.get("/api/v1/models/?team=fraud").json()["count"] == 0

    def test_an_unknown_filter_value_is_a_400(self, api, dana, inventory):
        response = api.as_(dana).get("/api/v1/models/?status=shipped&sort=size")
        assert response.status_code == 400
        assert set(response.json()["fields"]) == {"status", "sort"}

    def test_pagination(self, api, dana, inventory):
        body = api.as_(dana).get("/api/v1/models/?page_size=2&page=2").json()
        assert body["count"] == 3 and len(body["results"]) == 1


class TestVersionsAndArtifacts:
    def test_versions_are_numbered_one_after_another(self, api, dana, credit_model):
        client = api.as_(dana)
        url = f"/api/v1/models/{credit_model.slug}/versions/"
        numbers = [client.post(url, {"changelog": f"c{i}"}, format="json").json()["number"]
                   for i in range(3)]
        assert numbers == [1, 2, 3]
        assert len(events("version.create")) == 3

    def test_create_a_version_with_its_artifact_in_one_multipart_call(
            self, api, dana, credit_model, onnx_file, onnx_bytes):
        response = api.as_(dana).post(f"/api/v1/models/{credit_model.slug}/versions/",
                                      {"changelog": "first", "artifact": onnx_file()},
                                      format="multipart")
        assert response.status_code == 201, response.json()
        body = response.json()
        digest = hashlib.sha256(onnx_bytes).hexdigest()
        assert body["artifact_sha256"] == digest and body["artifact_size"] == len(onnx_bytes)
        assert body["input_schema"] and body["output_schema"]
        assert storage.path_for(digest).read_bytes() == onnx_bytes
        [event] = events("version.create")
        assert event.payload["artifact_sha256"] == digest

    def test_upload_then_download_the_same_bytes(self, api, dana, credit_model, onnx_file,
                                                 onnx_bytes):
        version = services.version_create(actor=dana, model=credit_model)
        client = api.as_(dana)
        response = client.post(f"/api/v1/versions/{version.pk}/artifact/",
                               {"artifact": onnx_file()}, format="multipart")
        assert response.status_code == 200, response.json()
        download = client.get(f"/api/v1/versions/{version.pk}/artifact/")
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == onnx_bytes
        assert download["X-Content-SHA256"] == hashlib.sha256(onnx_bytes).hexdigest()
        [event] = events("version.artifact_upload")
        assert event.payload["sha256"] == download["X-Content-SHA256"]

    @pytest.mark.parametrize("name, payload, message", [
        ("pickle renamed", build.pickle_bytes, "pickle"),
        ("truncated", build.truncated_onnx_bytes, ""),
        ("external data", build.external_data_onnx_bytes, "external"),
        ("text file", lambda: b"hello, this is not a model\n", ""),
    ])
    def test_bad_artifacts_are_refused_and_nothing_is_stored(
            self, api, dana, credit_model, name, payload, message):
        data = payload()
        from io import BytesIO

        f = BytesIO(data)
        f.name = "model.onnx"
        response = api.as_(dana).post(f"/api/v1/models/{credit_model.slug}/versions/",
                                      {"artifact": f}, format="multipart")
        assert response.status_code == 400, name
        body = response.json()
        assert "artifact" in body["fields"], body
        assert message.lower() in body["detail"].lower()
        assert not ModelVersion.objects.exists()
        assert not storage.path_for(hashlib.sha256(data).hexdigest()).exists()
        assert not events("version.create")

    @override_settings(MAX_ARTIFACT_BYTES=300, MAX_DATASET_BYTES=300)
    def test_an_upload_over_every_cap_is_cut_off_while_streaming(self, api, dana, credit_model,
                                                                 onnx_file):
        version = services.version_create(actor=dana, model=credit_model)
        response = api.as_(dana).post(f"/api/v1/versions/{version.pk}/artifact/",
                                      {"artifact": onnx_file()}, format="multipart")
        assert response.status_code == 400
        assert "larger than the 300\xa0bytes limit" in response.json()["fields"]["artifact"][0]
        version.refresh_from_db()
        assert not version.has_artifact

    @override_settings(MAX_ARTIFACT_BYTES=300, MAX_DATASET_BYTES=10_000)
    def test_an_upload_over_the_artifact_cap_is_refused_by_the_check(
            self, api, dana, credit_model, onnx_file):
        version = services.version_create(actor=dana, model=credit_model)
        response = api.as_(dana).post(f"/api/v1/versions/{version.pk}/artifact/",
                                      {"artifact": onnx_file()}, format="multipart")
        assert response.status_code == 400
        assert "ASSAY_MAX_ARTIFACT_MB" in response.json()["fields"]["artifact"][0]
        version.refresh_from_db()
        assert not version.has_artifact

    def test_the_artifact_is_frozen_once_the_version_leaves_draft(
            self, api, dana, credit_model, onnx_file):
        version = services.version_create(actor=dana, model=credit_model, artifact=onnx_file())
        ModelVersion.objects.filter(pk=version.pk).update(state=VersionState.SUBMITTED)
        response = api.as_(dana).post(f"/api/v1/versions/{version.pk}/artifact/",
                                      {"artifact": onnx_file()}, format="multipart")
        assert response.status_code == 409
        assert "frozen" in response.json()["detail"]

    def test_upload_without_a_file_names_the_field(self, api, dana, credit_model):
        version = services.version_create(actor=dana, model=credit_model)
        response = api.as_(dana).post(f"/api/v1/versions/{version.pk}/artifact/", {},
                                      format="multipart")
        assert response.status_code == 400
        assert "artifact" in response.json()["fields"]

    def test_another_teams_version_is_not_found(self, api, dana, frank, credit_model,
                                                onnx_file):
        version = services.version_create(actor=dana, model=credit_model, artifact=onnx_file())
        client = api.as_(frank)
        assert client.get(f"/api/v1/versions/{version.pk}/").status_code == 404
        assert client.get(f"/api/v1/versions/{version.pk}/artifact/").status_code == 404
        assert client.post(f"/api/v1/models/{credit_model.slug}/versions/", {},
                           format="json").status_code == 404

    def test_a_bad_training_data_digest_is_refused(self, api, dana, credit_model):
        response = api.as_(dana).post(f"/api/v1/models/{credit_model.slug}/versions/",
                                      {"training_data_sha256": "abc"}, format="json")
        assert response.status_code == 400
        assert "training_data_sha256" in response.json()["fields"]

    def test_state_and_number_are_read_only(self, api, dana, credit_model):
        version = services.version_create(actor=dana, model=credit_model)
        response = api.as_(dana).patch(f"/api/v1/versions/{version.pk}/",
                                       {"state": "approved"}, format="json")
        assert response.status_code == 400
        version.refresh_from_db()
        assert version.state == VersionState.DRAFT


def test_a_deleted_drafts_number_is_never_given_again(api, dana, credit_model):
    client = api.as_(dana)
    url = f"/api/v1/models/{credit_model.slug}/versions/"
    client.post(url, {}, format="json")
    second = client.post(url, {}, format="json").json()
    assert client.delete(f"/api/v1/versions/{second['id']}/").status_code == 204
    assert client.post(url, {}, format="json").json()["number"] == 3


def test_a_training_data_digest_in_capitals_is_stored_in_lowercase(api, dana, credit_model):
    digest = "AB" * 32
    response = api.as_(dana).post(f"/api/v1/models/{credit_model.slug}/versions/",
                                  {"training_data_sha256": digest}, format="json")
    assert response.status_code == 201
    assert response.json()["training_data_sha256"] == digest.lower()


def test_an_administrator_transfers_a_model_and_nobody_else_can(api, adam, dana, frank,
                                                                credit_model):
    url = f"/api/v1/models/{credit_model.slug}/transfer/"
    refused = api.as_(dana).post(url, {"team": "fraud"}, format="json")
    assert refused.status_code == 403
    assert "Only administrators" in refused.json()["detail"]
    assert api.as_(adam).post(url, {}, format="json").status_code == 400
    moved = api.as_(adam).post(url, {"team": "fraud", "owner": "frank"}, format="json")
    assert moved.status_code == 200
    assert (moved.json()["team"], moved.json()["owner"]) == ("fraud", "frank")
    [event] = events("model.transfer")
    assert event.payload == {"team": {"before": "credit", "after": "fraud"},
                             "owner": {"before": "dana", "after": "frank"}}
    assert api.as_(frank).get(f"/api/v1/models/{credit_model.slug}/").status_code == 200


def test_an_unknown_version_state_filter_is_a_400(api, dana):
    response = api.as_(dana).get("/api/v1/versions/?state=bogus")
    assert response.status_code == 400
    assert "state" in response.json()["fields"]
