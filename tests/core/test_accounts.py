"""Accounts: deactivation ends sessions and tokens, roles are granted and revoked, only
administrators manage accounts; and the create_user / deactivate_user commands."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from core import services
from core.errors import PermissionRefused
from core.models import ApiToken, AuditEvent, Role, User
from tests.conftest import PASSWORD

STRONG = "violet-kettle-harbour-42"


def signed_in_as(user: User) -> Client:
    c = Client()
    assert c.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    assert c.get("/").status_code == 200
    return c


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def test_deactivation_ends_existing_sessions_and_revokes_tokens(api, adam, dana):
    browser = signed_in_as(dana)
    other_browser = signed_in_as(dana)
    _row, token = services.token_create(actor=dana, name="CI", expires_in_days=30)

    response = api.as_(adam).post(f"/api/v1/users/{dana.pk}/deactivate/", {"reason": "left"})
    assert response.status_code == 200 and response.json()["is_active"] is False

    for c in (browser, other_browser):
        assert c.get("/").status_code == 302  # logged out on its next request
        assert c.get("/api/v1/me/").status_code == 401  # the session no longer counts
    assert ApiToken.objects.get(user=dana).status == "revoked"
    with_token = APIClient()
    with_token.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert with_token.get("/api/v1/me/").status_code == 401
    [event] = events("user.deactivate")
    assert event.actor_username == "adam"
    assert event.payload == {"reason": "left", "tokens_revoked": 1}


def test_reactivation_does_not_revive_old_sessions(api, adam, dana):
    old_browser = signed_in_as(dana)
    services.user_deactivate(actor=adam, user=dana)
    response = api.as_(adam).post(f"/api/v1/users/{dana.pk}/reactivate/")
    assert response.status_code == 200 and response.json()["is_active"] is True
    assert old_browser.get("/").status_code == 302
    signed_in_as(dana)  # a fresh sign-in works again
    assert len(events("user.reactivate")) == 1


def test_deactivating_twice_records_one_event(adam, dana):
    services.user_deactivate(actor=adam, user=dana)
    services.user_deactivate(actor=adam, user=dana)
    assert len(events("user.deactivate")) == 1


def test_an_administrator_cannot_deactivate_themselves(api, adam):
    response = api.as_(adam).post(f"/api/v1/users/{adam.pk}/deactivate/")
    assert response.status_code == 409
    assert "cannot deactivate your own account" in response.json()["detail"]
    adam.refresh_from_db()
    assert adam.is_active


def test_roles_are_granted_and_revoked(api, adam, dana):
    api.as_(adam)
    granted = api.post(f"/api/v1/users/{dana.pk}/grant-role/", {"role": Role.VALIDATOR})
    assert granted.status_code == 200
    assert granted.json()["roles"] == ["data_scientist", "validator"]
    api.post(f"/api/v1/users/{dana.pk}/grant-role/", {"role": Role.VALIDATOR})  # no-op
    revoked = api.post(f"/api/v1/users/{dana.pk}/revoke-role/", {"role": Role.DATA_SCIENTIST})
    assert revoked.json()["roles"] == ["validator"]
    assert User.objects.get(pk=dana.pk).roles == {"validator"}
    assert [e.payload for e in events("user.role_grant")] == [{"role": "validator"}]
    assert [e.payload for e in events("user.role_revoke")] == [{"role": "data_scientist"}]


def test_a_granted_role_takes_effect_on_the_next_request(api, adam, dana):
    browser = signed_in_as(dana)
    assert browser.get("/audit/").status_code == 403
    services.role_grant(actor=adam, user=dana, role=Role.AUDITOR)
    assert browser.get("/audit/").status_code == 200


def test_an_unknown_role_is_a_field_error(api, adam, dana):
    response = api.as_(adam).post(f"/api/v1/users/{dana.pk}/grant-role/", {"role": "superuser"})
    assert response.status_code == 400
    assert "role" in response.json()["fields"]


def test_an_administrator_creates_a_user_with_roles_and_teams(api, adam, teams):
    response = api.as_(adam).post("/api/v1/users/", {
        "username": "nina", "password": STRONG, "email": "nina@example.org",
        "roles": ["validator", "data_scientist"], "teams": ["credit"],
    })
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["roles"] == ["data_scientist", "validator"] and body["teams"] == ["credit"]
    assert "password" not in body
    nina = User.objects.get(username="nina")
    assert nina.check_password(STRONG)
    [event] = events("user.create")[-1:]
    assert event.actor_username == "adam" and event.payload["username"] == "nina"


@pytest.mark.parametrize(("data", "status", "field"), [
    ({"username": "nina", "password": "password"}, 400, "password"),
    ({"username": "nina", "password": "12345678901"}, 400, "password"),
    ({"username": "DANA", "password": STRONG}, 409, "username"),
    ({"username": "nina", "password": STRONG, "roles": ["root"]}, 400, "roles"),
    ({"username": "nina", "password": STRONG, "teams": ["nope"]}, 400, "teams"),
    ({"password": STRONG}, 400, "username"),
])
def test_user_creation_refuses_bad_input(api, adam, dana, data, status, field):
    before = AuditEvent.objects.count()
    response = api.as_(adam).post("/api/v1/users/", data)
    assert response.status_code == status
    assert field in response.json()["fields"]
    assert not User.objects.filter(username="nina").exists()
    assert AuditEvent.objects.count() == before


NON_ADMINS = ["dana", "frank", "victor", "rhea", "boris", "aude"]


@pytest.mark.parametrize("who", NON_ADMINS)
def test_only_administrators_manage_accounts(api, people, who):
    actor, dana = people[who], people["dana"]
    api.as_(actor)
    created = api.post("/api/v1/users/", {"username": "nina", "password": STRONG})
    assert created.status_code == 403
    assert created.json() == {"detail": "Only administrators can manage users, teams and roles.",
                              "code": "permission_denied", "fields": {}}
    # On an account the caller can see: 403 with the reason; on one they cannot: 404.
    for path, body in (("deactivate/", {}), ("reactivate/", {}),
                       ("grant-role/", {"role": "admin"}), ("revoke-role/", {"role": "admin"})):
        expected = 403 if who not in ("frank", "victor") else 404
        response = api.post(f"/api/v1/users/{dana.pk}/{path}", body)
        assert response.status_code == expected, (path, response.json())
    assert User.objects.get(pk=dana.pk).is_active
    assert not User.objects.filter(username="nina").exists()
    assert not User.objects.get(pk=actor.pk).has_role(Role.ADMIN)


def test_the_services_refuse_non_administrators_whatever_the_front_door(aude, dana):
    with pytest.raises(PermissionRefused):
        services.role_grant(actor=aude, user=dana, role=Role.ADMIN)
    with pytest.raises(PermissionRefused):
        services.user_deactivate(actor=dana, user=aude)
    with pytest.raises(PermissionRefused):
        services.team_create(actor=dana, name="Shadow team")


def test_a_deactivated_administrator_manages_nothing(adam, dana, aude):
    services.user_deactivate(actor=services.SYSTEM, user=adam)
    adam = User.objects.get(pk=adam.pk)
    with pytest.raises(PermissionRefused):
        services.role_grant(actor=adam, user=dana, role=Role.ADMIN)


# manage.py create_user / deactivate_user ---------------------------------------------------


def test_create_user_command_creates_an_audited_user(teams, capsys):
    call_command("create_user", "nina", "--role", "validator", "--role", "auditor",
                 "--team", "credit", "--email", "nina@example.org", "--password", STRONG)
    nina = User.objects.get(username="nina")
    assert nina.roles == {"validator", "auditor"}
    assert list(nina.teams.values_list("slug", flat=True)) == ["credit"]
    assert nina.check_password(STRONG)
    [event] = events("user.create")
    assert event.actor_id is None and event.payload["roles"] == ["auditor", "validator"]
    assert "Created user 'nina' (auditor, validator)." in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["nina", "--role", "wizard", "--password", STRONG], "Unknown role 'wizard'; choose from:"),
    (["dana", "--password", STRONG], "The username 'dana' is taken"),
    (["nina", "--password", "short"], "This password is too short."),
    (["nina", "--password", "password123"], "This password is too common."),
    (["nina", "--team", "nope", "--password", STRONG], "No team with slug 'nope'"),
])
def test_create_user_command_refuses_bad_input(dana, args, message):
    before = AuditEvent.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("create_user", *args)
    assert not User.objects.filter(username="nina").exists()
    assert AuditEvent.objects.count() == before


def test_create_user_command_without_a_terminal_asks_for_password_option(db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))  # noqa: SIM115
    with pytest.raises(CommandError, match="Give the password with --password"):
        call_command("create_user", "nina")


def test_create_user_command_exits_non_zero_on_error():
    """What a shell script sees: the message on stderr and exit status 1."""
    result = subprocess.run(
        [sys.executable, "manage.py", "create_user", "nina", "--role", "wizard",
         "--password", STRONG],
        cwd=settings.BASE_DIR, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert "Unknown role 'wizard'" in result.stderr


def test_deactivate_user_command(dana, capsys):
    browser = signed_in_as(dana)
    services.token_create(actor=dana, name="CI", expires_in_days=30)
    call_command("deactivate_user", "dana", "--reason", "left the company")
    assert not User.objects.get(pk=dana.pk).is_active
    assert ApiToken.objects.get(user=dana).status == "revoked"
    assert browser.get("/").status_code == 302
    [event] = events("user.deactivate")
    assert event.payload == {"reason": "left the company", "tokens_revoked": 1}
    assert "Deactivated 'dana'" in capsys.readouterr().out
    call_command("deactivate_user", "dana")  # again: a no-op, not an error
    assert len(events("user.deactivate")) == 1


def test_deactivate_user_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("deactivate_user", "ghost")


@pytest.mark.django_db
def test_administrators_change_team_membership_through_the_api(api, adam, dana, teams):
    from core.models import AuditEvent

    added = api.as_(adam).post(f"/api/v1/users/{dana.pk}/add-to-team/", {"team": "fraud"},
                               format="json")
    assert added.status_code == 200
    assert sorted(added.json()["teams"]) == ["credit", "fraud"]
    removed = api.as_(adam).post(f"/api/v1/users/{dana.pk}/remove-from-team/",
                                 {"team": "credit"}, format="json")
    assert removed.json()["teams"] == ["fraud"]
    assert AuditEvent.objects.filter(action__in=["team.add_member", "team.remove_member"]
                                     ).count() == 2
    refused = api.as_(dana).post(f"/api/v1/users/{dana.pk}/add-to-team/", {"team": "credit"},
                                 format="json")
    assert refused.status_code == 403
