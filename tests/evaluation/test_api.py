"""The evaluation API: a validator with a token uploads the German-credit data, launches a run,
watches it, fetches the results, and the version's gate reads the evidence; every error answers
in the API's shape (4xx, never 500), and what you may not see is a 404."""

from __future__ import annotations

import hashlib
import json

import pytest
from rest_framework.test import APIClient

from core import services as accounts
from evaluation.metrics import canonical_json
from evaluation.models import Dataset, Run
from governance.gates import blocking_items
from governance.models import Evidence
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE


@pytest.fixture
def victor_api(victor) -> APIClient:
    _, token = accounts.token_create(actor=victor, name="notebook", expires_in_days=30)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def upload(client: APIClient, model: str, content: bytes | None = None, **fields):
    with GERMAN_CSV.open("rb") as f:
        data = {"model": model, "file": content if content is not None else f,
                "label_column": "good_credit", "sensitive_features": json.dumps(SENSITIVE),
                **fields}
        if content is not None:
            import io
            data["file"] = io.BytesIO(content)
            data["file"].name = "data.csv"
        return client.post("/api/v1/datasets/", data, format="multipart")


def test_the_whole_flow_with_a_token(validating, victor_api, queued_runs,
                                     django_capture_on_commit_callbacks):
    slug = validating.model.slug
    answer = upload(victor_api, slug, name="German credit 1994")
    assert answer.status_code == 201, answer.json()
    dataset = answer.json()
    assert dataset["row_count"] == 1000 and dataset["sensitive_features"][1]["bins"]["edges"] \
        == [25.0, 60.0]
    with django_capture_on_commit_callbacks(execute=True):
        answer = victor_api.post("/api/v1/runs/", {"version": validating.pk,
                                                   "dataset": dataset["id"]}, format="json")
    assert answer.status_code == 201, answer.json()
    run = answer.json()
    assert (run["status"], run["progress"], run["checks"]) == (
        "queued", 0, ["performance", "bias", "calibration"])
    assert victor_api.get(f"/api/v1/runs/{run['id']}/results/").status_code == 404
    assert queued_runs.run() == ["succeeded"]
    detail = victor_api.get(f"/api/v1/runs/{run['id']}/").json()
    assert detail["status"] == "succeeded" and detail["progress"] == 100
    assert detail["verdicts"]["performance"]["status"] == "passed"
    assert 0.81 < detail["figures"]["performance"]["roc_auc"] < 0.83
    assert detail["page"] == f"/evaluation/runs/{run['id']}/"
    answer = victor_api.get(f"/api/v1/runs/{run['id']}/results/")
    assert answer.status_code == 200 and "attachment" in answer["Content-Disposition"]
    body = json.loads(answer.content)
    # Anyone can check the digest: SHA-256 of the canonical JSON of the results.
    assert hashlib.sha256(canonical_json(body["results"]).encode()).hexdigest() \
        == body["results_digest"] == detail["results_digest"]
    assert not [b for b in blocking_items(validating) if b.kind == "evidence"]
    assert Evidence.objects.filter(version=validating, launched_by__username="victor").count() \
        == 3
    listed = victor_api.get(f"/api/v1/runs/?version={validating.pk}").json()
    assert [r["id"] for r in listed["results"]] == [run["id"]]
    assert victor_api.post(f"/api/v1/runs/{run['id']}/cancel/").status_code == 409


def test_bad_uploads_answer_400_naming_the_column_and_store_nothing(validating, victor_api):
    answer = upload(victor_api, validating.model.slug, content=b"status,duration\nx,1\n")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "invalid" and "credit_amount" in body["fields"]
    answer = upload(victor_api, validating.model.slug, sensitive_features="[not json")
    assert answer.status_code == 400 and "sensitive_features" in answer.json()["fields"]
    answer = victor_api.post("/api/v1/datasets/", {"model": validating.model.slug},
                             format="multipart")
    assert answer.status_code == 400 and "file" in answer.json()["fields"]
    answer = upload(victor_api, validating.model.slug, version=99)
    assert answer.status_code == 400 and "version" in answer.json()["fields"]
    assert not Dataset.objects.exists()


def test_bad_launches_answer_400(validating, german_data, victor_api):
    for body, field in [({"version": validating.pk}, "dataset"),
                        ({"version": validating.pk, "dataset": german_data.pk,
                          "checks": ["speed"]}, "checks"),
                        ({"version": validating.pk, "dataset": german_data.pk,
                          "options": {"seed": -1}}, "options"),
                        ({"version": validating.pk, "dataset": german_data.pk,
                          "priority": 1}, "priority"),
                        ({"version": "x", "dataset": german_data.pk}, "version")]:
        answer = victor_api.post("/api/v1/runs/", body, format="json")
        assert answer.status_code == 400, (body, answer.content)
        assert field in answer.json()["fields"], answer.json()
    assert victor_api.get("/api/v1/runs/?status=done").status_code == 400
    assert not Run.objects.exists()


def test_another_teams_data_and_runs_are_not_found_and_auditors_read_only(
        validating, german_data, api, people, queued_runs):
    run = Run.objects.create(version=validating, dataset=german_data,
                             artifact_digest=validating.artifact_sha256,
                             dataset_digests=[german_data.sha256], checks=["performance"],
                             launched_by=people["victor"])
    frank = api.as_(people["frank"])
    assert frank.get(f"/api/v1/datasets/{german_data.pk}/").status_code == 404
    assert frank.get(f"/api/v1/runs/{run.pk}/").status_code == 404
    assert frank.post("/api/v1/runs/", {"version": validating.pk, "dataset": german_data.pk},
                      format="json").status_code == 400  # ids resolve among what you see
    assert frank.get("/api/v1/runs/").json()["results"] == []
    aude = api.as_(people["aude"])
    assert aude.get(f"/api/v1/runs/{run.pk}/").status_code == 200
    assert aude.get(f"/api/v1/datasets/{german_data.pk}/download/").status_code == 200
    answer = aude.post("/api/v1/runs/", {"version": validating.pk, "dataset": german_data.pk},
                       format="json")
    assert answer.status_code == 403 and "read-only" in answer.json()["detail"]
    assert aude.post(f"/api/v1/runs/{run.pk}/cancel/").status_code == 403
    assert upload(aude, validating.model.slug).status_code == 403


def test_the_registry_api_takes_the_favourable_class_and_threshold(german_model, api, dana):
    client = api.as_(dana)
    url = f"/api/v1/models/{german_model.slug}/"
    answer = client.patch(url, {"favourable_class": "good", "decision_threshold": 0.35},
                          format="json")
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["favourable_class"], answer.json()["decision_threshold"]) == (
        "good", 0.35)
    answer = client.patch(url, {"decision_threshold": 1.5}, format="json")
    assert answer.status_code == 400 and "decision_threshold" in answer.json()["fields"]
    answer = client.patch(url, {"favourable_class": ""}, format="json")
    assert answer.status_code == 400 and "favourable_class" in answer.json()["fields"]
