"""Fixtures shared by every test: users per role and team (healthchecks' alice/bob/charlie style).

Teams: "credit" (the demo model's team) and "fraud". People:
  dana    data scientist, credit        frank   data scientist, fraud
  victor  validator (validation team)   rhea    risk officer
  boris   review board member           aude    auditor
  adam    administrator
"""

from __future__ import annotations

import contextlib
import os
import shutil

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import TestCase, TransactionTestCase

from core import db_roles, services
from core.models import Role, Team, User

PASSWORD = "correct horse battery staple"

# The OpenID Connect provider of the single sign-on tests (idp_server, idp, sso), for tests/sso and
# the sign-off and browser tests that sign in through it.
pytest_plugins = ["tests.sso.idp"]


@pytest.fixture(autouse=True, scope="session")
def _isolated_files(tmp_path_factory):
    """The artifact store of a test run lives in a temporary folder of its own."""
    root = tmp_path_factory.mktemp(f"assay-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    settings.ARTIFACT_DIR = root / "artifacts"
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def own_files(settings, tmp_path):
    """Each test gets its own signing-key folder and checkpoint file.

    The database rolls back per test but files do not: a shared checkpoint file would carry one
    test's signed checkpoints into the next test's verification.
    """
    settings.KEY_DIR = tmp_path / "keys"
    settings.CHECKPOINT_FILE = tmp_path / "checkpoints.jsonl"
    return tmp_path


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


def approve_policy(pv):
    """Four-eyes: a drafted policy version becomes current by someone other than its drafter;
    here a second administrator, Adele, approves it."""
    from governance import services as governance

    second = User.objects.filter(username="adele").first() or _user("adele", [Role.ADMIN], [])
    return governance.policy_version_make_current(actor=second, policy_version=pv)


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


# --- Database roles (issue 4) -----------------------------------------------------------------
# The suite runs as the application role, like production: pytest-django's django_db_setup creates
# and migrates the test database as the login role (the superuser), then every new connection
# switches to TEST_APP_ROLE, which may only SELECT and INSERT on the audit table. Where the login
# role may not create roles, the suite runs as the login role and the role tests skip.
#
# Transactional tests end with Django's flush: TRUNCATE of every table. The application role may
# not truncate, and the append-only guard (audit trail, checkpoints) refuses TRUNCATE to everyone,
# so that teardown runs as the login role and disables the guard inside the flush's own
# transaction: no other session ever sees a table unguarded. Tests using `db` roll back instead;
# after the rollback they clear the security-event counters that record_security committed beside
# the test's transaction.

TEST_APP_ROLE = "assay_app_test"


def _flush_as_login_role(self) -> None:
    if connection.vendor != "postgresql":
        _original_fixture_teardown(self)
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        guarded = [connection.ops.quote_name(t) for t in db_roles.guarded_tables()]
        for table in guarded:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        _original_fixture_teardown(self)
        for table in guarded:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    connection.close()  # the next connection switches to the application role again


_original_fixture_teardown = TransactionTestCase._fixture_teardown
_original_rollback_teardown = TestCase._fixture_teardown


def _rollback_and_forget_security_counts(self) -> None:
    """A security event recorded inside a test's transaction is counted through a connection of
    its own, which commits (core.audit.record_security); clear those counts after the rollback
    so that they do not surface as folded events in a later test."""
    _original_rollback_teardown(self)
    from core.models.audit import SecurityEventCounter

    SecurityEventCounter.objects.all().delete()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Migrate as the superuser (pytest-django, above), then run as the application role."""
    with django_db_blocker.unblock():
        enabled = connection.vendor == "postgresql" and db_roles.can_manage_roles()
        if enabled:
            db_roles.grant_app_role(role=TEST_APP_ROLE, create=True)
        connections.close_all()
    if enabled:
        settings.DATABASE_APP_ROLE = TEST_APP_ROLE
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TransactionTestCase, "_fixture_teardown", _flush_as_login_role)
        patch.setattr(TestCase, "_fixture_teardown", _rollback_and_forget_security_counts)
        yield
    settings.DATABASE_APP_ROLE = None
    with django_db_blocker.unblock():
        connections.close_all()  # dropping the test database needs the login role


@pytest.fixture
def app_role() -> str:
    """The role the suite runs as; skips the test where roles could not be set up."""
    if not settings.DATABASE_APP_ROLE:
        pytest.skip("the test database's login role cannot create the application role")
    return settings.DATABASE_APP_ROLE


@contextlib.contextmanager
def as_login_role():
    """Run the block as the login role (the superuser), then switch back to the app role."""
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    try:
        yield
    finally:
        if settings.DATABASE_APP_ROLE:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('role', %s, false)",
                               [settings.DATABASE_APP_ROLE])


# --- Notification emails ----------------------------------------------------------------------
# Governance queues each notification's email for a Celery worker once the transaction commits
# (governance.services.notifications.notification_email_queue). In tests the queued ids wait here
# instead of going to RabbitMQ, where no worker of this test run would take them; a test runs
# the email task on them (``queued_emails.run()``), as the worker would. One end-to-end test
# sends them through the real broker to a real worker (``queued_emails.use_broker()``).


class QueuedEmails:
    """Notification ids whose email was queued, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from governance.services import notifications

        self.ids: list[int] = []
        self._monkeypatch, self._notifications = monkeypatch, notifications
        self._to_broker = notifications.notification_email_queue
        monkeypatch.setattr(notifications, "notification_email_queue", self.ids.append)

    def run(self) -> int:
        """Run the email task on every queued id (emptying the queue); returns how many sent."""
        from governance.tasks import send_notification_email

        ids, self.ids[:] = list(self.ids), []
        return sum(bool(send_notification_email(pk)) for pk in ids)

    def use_broker(self) -> None:
        """Queue emails on the real broker from now on, as production does."""
        self._monkeypatch.setattr(self._notifications, "notification_email_queue",
                                  self._to_broker)


@pytest.fixture(autouse=True)
def queued_emails(monkeypatch) -> QueuedEmails:
    return QueuedEmails(monkeypatch)
