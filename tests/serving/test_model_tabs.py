"""The model page's tabs without a browser: every tab for every role, with what that person may
see and do; a model of another team is a 404 on every tab; bad tab input is a 4xx.

Here rather than under tests/registry: the tabs come from every app up to reports, and the
approved, deployed version these tests look at is built with the serving fixtures.
"""

from __future__ import annotations

import pytest

from governance import services as governance
from registry.models import ModelVersion
from serving import services

pytestmark = pytest.mark.django_db

TABS = ["", "versions/", "evaluations/", "findings/", "review/", "deployments/",
        "dependencies/", "history/", "model-card/"]


@pytest.fixture
def deployed(approved, devi, people) -> ModelVersion:
    """The credit model's v1: approved (victor validated it, boris and rhea signed it), with a
    finding victor raised, deployed to the endpoint ``credit``."""
    governance.finding_raise(actor=people["victor"], version=approved, severity="medium",
                             title="Calibration drifts for young applicants",
                             description="Expected and observed default rates differ.")
    services.endpoint_create(actor=devi, slug="credit", version=approved)
    return approved


def tab(client, user, model, path: str = "", **kw) -> tuple[int, str]:
    client.force_login(user)
    response = client.get(f"/models/{model.slug}/{path}", **kw)
    return response.status_code, response.content.decode()


def test_every_tab_is_a_link_of_its_own_and_marks_itself_selected(client, dana, deployed):
    model = deployed.model
    for path in TABS:
        status, html = tab(client, dana, model, path)
        assert status == 200, path
        assert html.count('role="tab"') == len(TABS) and 'role="tablist"' in html
        assert 'role="tabpanel"' in html
        selected = html.split('aria-selected="true"')[0].rsplit("<a ", 1)[1]
        assert f'href="/models/{model.slug}/{path}"' in selected, path


@pytest.mark.parametrize("who", ["dana", "victor", "rhea", "boris", "aude", "adam", "devi"])
def test_each_role_sees_each_tab_with_what_it_may_do(client, people, devi, deployed, who):
    user = devi if who == "devi" else people[who]
    model = deployed.model
    pages = {path.rstrip("/") or "overview": tab(client, user, model, path) for path in TABS}
    assert all(status == 200 for status, _ in pages.values()), who
    html = {name: text for name, (_, text) in pages.items()}

    # Overview: the model's facts and its intake; only its team (and administrators) edit it.
    assert "Approve or decline" in html["overview"] or model.purpose in html["overview"]
    assert "Intake and risk tier" in html["overview"]
    assert ("Edit details" in html["overview"]) is (who in ("dana", "adam"))
    # Versions: v1 approved; only the team adds versions.
    assert "v1" in html["versions"] and "Approved" in html["versions"]
    assert ("New version →" in html["versions"]) is (who in ("dana", "adam"))
    # Evaluations: the model's data; its team, validators and risk officers upload data.
    assert "Evaluation data" in html["evaluations"]
    assert "No evaluation has run on this model yet" in html["evaluations"]
    assert ("Upload evaluation data" in html["evaluations"]) is (
        who in ("dana", "victor", "rhea", "adam"))
    # Findings: everyone who sees the model sees its findings; validators and risk officers
    # raise them.
    assert "Calibration drifts for young applicants" in html["findings"]
    assert ("Raise a finding on" in html["findings"]) is (who in ("victor", "rhea"))
    # Review and sign-offs: who validated, who signed, the quorum met; decided, so nobody signs.
    review = html["review"]
    assert "Approve with conditions" in review or "Approve" in review
    assert "boris" in review and "rhea" in review and "victor" in review
    assert "1 of 1 review board" in review and "1 of 1 risk officer" in review
    assert "Sign off v1" not in review
    # Deployments: the endpoint; only deployers (and administrators) create endpoints.
    assert ">credit</a>" in html["deployments"]
    assert ("New endpoint" in html["deployments"]) is (who in ("devi", "adam"))
    # Dependencies: the graph (only this model here) and what an upstream change would do.
    assert 'id="dependency-graph"' in html["dependencies"]
    assert "No model you can see depends on it." in html["dependencies"]
    # Audit timeline: the model's events; links to single events for those who read the trail.
    assert "Model create" in html["history"]
    assert ('href="/audit/' in html["history"]) is (who in ("rhea", "aude", "adam"))
    # Model card: the version in use, and its downloads.
    assert "Model card — v1" in html["model-card"] and "PDF/A" in html["model-card"]


def test_each_tab_says_what_to_do_when_it_is_empty(client, dana, rhea, credit_model):
    pages = {path: tab(client, dana, credit_model, path)[1] for path in TABS}
    assert "Create the first one" in pages["versions/"]
    assert "No evaluation data yet" in pages["evaluations/"]
    assert "No findings on this model" in pages["findings/"]
    assert "No version has been submitted for validation yet" in pages["review/"]
    assert "Only an approved version can be deployed" in pages["deployments/"]
    assert "No model card yet" in pages["model-card/"]
    assert "No data source linked; link them on the" in pages["dependencies/"]
    # Someone who may not add versions is told who does.
    assert "The model's data scientists add versions" in tab(client, rhea, credit_model,
                                                             "versions/")[1]


def test_another_teams_model_is_not_found_on_any_tab(client, frank, deployed):
    for path in TABS:
        assert tab(client, frank, deployed.model, path)[0] == 404, path


def test_an_unknown_tab_is_not_found_and_other_model_urls_still_resolve(client, dana, deployed):
    model = deployed.model
    assert tab(client, dana, model, "nonsense/")[0] == 404
    assert tab(client, dana, model, "intake/")[0] == 200  # governance's page, not a tab
    assert tab(client, dana, model, "edit/")[0] == 200


def test_anonymous_visitors_are_sent_to_sign_in(client, deployed):
    response = client.get(f"/models/{deployed.model.slug}/findings/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_what_a_tab_hides_is_refused_when_asked_for(client, dana, aude, deployed):
    """The findings tab offers dana no "raise"; the page behind it answers 403 with why."""
    client.force_login(dana)
    response = client.get(f"/models/{deployed.model.slug}/versions/1/findings/new/")
    assert response.status_code == 403
    assert "validators and risk officers" in response.content.decode().lower()
    client.force_login(aude)
    assert client.get("/deployments/new/").status_code == 403


def test_with_htmx_only_the_tabs_and_the_chosen_one_come_back(client, dana, deployed):
    status, html = tab(client, dana, deployed.model, "findings/", HTTP_HX_REQUEST="true")
    assert status == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="model-tabs"')
    assert "Calibration drifts" in html
    client.force_login(dana)
    response = client.get(f"/models/{deployed.model.slug}/findings/")
    assert "HX-Request" in response["Vary"]


def test_the_model_card_tab_shows_the_version_asked_for_or_says_what_is_wrong(client, dana,
                                                                              deployed):
    model = deployed.model
    status, html = tab(client, dana, model, "model-card/?version=1")
    assert status == 200 and "Model card — v1" in html
    status, html = tab(client, dana, model, "model-card/?version=first")
    assert status == 400 and "takes a version number" in html
    status, html = tab(client, dana, model, "model-card/?version=9")
    assert status == 404
