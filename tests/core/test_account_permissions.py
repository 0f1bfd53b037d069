"""The account-level role matrix, as tables: who lists which users, who opens the admin, who
browses the audit trail, and what the navigation offers each role."""

from __future__ import annotations

import pytest

from core.models import Role

EVERYONE = {"dana", "frank", "victor", "rhea", "boris", "aude", "adam", "carl"}

# Who appears in GET /api/v1/users/ for each caller. carl is a second member of the credit team.
USER_LIST = {
    "dana": {"dana", "carl"},      # her team's members
    "carl": {"dana", "carl"},
    "frank": {"frank"},            # alone in fraud
    "victor": {"victor"},          # alone in validation
    "rhea": EVERYONE,              # risk officer sees everything
    "boris": EVERYONE,             # review board sees everything
    "aude": EVERYONE,              # auditor sees everything
    "adam": EVERYONE,              # administrator sees everything
}

# (admin site, audit trail page, audit link in nav, admin link in nav)
PAGES = {
    "dana": (403, 403, False, False),
    "frank": (403, 403, False, False),
    "victor": (403, 403, False, False),
    "rhea": (403, 200, True, False),  # risk officers read the audit trail
    "boris": (403, 403, False, False),
    "aude": (200, 200, True, True),
    "adam": (200, 200, True, True),
}


@pytest.fixture
def everyone(people, make_user):
    return {**people, "carl": make_user("carl", Role.DATA_SCIENTIST, team="credit")}


@pytest.mark.parametrize(("who", "expected"), USER_LIST.items())
def test_who_lists_which_users(api, everyone, who, expected):
    response = api.as_(everyone[who]).get("/api/v1/users/?page_size=200")
    assert response.status_code == 200
    assert {u["username"] for u in response.json()["results"]} == expected


@pytest.mark.parametrize(("who", "expected"), USER_LIST.items())
def test_a_user_outside_the_list_is_a_404(api, everyone, who, expected):
    api.as_(everyone[who])
    for username, user in everyone.items():
        status = api.get(f"/api/v1/users/{user.pk}/").status_code
        assert status == (200 if username in expected else 404), username


def test_a_deactivated_colleague_is_still_listed_as_inactive(api, everyone):
    from core import services

    services.user_deactivate(actor=everyone["adam"], user=everyone["carl"])
    listed = api.as_(everyone["dana"]).get("/api/v1/users/").json()["results"]
    assert {u["username"]: u["is_active"] for u in listed} == {"carl": False, "dana": True}


@pytest.mark.parametrize(("who", "row"), PAGES.items())
def test_admin_and_audit_trail_by_role(client, people, who, row):
    admin_status, audit_status, _, _ = row
    client.force_login(people[who])
    response = client.get("/admin/", follow=True)
    assert response.status_code == admin_status
    audit = client.get("/audit/")
    assert audit.status_code == audit_status
    if audit_status == 403:
        assert "Only auditors, risk officers and administrators can read" in (
            audit.content.decode())


@pytest.mark.parametrize(("who", "row"), PAGES.items())
def test_navigation_by_role(client, people, who, row):
    _, _, audit_link, admin_link = row
    client.force_login(people[who])
    page = client.get("/").content.decode()
    assert ('href="/audit/"' in page) is audit_link
    assert ('href="/admin/"' in page) is admin_link
    assert ('<span class="badge">read-only</span>' in page) is (who == "aude")


def test_anonymous_visitors_see_none_of_it(client, db):
    assert client.get("/audit/").url == "/login/?next=/audit/"
    assert client.get("/api/v1/users/").status_code == 401
    page = client.get("/login/").content.decode()
    assert 'href="/admin/"' not in page and "Sign out" not in page
