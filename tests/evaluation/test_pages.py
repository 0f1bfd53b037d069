"""The evaluation pages: panels on the model and version pages, the upload and launch forms, the
run page polling its progress until the run ends, then its figures, charts and JSON."""

from __future__ import annotations

import pytest

from evaluation.models import Dataset, Run
from tests.evaluation.conftest import GERMAN_CSV, upload


def page_of(client, user, url, **kw):
    client.force_login(user)
    return client.get(url, **kw)


def test_panels_on_the_model_and_version_pages(client, validating, german_data, people):
    model_url = f"/models/{validating.model.slug}/evaluations/"
    html = page_of(client, people["victor"], model_url).content.decode()
    assert "Evaluation data" in html and german_data.sha256[:12] in html
    assert "Upload evaluation data" in html
    html = page_of(client, people["aude"], model_url).content.decode()
    assert "Evaluation data" in html and "Upload evaluation data" not in html
    html = page_of(client, people["victor"],
                   f"/models/{validating.model.slug}/versions/1/").content.decode()
    assert "Evaluations" in html and "Launch an evaluation" in html


def test_the_upload_form_names_the_column_and_stores_nothing(client, validating, people):
    client.force_login(people["victor"])
    url = f"/evaluation/models/{validating.model.slug}/datasets/new/"
    bad = upload(GERMAN_CSV.read_bytes().replace(b"credit_amount", b"amount"), "bad.csv")
    answer = client.post(url, {"file": bad, "label_column": "good_credit",
                               "sensitive_columns": "sex, age", "bins": "age: 25, 60"})
    assert answer.status_code == 400
    assert "credit_amount" in answer.content.decode() and not Dataset.objects.exists()
    answer = client.post(url, {"file": upload(GERMAN_CSV), "label_column": "good_credit",
                               "sensitive_columns": "sex, age", "bins": "age: 25, 60"})
    assert answer.status_code == 302
    dataset = Dataset.objects.get()
    assert dataset.sensitive_features == [{"column": "sex", "bins": None},
                                          {"column": "age", "bins": {"edges": [25.0, 60.0]}}]
    answer = client.post(url, {"file": upload(GERMAN_CSV), "bins": "age 25"})
    assert answer.status_code == 400 and "column: edge" in answer.content.decode()


def test_launch_watch_and_read_the_results(client, validating, german_data, people,
                                           queued_runs, django_capture_on_commit_callbacks):
    client.force_login(people["victor"])
    url = f"/evaluation/models/{validating.model.slug}/versions/1/runs/new/"
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(url, {"dataset": german_data.pk, "checks": ["performance", "bias",
                                                                         "calibration"],
                                   "n_bootstrap": 50, "seed": 0})
    run = Run.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/evaluation/runs/{run.pk}/"
    html = client.get(answer["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in html and "Waiting for a worker" in html
    fragment = client.get(answer["Location"], headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    assert fragment.content.decode().lstrip().startswith('<div id="run-body">')
    assert 'id="run-progress"' in fragment.content.decode()
    assert 'hx-target="#run-body"' in fragment.content.decode()
    assert queued_runs.run() == ["succeeded"]
    # Polling stops: the body it replaces now holds the results and no progress bar.
    done = client.get(answer["Location"], headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in done and "every 1s" not in done and "Succeeded" in done
    assert "ROC curve" in done
    html = client.get(answer["Location"]).content.decode()
    assert "every 1s" not in html and "Succeeded" in html
    assert html.count('role="img"') >= 5  # ROC, PR, confusion matrix, 2 group bars, reliability
    for title in ("ROC curve", "Precision", "Confusion matrix", "Selection rate by sex",
                  "Reliability diagram", "roc_auc", "dp_ratio", "ece"):
        assert title in html, title
    # What still blocks approval: the review and sign-offs, no longer any evidence.
    blockers = html.split('id="blockers"')[1].split("</ul>")[0]
    assert "validator has not concluded" in blockers
    assert "evidence" not in blockers.lower() and "Check &#x27;" not in blockers
    answer = client.get(f"/evaluation/runs/{run.pk}/results.json")
    assert answer.status_code == 200 and answer.json()["results_digest"] == \
        Run.objects.get().results_digest


def test_cancel_from_the_page_and_who_may(client, validating, german_data, people):
    from evaluation import services

    run = services.run_launch(actor=people["dana"], version=validating, dataset=german_data)
    html = page_of(client, people["aude"], f"/evaluation/runs/{run.pk}/").content.decode()
    assert "Cancel the run" not in html and "exploratory" in html
    assert client.post(f"/evaluation/runs/{run.pk}/cancel/").status_code == 403
    launch = f"/evaluation/models/{validating.model.slug}/versions/1/runs/new/"
    assert client.get(launch).status_code == 403
    client.force_login(people["frank"])
    assert client.get(f"/evaluation/runs/{run.pk}/").status_code == 404
    client.force_login(people["victor"])
    answer = client.post(f"/evaluation/runs/{run.pk}/cancel/")
    assert answer.status_code == 302
    assert Run.objects.get().status == "cancelled"
    assert client.post(f"/evaluation/runs/{run.pk}/cancel/").status_code == 409


@pytest.mark.parametrize("url", ["/evaluation/runs/999/", "/evaluation/runs/999/results.json",
                                 "/evaluation/datasets/999/download/"])
def test_unknown_ids_are_not_found(client, people, url):
    client.force_login(people["victor"])
    assert client.get(url).status_code == 404
