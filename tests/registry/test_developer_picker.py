"""The developer picker: a model's developers are data scientists of its team. The forms offer
only them; the service (behind the forms and the API alike) refuses anyone else with a 400 that
names who and why, and changes nothing."""

from __future__ import annotations

import re

import pytest

from core.errors import ValidationFailed
from core.models import AuditEvent, User
from registry import services
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.django_db


def offered(html: str) -> set[str]:
    picker = html.split('name="developers"', 1)[1].split("</select>", 1)[0]
    return set(re.findall(r'<option value="([^"]+)"', picker))


@pytest.fixture
def dora(make_user) -> User:
    """Another data scientist of the credit team."""
    return make_user("dora", "data_scientist", team="credit")


def test_the_forms_offer_only_the_teams_data_scientists(client, dana, dora, frank, victor,
                                                        rhea, credit_model):
    client.force_login(dana)
    assert offered(client.get("/models/new/").content.decode()) == {"dana", "dora"}
    assert offered(client.get(f"/models/{credit_model.slug}/edit/").content.decode()) == {
        "dana", "dora"}


def test_anyone_else_is_refused_by_the_service_with_who_and_why(dana, victor, frank, teams):
    for someone in (victor, frank):  # a validator; a data scientist of another team
        with pytest.raises(ValidationFailed) as refused:
            services.model_create(actor=dana, team=teams["credit"], developers=[someone],
                                  **model_fields())
        assert refused.value.status == 400
        assert "Only data scientists of the team" in refused.value.message
        assert someone.username in refused.value.message
    assert not AuditEvent.objects.filter(action="model.create").exists()


def test_the_api_answers_400_on_the_field_and_keeps_the_developers(api, dana, dora, frank,
                                                                    credit_model):
    url = f"/api/v1/models/{credit_model.slug}/"
    assert api.as_(dana).patch(url, {"developers": ["dora"]}, format="json").status_code == 200
    response = api.as_(dana).patch(url, {"developers": ["dora", "frank"]}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "frank is not" in str(body) and "developers" in body["fields"]
    assert list(credit_model.developers.values_list("username", flat=True)) == ["dora"]


def test_the_edit_form_refuses_a_person_not_offered_and_keeps_the_page(client, dana, victor,
                                                                        credit_model):
    client.force_login(dana)
    response = client.post(f"/models/{credit_model.slug}/edit/", {
        **model_fields(), "decision_type": "credit", "task": "binary_classification",
        "sourcing": "in_house", "developers": ["victor"]})
    assert response.status_code == 400
    assert "victor" in response.content.decode()
    assert not credit_model.developers.exists()


def test_a_developer_who_left_the_team_stays_until_removed_but_is_not_added_back(
        dana, dora, teams, credit_model):
    services.model_update(actor=dana, model=credit_model, developers=[dora])
    dora.teams.set([teams["fraud"]])
    dora = User.objects.get(pk=dora.pk)
    # Editing the rest of the model keeps her; the picker still shows her while she is named.
    services.model_update(actor=dana, model=credit_model, developers=[dora],
                          business_line="Retail")
    services.model_update(actor=dana, model=credit_model, developers=[])
    with pytest.raises(ValidationFailed, match="dora is not"):
        services.model_update(actor=dana, model=credit_model, developers=[dora])
    assert not credit_model.developers.exists()
