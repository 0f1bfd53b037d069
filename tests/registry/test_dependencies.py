"""The dependency graph: upstream links may not close a cycle (refused with the cycle named, by
the service, the API and the form), and the graph reads transitively — up and down, with each
model's state — through the API and the model page, scoped to what the reader may see."""

from __future__ import annotations

import pytest

from core.errors import ValidationFailed
from registry import dependencies, services
from registry.models import RegisteredModel
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(dana, teams) -> dict[str, RegisteredModel]:
    """bureau ← scorecard ← limits (each depends on the one before)."""
    bureau = services.model_create(actor=dana, team=teams["credit"],
                                   **model_fields(name="Bureau score"))
    scorecard = services.model_create(actor=dana, team=teams["credit"], upstream_models=[bureau],
                                      **model_fields(name="Scorecard"))
    limits = services.model_create(actor=dana, team=teams["credit"], upstream_models=[scorecard],
                                   **model_fields(name="Limits"))
    return {"bureau": bureau, "scorecard": scorecard, "limits": limits}


def test_a_link_that_would_close_a_cycle_is_refused_naming_it(chain, dana):
    with pytest.raises(ValidationFailed) as refused:
        services.model_update(actor=dana, model=chain["bureau"], upstream_models=[chain["limits"]])
    assert "Bureau score depends on Limits depends on Scorecard depends on Bureau score" in \
        str(refused.value)
    assert list(chain["bureau"].upstream_models.all()) == []
    # A link that closes nothing is fine.
    services.model_update(actor=dana, model=chain["limits"], upstream_models=[
        chain["scorecard"], chain["bureau"]])


def test_the_api_and_the_form_refuse_a_cycle_with_a_400(chain, api, client, dana):
    answer = api.as_(dana).patch(f"/api/v1/models/{chain['scorecard'].slug}/",
                                 {"upstream_models": [chain["limits"].slug]}, format="json")
    assert answer.status_code == 400
    assert "would make a cycle" in answer.json()["fields"]["upstream_models"][0]
    client.force_login(dana)
    fields = {**model_fields(name="Scorecard"), "upstream_models": [chain["limits"].slug],
              "decision_threshold": "0.5", "favourable_class": "1", "sourcing": "in_house"}
    page = client.post(f"/models/{chain['scorecard'].slug}/edit/", fields)
    assert page.status_code == 400 and "would make a cycle" in page.content.decode()


def test_the_graph_reads_transitively_both_ways(chain):
    assert dependencies.downstream_ids(chain["bureau"].pk) == {
        chain["scorecard"].pk: (1, chain["bureau"].pk),
        chain["limits"].pk: (2, chain["scorecard"].pk)}
    up = dependencies.neighbours(chain["limits"], downstream=False)
    assert [(n.model.name, n.distance, n.via and n.via.name) for n in up] == [
        ("Scorecard", 1, None), ("Bureau score", 2, "Scorecard")]


def test_the_dependencies_api_lists_what_the_reader_may_see(chain, api, dana, frank, adam,
                                                            teams):
    fraud = services.model_create(actor=frank, team=teams["fraud"], **model_fields(
        name="Fraud", decision_type="fraud"))
    services.model_update(actor=adam, model=fraud, upstream_models=[chain["limits"]])
    body = api.as_(dana).get(f"/api/v1/models/{chain['scorecard'].slug}/dependencies/").json()
    assert [(m["slug"], m["distance"], m["via"], m["status"]) for m in body["upstream"]] == [
        ("bureau-score", 1, None, "draft")]
    assert [(m["slug"], m["distance"], m["via"]) for m in body["downstream"]] == [
        ("limits", 1, None)]  # dana cannot see frank's fraud model downstream of limits
    assert [m["slug"] for m in api.as_(adam).get(
        f"/api/v1/models/{chain['scorecard'].slug}/dependencies/").json()["downstream"]] == [
        "limits", "fraud"]
    assert api.as_(frank).get(f"/api/v1/models/{chain['scorecard'].slug}/dependencies/"
                              ).status_code == 404


def test_the_model_page_draws_the_graph(chain, client, dana):
    client.force_login(dana)
    page = client.get(f"/models/{chain['scorecard'].slug}/dependencies/").content.decode()
    assert 'id="dependency-graph"' in page
    assert "Dependencies of Scorecard" in page
    for name in ("Bureau score", "Limits"):
        assert name in page
    assert "No model you can see depends on it." not in page
