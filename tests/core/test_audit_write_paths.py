"""Every account write path yields exactly one audit event, whatever the front door.

Each test runs one path and asserts the single new event: its action, actor, object and payload.
(The registry's paths are tested with the registry.)
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.management import call_command

from core import audit, services
from core.models import ApiToken, AuditEvent, Role, Team, User
from tests.conftest import PASSWORD


def only_event(action: Callable[[], object]) -> AuditEvent:
    """Run ``action``; return the one event it recorded (fail on none or several)."""
    before = audit.chain_head()[0]
    action()
    new = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))
    assert len(new) == 1, [str(e) for e in new]
    assert audit.verify_chain().ok
    return new[0]


def assert_event(event: AuditEvent, action: str, actor: User | None, obj: object,
                 payload: dict) -> None:
    assert event.action == action
    assert (event.actor_id, event.actor_username) == (
        (actor.pk, actor.username) if actor else (None, ""))
    assert (event.object_type, event.object_id) == (obj._meta.label_lower, str(obj.pk))
    assert event.payload == payload


# --- Teams and users -------------------------------------------------------------------------

def test_team_create_in_the_admin(db, adam, client):
    client.force_login(adam)
    event = only_event(lambda: client.post("/admin/core/team/add/", {
        "name": "Market Risk", "slug": "market", "description": "", "_save": "Save"}))
    assert_event(event, "team.create", adam, Team.objects.get(slug="market"),
                 {"name": "Market Risk", "slug": "market"})


def test_user_create_through_the_api(db, adam, teams, api):
    client = api.as_(adam)
    event = only_event(lambda: client.post("/api/v1/users/", {
        "username": "nora", "password": "a long enough pass phrase", "email": "n@example.org",
        "roles": [Role.VALIDATOR], "teams": ["validation"]}, format="json"))
    assert_event(event, "user.create", adam, User.objects.get(username="nora"), {
        "username": "nora", "email": "n@example.org", "roles": [Role.VALIDATOR],
        "teams": ["validation"]})


def test_user_create_in_the_admin(db, adam, teams, client):
    client.force_login(adam)
    event = only_event(lambda: client.post("/admin/core/user/add/", {
        "username": "olga", "first_name": "", "last_name": "", "email": "o@example.org",
        "password": "a long enough pass phrase", "roles": [Role.AUDITOR],
        "teams": [teams["credit"].pk], "_save": "Save"}))
    assert_event(event, "user.create", adam, User.objects.get(username="olga"), {
        "username": "olga", "email": "o@example.org", "roles": [Role.AUDITOR],
        "teams": ["credit"]})


def test_user_create_by_command(db, teams):
    event = only_event(lambda: call_command(
        "create_user", "paul", "--role", Role.DATA_SCIENTIST, "--team", "fraud",
        "--password", "a long enough pass phrase", "--email", "p@example.org"))
    assert_event(event, "user.create", None, User.objects.get(username="paul"), {
        "username": "paul", "email": "p@example.org", "roles": [Role.DATA_SCIENTIST],
        "teams": ["fraud"]})


def test_role_grant_through_the_api(db, adam, dana, api):
    client = api.as_(adam)
    event = only_event(lambda: client.post(f"/api/v1/users/{dana.pk}/grant-role/",
                                           {"role": Role.VALIDATOR}, format="json"))
    assert_event(event, "user.role_grant", adam, dana, {"role": Role.VALIDATOR})


def test_role_revoke_through_the_api(db, adam, dana, api):
    client = api.as_(adam)
    event = only_event(lambda: client.post(f"/api/v1/users/{dana.pk}/revoke-role/",
                                           {"role": Role.DATA_SCIENTIST}, format="json"))
    assert_event(event, "user.role_revoke", adam, dana, {"role": Role.DATA_SCIENTIST})


def test_granting_a_role_already_held_records_nothing(db, adam, dana, api):
    before = audit.chain_head()
    api.as_(adam).post(f"/api/v1/users/{dana.pk}/grant-role/",
                       {"role": Role.DATA_SCIENTIST}, format="json")
    assert audit.chain_head() == before


def test_user_deactivate_in_the_admin(db, adam, dana, client):
    services.token_create(actor=dana, name="ci", expires_in_days=5)
    client.force_login(adam)
    event = only_event(lambda: client.post("/admin/core/user/", {
        "action": "deactivate", "_selected_action": [dana.pk]}))
    assert_event(event, "user.deactivate", adam, dana, {"reason": "", "tokens_revoked": 1})


def test_user_deactivate_through_the_api(db, adam, dana, api):
    client = api.as_(adam)
    event = only_event(lambda: client.post(f"/api/v1/users/{dana.pk}/deactivate/",
                                           {"reason": "left the bank"}, format="json"))
    assert_event(event, "user.deactivate", adam, dana,
                 {"reason": "left the bank", "tokens_revoked": 0})


def test_user_deactivate_by_command(db, dana):
    event = only_event(lambda: call_command("deactivate_user", "dana", "--reason", "leaver"))
    assert_event(event, "user.deactivate", None, dana, {"reason": "leaver", "tokens_revoked": 0})


def test_user_reactivate_through_the_api(db, adam, dana, api):
    services.user_deactivate(actor=adam, user=dana)
    client = api.as_(adam)
    event = only_event(lambda: client.post(f"/api/v1/users/{dana.pk}/reactivate/"))
    assert_event(event, "user.reactivate", adam, dana, {})


# --- API tokens ------------------------------------------------------------------------------

def _token_payload(token: ApiToken) -> dict:
    return {"name": token.name, "prefix": token.prefix,
            "expires_at": audit.format_time(token.expires_at)}


def test_token_create_through_the_api(db, dana, api):
    client = api.as_(dana)
    event = only_event(lambda: client.post("/api/v1/tokens/",
                                           {"name": "CI pipeline", "expires_in_days": 30},
                                           format="json"))
    token = ApiToken.objects.get(user=dana)
    assert_event(event, "token.create", dana, token, _token_payload(token))


def test_token_create_on_the_tokens_page(db, dana, client):
    client.force_login(dana)
    event = only_event(lambda: client.post("/account/tokens/",
                                           {"name": "notebook", "expires_in_days": 7}))
    token = ApiToken.objects.get(user=dana)
    assert_event(event, "token.create", dana, token, _token_payload(token))


def test_token_revoke_through_the_api(db, dana, api):
    token, _ = services.token_create(actor=dana, name="ci", expires_in_days=5)
    client = api.as_(dana)
    event = only_event(lambda: client.post(f"/api/v1/tokens/{token.pk}/revoke/"))
    assert_event(event, "token.revoke", dana, token, {"name": "ci", "prefix": token.prefix})


def test_token_revoke_on_the_tokens_page(db, dana, client):
    token, _ = services.token_create(actor=dana, name="ci", expires_in_days=5)
    client.force_login(dana)
    event = only_event(lambda: client.post(f"/account/tokens/{token.pk}/revoke/"))
    assert_event(event, "token.revoke", dana, token, {"name": "ci", "prefix": token.prefix})


def test_token_revoke_in_the_admin(db, adam, dana, client):
    token, _ = services.token_create(actor=dana, name="ci", expires_in_days=5)
    client.force_login(adam)
    event = only_event(lambda: client.post("/admin/core/apitoken/", {
        "action": "revoke", "_selected_action": [token.pk]}))
    assert_event(event, "token.revoke", adam, token, {"name": "ci", "prefix": token.prefix})


# --- Signing in and out ----------------------------------------------------------------------

def test_login(db, dana, client):
    event = only_event(lambda: client.post("/login/", {"username": "dana",
                                                       "password": PASSWORD}))
    assert_event(event, "auth.login", dana, dana, {"ip": "127.0.0.1"})


def test_logout(db, dana, client):
    client.force_login(dana)
    event = only_event(lambda: client.post("/logout/"))
    assert_event(event, "auth.logout", dana, dana, {})


def test_logout_from_the_admin(db, adam, client):
    client.force_login(adam)
    event = only_event(lambda: client.post("/admin/logout/"))
    assert_event(event, "auth.logout", adam, adam, {})


def test_request_id_is_in_the_event_and_the_response(db, dana, client):
    client.force_login(dana)
    before = audit.chain_head()[0]
    response = client.post("/logout/", HTTP_X_REQUEST_ID="req-12345678")
    assert response["X-Request-ID"] == "req-12345678"
    event = AuditEvent.objects.get(seq__gt=before)
    assert (event.action, event.request_id) == ("auth.logout", "req-12345678")
