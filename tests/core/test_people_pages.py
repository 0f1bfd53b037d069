"""People and teams in the browser for administrators: add a person, change roles and teams,
revoke tokens, deactivate and reactivate — each audited, with refusals that say why."""

from __future__ import annotations

import pytest

from core import services
from core.models import AuditEvent, Role, Team, User


@pytest.mark.parametrize("who", ["dana", "aude", "rhea"])
def test_only_administrators_manage_people(client, people, who):
    client.force_login(people[who])
    response = client.get("/people/")
    assert response.status_code == 403 and b"Only administrators manage people" in response.content
    assert client.post("/people/dana/access/", {"roles": ["admin"]}).status_code == 403
    assert Role.ADMIN not in User.objects.get(username="dana").roles


def test_the_list_shows_roles_teams_and_status(client, adam, dana, aude):
    client.force_login(adam)
    html = client.get("/people/").content.decode()
    assert 'href="/people/dana/"' in html and "Data scientist" in html and "Credit" in html
    assert 'href="/people/"' in client.get("/").content.decode()  # in the navigation


def test_an_administrator_adds_a_person_with_roles_and_teams(client, adam, teams):
    client.force_login(adam)
    response = client.post("/people/new/", {
        "username": "vera", "first_name": "Vera", "last_name": "Validator",
        "password": "a-long-Passphrase-42", "roles": ["validator"],
        "teams": [teams["credit"].pk]}, follow=True)
    assert response.redirect_chain[-1][0] == "/people/vera/"
    assert b"vera can now sign in" in response.content
    vera = User.objects.get(username="vera")
    assert vera.roles == {"validator"} and list(vera.teams.all()) == [teams["credit"]]
    assert AuditEvent.objects.filter(action="user.create", object_id=str(vera.pk)).exists()


def test_a_weak_password_or_a_taken_username_keeps_the_form(client, adam, dana):
    client.force_login(adam)
    weak = client.post("/people/new/", {"username": "vera", "password": "123"})
    assert weak.status_code == 400 and b"too short" in weak.content
    assert b'value="vera"' in weak.content
    taken = client.post("/people/new/", {"username": "dana", "password": "a-long-Passphrase-42"})
    assert taken.status_code == 409 and b"is taken" in taken.content


def test_roles_and_teams_change_in_one_step_each_audited(client, adam, dana, teams):
    client.force_login(adam)
    response = client.post("/people/dana/access/", {
        "roles": ["data_scientist", "validator"], "teams": [teams["fraud"].pk]}, follow=True)
    assert b"dana: granted validator; added to Fraud; removed from Credit." in response.content
    dana = User.objects.get(username="dana")
    assert dana.roles == {"data_scientist", "validator"}
    assert list(dana.teams.all()) == [teams["fraud"]]
    actions = list(AuditEvent.objects.order_by("-seq").values_list("action", flat=True)[:3])
    assert sorted(actions) == ["team.add_member", "team.remove_member", "user.role_grant"]


def test_an_unknown_role_is_a_400_that_changes_nothing(client, adam, dana):
    client.force_login(adam)
    response = client.post("/people/dana/access/", {"roles": ["emperor"]})
    assert response.status_code == 400 and b"not one of the available choices" in response.content
    assert User.objects.get(username="dana").roles == {"data_scientist"}


def test_administrators_cannot_take_their_own_administrator_role(client, adam):
    client.force_login(adam)
    response = client.post("/people/adam/access/", {"roles": ["auditor"]})
    assert response.status_code == 409 and b"ask another administrator" in response.content
    assert User.objects.get(username="adam").roles == {"admin"}


def test_revoking_every_token_of_a_person(client, adam, dana):
    services.token_create(actor=dana, name="laptop", expires_in_days=30)
    services.token_create(actor=dana, name="ci", expires_in_days=30)
    client.force_login(adam)
    response = client.post("/people/dana/tokens/revoke/", follow=True)
    assert b"Revoked 2 API tokens of dana" in response.content
    assert not dana.api_tokens.filter(revoked_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action="user.tokens_revoke").last().payload == {
        "tokens_revoked": 2}


def test_deactivation_needs_a_reason_then_ends_access(client, adam, dana):
    client.force_login(adam)
    missing = client.post("/people/dana/deactivate/", {"reason": ""})
    assert missing.status_code == 400 and User.objects.get(username="dana").is_active
    response = client.post("/people/dana/deactivate/", {"reason": "Left the bank."}, follow=True)
    assert b"dana is deactivated" in response.content and b"Reactivate dana" in response.content
    assert not User.objects.get(username="dana").is_active
    assert AuditEvent.objects.filter(action="user.deactivate").last().payload["reason"] == (
        "Left the bank.")
    client.post("/people/dana/reactivate/")
    assert User.objects.get(username="dana").is_active


def test_administrators_cannot_deactivate_themselves(client, adam):
    client.force_login(adam)
    page = client.get("/people/adam/").content.decode()
    assert "You cannot deactivate your own account" in page and "Deactivate adam" not in page
    response = client.post("/people/adam/deactivate/", {"reason": "oops"})
    assert response.status_code == 409 and User.objects.get(username="adam").is_active


def test_a_new_team(client, adam):
    client.force_login(adam)
    response = client.post("/people/teams/new/", {"name": "Treasury"}, follow=True)
    assert b"Team Treasury is created" in response.content
    assert Team.objects.filter(name="Treasury").exists()
    duplicate = client.post("/people/teams/new/", {"name": "Treasury"})
    assert duplicate.status_code == 409 and b"already exists" in duplicate.content


def test_an_unknown_person_is_a_404(client, adam):
    client.force_login(adam)
    assert client.get("/people/nobody/").status_code == 404
