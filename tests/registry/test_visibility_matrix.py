"""Who sees and who may change a model, over the API and the pages alike.

A model you may not see answers 404; one you see but may not change answers 403 with the reason.
"""

from __future__ import annotations

import pytest

from core.errors import ValidationFailed
from core.models import User
from registry import services

pytestmark = pytest.mark.django_db

#          user      sees   may edit
MATRIX = [("dana",   True,  True),    # data scientist in the model's team (its owner)
          ("frank",  False, False),   # data scientist in another team
          ("victor", False, False),   # validator, not assigned to it
          ("rhea",   True,  False),   # risk officer
          ("boris",  True,  False),   # review board member
          ("aude",   True,  False),   # auditor: reads everything, changes nothing
          ("adam",   True,  True)]    # administrator


def expected(sees: bool, may_edit: bool) -> tuple[int, int]:
    return (200 if sees else 404), (200 if may_edit else 403 if sees else 404)


@pytest.mark.parametrize("username, sees, may_edit", MATRIX)
def test_api(api, people, credit_model, username, sees, may_edit):
    view, edit = expected(sees, may_edit)
    client = api.as_(people[username])
    url = f"/api/v1/models/{credit_model.slug}/"
    assert client.get(url).status_code == view
    listed = [m["slug"] for m in client.get("/api/v1/models/").json()["results"]]
    assert (credit_model.slug in listed) is sees
    response = client.patch(url, {"known_limitations": "small sample"}, format="json")
    assert response.status_code == edit
    if edit == 403:
        assert "can change this model" in response.json()["detail"] or \
            "read-only" in response.json()["detail"]
    version = client.post(f"{url}versions/", {"changelog": "x"}, format="json")
    assert version.status_code == (201 if may_edit else edit)


@pytest.mark.parametrize("username, sees, may_edit", MATRIX)
def test_pages(client, people, credit_model, username, sees, may_edit):
    view, edit = expected(sees, may_edit)
    client.force_login(people[username])
    assert client.get(f"/models/{credit_model.slug}/").status_code == view
    page = client.get("/models/")
    assert (credit_model.name in page.content.decode()) is sees
    edit_page = client.get(f"/models/{credit_model.slug}/edit/")
    assert edit_page.status_code == edit
    if edit == 403:
        assert "can change this model" in edit_page.content.decode() or \
            "read-only" in edit_page.content.decode()
    assert client.get(f"/models/{credit_model.slug}/versions/new/").status_code == edit


def test_developers_see_a_model_of_another_team(api, dana, frank, teams):
    """frank was named a developer while in the credit team, and has moved to fraud since."""
    frank.teams.add(teams["credit"])
    model = services.model_create(actor=dana, team=teams["credit"], name="Shared",
                                  purpose="p", decision_type="credit",
                                  task="binary_classification",
                                  developers=[User.objects.get(pk=frank.pk)])
    frank.teams.remove(teams["credit"])
    assert api.as_(frank).get(f"/api/v1/models/{model.slug}/").status_code == 200


def test_anonymous_users_are_sent_to_login_or_refused(client, api, credit_model):
    assert client.get("/models/").status_code == 302
    assert api.get("/api/v1/models/").status_code in (401, 403)


def test_a_model_you_cannot_see_cannot_be_linked_and_is_not_named(
        api, client, adam, dana, frank, credit_model, fraud_model):
    fraud = f"/api/v1/models/{fraud_model.slug}/"
    # frank cannot tell an invisible model from a missing one...
    hidden = api.as_(frank).patch(fraud, {"upstream_models": [credit_model.slug]}, format="json")
    missing = api.as_(frank).patch(fraud, {"upstream_models": ["no-such-model"]}, format="json")
    assert hidden.status_code == missing.status_code == 400
    assert "does not exist" in hidden.json()["fields"]["upstream_models"][0]
    # ...and the service refuses the link whatever the front door.
    with pytest.raises(ValidationFailed, match="No model with the slug"):
        services.model_update(actor=frank, model=fraud_model, upstream_models=[credit_model])
    # A link made by someone who sees both is not shown to readers who see only one side.
    services.model_update(actor=adam, model=fraud_model, upstream_models=[credit_model])
    assert api.as_(frank).get(fraud).json()["upstream_models"] == []
    client.force_login(dana)
    assert fraud_model.name not in client.get(f"/models/{credit_model.slug}/").content.decode()
