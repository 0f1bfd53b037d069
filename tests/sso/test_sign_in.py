"""Single sign-on against a real OpenID Connect provider (oidc-provider on Node.js, loopback):
accounts are created and re-synced from the provider's groups at each sign-in, deactivated and
unmapped people are refused with a page saying why, and password sign-in is left to the
break-glass administrators while API tokens keep working."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from core import services
from core.audit import SYSTEM
from core.models import AuditEvent, Role, User
from tests.conftest import PASSWORD
from tests.sso.idp import sign_in_with_sso

pytestmark = pytest.mark.django_db


def roles_and_teams(username: str) -> tuple[set[str], set[str]]:
    user = User.objects.get(username=username)
    return set(user.role_grants.values_list("role", flat=True)), set(
        user.teams.values_list("slug", flat=True))


def test_the_sign_in_request_uses_pkce_state_and_nonce(client, sso):
    response = client.get("/sso/login/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}" == sso.issuer
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["state"] and query["nonce"]
    assert query["redirect_uri"] == ["http://testserver/sso/callback/"]


def test_first_sign_in_creates_the_account_with_the_mapped_roles_and_teams(client, sso, teams):
    response = sign_in_with_sso(client, sso, "vera")

    assert response.status_code == 302 and response["Location"] == "/"
    vera = User.objects.get(username="vera")
    assert vera.oidc_subject == "idp-0001-vera"
    assert (vera.email, vera.first_name, vera.last_name) == ("vera@bank.example", "Vera", "Lind")
    assert not vera.has_usable_password()
    assert roles_and_teams("vera") == ({Role.VALIDATOR}, {"credit"})
    assert client.get("/").status_code == 200
    actions = list(AuditEvent.objects.filter(object_id=str(vera.pk), object_type="core.user")
                   .values_list("action", flat=True))
    assert {"user.create", "user.sso_link", "user.role_grant", "auth.login"} <= set(actions)


def test_the_next_sign_in_resyncs_roles_and_teams_from_the_groups(client, sso, teams):
    sign_in_with_sso(client, sso, "vera")
    sso.set_groups("vera", ["mrm-risk", "fraud-modellers"])
    client.logout()

    response = sign_in_with_sso(client, sso, "vera")

    assert response.status_code == 302
    assert roles_and_teams("vera") == ({Role.RISK_OFFICER}, {"fraud"})
    sync = AuditEvent.objects.filter(action="user.sso_sync").latest("seq")
    assert sync.payload["groups"] == ["fraud-modellers", "mrm-risk"]
    assert sorted(sync.payload["changes"]) == sorted([
        "granted risk officer", "took validator", "added to Fraud", "removed from Credit"])
    assert AuditEvent.objects.filter(action="user.role_revoke", payload__role="validator").exists()


def test_a_team_named_in_the_map_that_does_not_exist_yet_is_created(client, sso):
    sign_in_with_sso(client, sso, "vera")

    assert roles_and_teams("vera")[1] == {"credit"}
    assert AuditEvent.objects.filter(action="team.create", payload__slug="credit").exists()


def test_a_deactivated_account_is_refused_with_a_page_saying_so(client, sso, teams):
    sign_in_with_sso(client, sso, "vera")
    client.logout()
    services.user_deactivate(actor=SYSTEM, user=User.objects.get(username="vera"))

    response = sign_in_with_sso(client, sso, "vera")

    assert response.status_code == 403
    assert "Your Assay account is deactivated" in response.content.decode()
    assert client.get("/").status_code == 302  # not signed in
    assert roles_and_teams("vera") == ({Role.VALIDATOR}, {"credit"})  # nothing re-synced


def test_someone_whose_groups_map_to_no_role_gets_the_no_role_page(client, sso):
    response = sign_in_with_sso(client, sso, "nora")

    assert response.status_code == 403
    page = response.content.decode()
    assert "none of your groups (canteen-committee) gives a role in Assay" in page
    assert "mrm-validators" in page
    assert not User.objects.filter(username="nora").exists()
    assert client.get("/").status_code == 302


def test_someone_who_loses_every_mapped_group_loses_the_roles_and_is_refused(client, sso, teams):
    sign_in_with_sso(client, sso, "vera")
    client.logout()
    sso.set_groups("vera", [])

    response = sign_in_with_sso(client, sso, "vera")

    assert response.status_code == 403
    assert roles_and_teams("vera") == (set(), set())


def test_a_default_role_lets_unmapped_people_in_with_least_privilege(client, sso, settings):
    settings.OIDC_DEFAULT_ROLES = [Role.AUDITOR]

    assert sign_in_with_sso(client, sso, "nora").status_code == 302
    assert roles_and_teams("nora") == ({Role.AUDITOR}, set())


def test_a_wrong_password_at_the_provider_signs_nobody_in(client, sso):
    start = client.get("/sso/login/")
    with pytest.raises(AssertionError, match="401"):
        sso.sign_in(start["Location"], "vera", "not-her-password")
    assert not User.objects.filter(username="vera").exists()


def test_an_existing_local_account_is_linked_by_username_at_its_first_sign_in(
        client, sso, boris):
    sign_in_with_sso(client, sso, "boris")

    boris.refresh_from_db()
    assert boris.oidc_subject == "idp-0002-boris"
    assert roles_and_teams("boris") == ({Role.REVIEW_BOARD}, set())
    assert AuditEvent.objects.filter(action="user.sso_link", object_id=str(boris.pk)).exists()


def test_the_login_page_offers_the_provider_and_hides_the_password_form(client, sso):
    page = client.get("/login/").content.decode()

    assert "Sign in with Test IdP" in page
    assert 'type="password"' not in page
    assert "Break-glass administrator sign-in" in page
    assert 'type="password"' in client.get("/login/?break_glass=1").content.decode()


def test_password_sign_in_is_refused_to_everyone_but_break_glass_administrators(
        client, sso, make_user):
    make_user("victoria", Role.VALIDATOR)
    make_user("rescue", Role.ADMIN)

    refused = client.post("/login/?break_glass=1", {"username": "victoria",
                                                    "password": PASSWORD})
    assert refused.status_code == 200
    assert "Password sign-in is off: sign in with Test IdP" in refused.content.decode()
    assert client.get("/").status_code == 302

    allowed = client.post("/login/?break_glass=1", {"username": "rescue", "password": PASSWORD})
    assert allowed.status_code == 302
    assert client.get("/").status_code == 200


def test_a_break_glass_account_is_never_signed_in_through_the_provider(client, sso, make_user):
    make_user("rescue", Role.ADMIN)

    response = sign_in_with_sso(client, sso, "rescue")

    assert response.status_code == 403
    assert "break-glass administrator" in response.content.decode()


def test_api_tokens_keep_working_for_people_of_single_sign_on(client, sso, teams):
    sign_in_with_sso(client, sso, "vera")
    vera = User.objects.get(username="vera")
    _, token = services.token_create(actor=vera, name="pipeline", expires_in_days=30)
    client.logout()

    response = client.get("/api/v1/models/", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200


def test_without_configuration_single_sign_on_is_off(client, db):
    assert client.get("/sso/login/").status_code == 404
    page = client.get("/login/").content.decode()
    assert "Sign in with" not in page and 'type="password"' in page


def test_the_start_up_check_names_unknown_roles_and_a_missing_client(settings, sso):
    from core.sso.checks import sso_settings

    assert sso_settings() == []
    settings.OIDC_GROUP_ROLES = {"mrm-wizards": ["wizard"]}
    settings.OIDC_RP_CLIENT_SECRET = ""

    messages = [message.msg for message in sso_settings()]

    assert any("ASSAY_OIDC_CLIENT_SECRET" in message for message in messages)
    assert any("unknown roles (wizard)" in message for message in messages)


def test_a_provider_that_does_not_answer_gets_a_clear_503_page(client, sso, settings):
    settings.OIDC_ISSUER = "http://127.0.0.1:9"  # nothing listens on the discard port

    response = client.get("/sso/login/")

    assert response.status_code == 503
    page = response.content.decode()
    assert "The identity provider Test IdP does not answer" in page
    assert "break-glass account can still sign in with their password" in page
