"""The application role may read and append to the audit trail, nothing more; triggers guard it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from core import audit, db_roles
from tests.conftest import as_login_role

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="roles and triggers are PostgreSQL's")


def _refused(sql: str) -> str:
    """Run ``sql`` in a savepoint; return the database's error message (fail if it worked)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    except DatabaseError as exc:
        return str(exc)
    pytest.fail(f"{sql!r} was allowed")


def test_the_suite_runs_as_the_application_role(db, app_role):
    current, session = db_roles.current_role()
    assert current == app_role
    assert session != app_role  # logged in as the superuser, switched with SET ROLE


def test_app_role_reads_and_appends(db, app_role):
    event = audit.atomic_record(action="test.append", payload={"ok": True})
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM core_auditevent")
        assert cursor.fetchone()[0] == 1
    assert event.seq == 1


@pytest.mark.parametrize("sql", [
    "UPDATE core_auditevent SET action = 'forged'",
    "DELETE FROM core_auditevent",
    "TRUNCATE core_auditevent",
    "ALTER TABLE core_auditevent DISABLE TRIGGER audit_refuse_update_delete",
    "ALTER TABLE core_auditevent DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_refuse_truncate ON core_auditevent",
    "CREATE OR REPLACE FUNCTION assay_audit_refuse_change() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    "ALTER TABLE core_auditevent DISABLE TRIGGER audit_require_next_link",
    "DROP TRIGGER audit_require_next_link ON core_auditevent",
    "CREATE OR REPLACE FUNCTION assay_audit_require_next_link() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    "SET session_replication_role = replica",
])
def test_app_role_cannot_change_or_unguard_the_trail(db, app_role, sql):
    audit.atomic_record(action="test.target")
    message = _refused(sql)
    assert "permission denied" in message or "must be owner" in message, message
    assert audit.verify_chain().ok


@pytest.mark.parametrize("sql,operation", [
    ("UPDATE core_auditevent SET action = 'forged'", "UPDATE"),
    ("DELETE FROM core_auditevent", "DELETE"),
    ("TRUNCATE core_auditevent", "TRUNCATE"),
])
def test_triggers_refuse_even_the_owner(db, sql, operation):
    audit.atomic_record(action="test.target")
    with as_login_role():
        message = _refused(sql)
    assert f"The audit trail is append-only: {operation} on table core_auditevent is refused" \
        in message
    assert audit.verify_chain().ok


def test_app_role_has_ordinary_rights_elsewhere(db, app_role, dana):
    """Normal DML on other tables (the services need it); no TRUNCATE anywhere."""
    from core.models import User

    assert User.objects.filter(pk=dana.pk).update(first_name="Dana") == 1
    assert "permission denied" in _refused("TRUNCATE core_team CASCADE")


def test_grant_app_role_is_idempotent_and_exact(db, app_role):
    with as_login_role():
        call_command("grant_app_role", role=app_role)
        call_command("grant_app_role", role=app_role, create=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND table_name = 'core_auditevent' ORDER BY 1", [app_role])
        assert [row[0] for row in cursor.fetchall()] == ["INSERT", "SELECT"]
        cursor.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND table_name = 'core_user' ORDER BY 1", [app_role])
        assert [row[0] for row in cursor.fetchall()] == ["DELETE", "INSERT", "SELECT", "UPDATE"]
    assert db_roles.current_role()[0] == app_role


def test_a_table_the_owner_creates_after_the_grant_is_usable_by_the_app_role(db, app_role):
    """createcachetable (or a later migrate) after grant_app_role must not lock the application
    out: the grant set the owner's default privileges (issue 11, item 9)."""
    with as_login_role(), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE assay_created_later (id bigserial PRIMARY KEY, x int)")
    with connection.cursor() as cursor:  # back as the application role
        cursor.execute("INSERT INTO assay_created_later (x) VALUES (1)")
        cursor.execute("UPDATE assay_created_later SET x = 2")
        cursor.execute("SELECT x FROM assay_created_later")
        assert cursor.fetchone() == (2,)
        cursor.execute("DELETE FROM assay_created_later")
    assert "permission denied" in _refused("TRUNCATE assay_created_later")


def test_the_default_privileges_are_exact_and_idempotent(db, app_role):
    with as_login_role():
        call_command("grant_app_role", role=app_role)
        call_command("grant_app_role", role=app_role)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT d.defaclobjtype, a.privilege_type FROM pg_default_acl d, "
                "aclexplode(d.defaclacl) a WHERE a.grantee = %s::regrole "
                "AND d.defaclnamespace = current_schema()::regnamespace ORDER BY 1, 2",
                [app_role])
            granted = cursor.fetchall()
    assert granted == [("S", "SELECT"), ("S", "USAGE"), ("r", "DELETE"), ("r", "INSERT"),
                       ("r", "SELECT"), ("r", "UPDATE")]
