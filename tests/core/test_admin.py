"""The Django admin under Assay's rules: administrators manage through the services, auditors
read, everyone else is kept out, and the audit trail is read-only for all."""

from __future__ import annotations

import pytest

from core import services
from core.models import AuditEvent, Role, User

STRONG = "violet-kettle-harbour-42"


def add_user_form(**overrides) -> dict:
    return {"username": "nina", "first_name": "Nina", "last_name": "Nowak",
            "email": "nina@example.org", "password": STRONG,
            "roles": [Role.VALIDATOR], "_save": "Save", **overrides}


def test_an_administrator_opens_the_admin(client, adam):
    client.force_login(adam)
    index = client.get("/admin/")
    assert index.status_code == 200
    for path in ("/admin/core/user/", "/admin/core/team/", "/admin/core/apitoken/",
                 "/admin/core/auditevent/", "/admin/core/user/add/"):
        assert client.get(path).status_code == 200, path


def test_an_administrator_creates_a_user_through_the_service(client, adam, teams):
    client.force_login(adam)
    before = AuditEvent.objects.count()
    response = client.post("/admin/core/user/add/",
                           add_user_form(teams=[teams["credit"].pk, teams["fraud"].pk]))
    assert response.status_code == 302, response.content.decode()[:2000]
    nina = User.objects.get(username="nina")
    assert response.url == "/admin/core/user/"  # the change page is read-only
    assert nina.roles == {"validator"}
    assert sorted(nina.teams.values_list("slug", flat=True)) == ["credit", "fraud"]
    assert nina.check_password(STRONG)
    # Exactly one audit event: the service's, with the admin as actor.
    [event] = AuditEvent.objects.filter(seq__gt=before)
    assert (event.action, event.actor_username) == ("user.create", "adam")
    assert event.payload["roles"] == ["validator"] and event.payload["teams"] == ["credit", "fraud"]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"password": "password"}, "This password is too common."),
    ({"password": "abc"}, "This password is too short."),
    ({"username": "DANA"}, "The username &#x27;DANA&#x27; is taken; choose another."),
])
def test_a_refused_creation_is_shown_on_the_form_and_changes_nothing(client, adam, dana,
                                                                      overrides, message):
    """The service's refusal is a form error with the input kept, not an error page."""
    client.force_login(adam)
    before = AuditEvent.objects.count()
    response = client.post("/admin/core/user/add/", add_user_form(**overrides))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert 'value="Nowak"' in page  # what was typed is still there
    assert not User.objects.filter(username="nina").exists()
    assert User.objects.filter(username__iexact="dana").count() == 1
    assert AuditEvent.objects.count() == before


def test_an_administrator_deactivates_through_the_admin_action(client, adam, dana):
    client.force_login(adam)
    response = client.post("/admin/core/user/", {"action": "deactivate",
                                                 "_selected_action": [dana.pk]})
    assert response.status_code == 302
    assert not User.objects.get(pk=dana.pk).is_active
    assert AuditEvent.objects.filter(action="user.deactivate", actor_username="adam").count() == 1


def test_the_user_change_page_is_read_only_even_for_administrators(client, adam, dana):
    """Changes go through actions, the API and commands, each a service call."""
    client.force_login(adam)
    assert client.get(f"/admin/core/user/{dana.pk}/change/").status_code == 200
    response = client.post(f"/admin/core/user/{dana.pk}/change/", {"username": "dana2"})
    assert response.status_code == 403
    assert User.objects.filter(username="dana").exists()


