"""Fixtures shared by every test: users per role and team (healthchecks' alice/bob/charlie style).

Teams: "credit" (the demo model's team) and "fraud". People:
  dana    data scientist, credit        frank   data scientist, fraud
  victor  validator (validation team)   rhea    risk officer
  boris   review board member           aude    auditor
  adam    administrator
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings

from core import services
from core.models import Role, Team, User

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True, scope="session")
def _isolated_files(tmp_path_factory):
    """Artifacts, keys and checkpoints of a test run live in a temporary folder of its own."""
    root = tmp_path_factory.mktemp(f"assay-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    settings.ARTIFACT_DIR = root / "artifacts"
    settings.KEY_DIR = root / "keys"
    settings.CHECKPOINT_FILE = root / "checkpoints.jsonl"
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def teams(db) -> dict[str, Team]:
    return {
        slug: services.team_create(actor=services.SYSTEM, name=slug.title(), slug=slug)
        for slug in ("credit", "fraud", "validation")
    }


def _user(username: str, roles: list[str], teams: list[Team]) -> User:
    return services.user_create(actor=services.SYSTEM, username=username, password=PASSWORD,
                                roles=roles, teams=teams, check_password=False,
                                email=f"{username}@example.org")


@pytest.fixture
def make_user(teams):
    def make(username: str, *roles: str, team: str | None = None) -> User:
        return _user(username, list(roles), [teams[team]] if team else [])
    return make


@pytest.fixture
def dana(teams) -> User:
    return _user("dana", [Role.DATA_SCIENTIST], [teams["credit"]])


@pytest.fixture
def frank(teams) -> User:
    return _user("frank", [Role.DATA_SCIENTIST], [teams["fraud"]])


@pytest.fixture
def victor(teams) -> User:
    return _user("victor", [Role.VALIDATOR], [teams["validation"]])


@pytest.fixture
def rhea(teams) -> User:
    return _user("rhea", [Role.RISK_OFFICER], [])


@pytest.fixture
def boris(teams) -> User:
    return _user("boris", [Role.REVIEW_BOARD], [])


@pytest.fixture
def aude(teams) -> User:
    return _user("aude", [Role.AUDITOR], [])


@pytest.fixture
def adam(teams) -> User:
    return _user("adam", [Role.ADMIN], [])


@pytest.fixture
def people(dana, frank, victor, rhea, boris, aude, adam) -> dict[str, User]:
    return {u.username: u for u in (dana, frank, victor, rhea, boris, aude, adam)}


@pytest.fixture
def api(client):
    """The Django test client speaking JSON, logged in with ``api.as_(user)``."""
    from rest_framework.test import APIClient

    c = APIClient()

    def as_(user: User) -> APIClient:
        c.force_authenticate(user=None)
        c.force_login(user)
        return c

    c.as_ = as_
    return c