def test_an_auditor_views_but_cannot_change_add_or_delete(client, aude, dana, adam):
    client.force_login(aude)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/core/user/").status_code == 200
    assert client.get(f"/admin/core/user/{dana.pk}/change/").status_code == 200  # view only
    assert client.get("/admin/core/user/add/").status_code == 403
    assert client.post("/admin/core/user/add/", add_user_form()).status_code == 403
    assert client.post(f"/admin/core/user/{dana.pk}/change/", {"username": "x"}).status_code == 403
    assert client.post(f"/admin/core/user/{dana.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/core/team/add/").status_code == 403
    # The account actions are not offered to auditors, and posting one anyway does nothing.
    listing = client.get("/admin/core/user/").content.decode()
    assert "Deactivate (ends sessions, revokes tokens)" not in listing
    client.post("/admin/core/user/", {"action": "deactivate", "_selected_action": [dana.pk]})
    assert User.objects.get(pk=dana.pk).is_active
    assert not User.objects.filter(username="nina").exists()
    assert not AuditEvent.objects.filter(action__startswith="user.").exclude(
        action="user.create").exists()


def test_an_auditor_cannot_revoke_someone_elses_token_in_the_admin(client, aude, dana):
    row, _ = services.token_create(actor=dana, name="CI", expires_in_days=3)
    client.force_login(aude)
    client.post("/admin/core/apitoken/", {"action": "revoke", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.revoked_at is None


@pytest.mark.parametrize("who", ["dana", "victor", "rhea", "boris"])
def test_other_roles_are_kept_out_of_the_admin_with_a_reason(client, people, who):
    client.force_login(people[who])
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
    refused = client.get(response.url)
    assert refused.status_code == 403
    assert "The admin site is for administrators and auditors" in refused.content.decode()
    assert client.get("/admin/core/user/").status_code == 302


def test_anonymous_visitors_sign_in_on_assays_own_throttled_page(client, db):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1] == ("/login/?next=/admin/", 302)


def test_the_admin_login_form_is_not_a_second_door(client, adam):
    """Posting credentials to the admin's login does not sign in: it bypasses no throttle."""
    from tests.conftest import PASSWORD

    response = client.post("/admin/login/", {"username": "adam", "password": PASSWORD})
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert client.get("/").status_code == 302


def test_an_open_redirect_through_the_admin_login_is_refused(client, db):
    response = client.get("/admin/login/?next=https://evil.example/")
    assert response.url == "/login/?next=/admin/"


def test_signing_out_of_the_admin_is_recorded(client, adam):
    client.force_login(adam)
    response = client.post("/admin/logout/")
    assert response.status_code == 302 and response.url == "/login/"
    assert client.get("/admin/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.logout", actor_username="adam").exists()


@pytest.mark.parametrize("who", ["adam", "aude"])
def test_the_audit_event_admin_is_read_only_for_everyone(client, people, who):
    services.team_create(actor=people["adam"], name="Markets")
    event = AuditEvent.objects.get(action="team.create", payload__name="Markets")
    client.force_login(people[who])
    assert client.get("/admin/core/auditevent/").status_code == 200
    detail = client.get(f"/admin/core/auditevent/{event.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert client.get("/admin/core/auditevent/add/").status_code == 403
    assert client.post(f"/admin/core/auditevent/{event.pk}/change/",
                       {"action": "tampered"}).status_code == 403
    assert client.post(f"/admin/core/auditevent/{event.pk}/delete/",
                       {"post": "yes"}).status_code == 403
    listing = client.get("/admin/core/auditevent/").content.decode()
    assert "delete_selected" not in listing
    event.refresh_from_db()
    assert event.action == "team.create"


def test_an_administrator_creates_a_team_through_the_service(client, adam):
    client.force_login(adam)
    response = client.post("/admin/core/team/add/", {"name": "Markets", "slug": "",
                                                     "description": "", "_save": "Save"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="team.create", actor_username="adam").count() == 1
    duplicate = client.post("/admin/core/team/add/", {"name": "Markets", "slug": "",
                                                      "description": "", "_save": "Save"})
    assert duplicate.status_code == 200
    assert "A team named &#x27;Markets&#x27; (slug &#x27;markets&#x27;) already exists" in (
        duplicate.content.decode())
