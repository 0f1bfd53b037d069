"""The two PostgreSQL roles: the owner migrates, the application role runs Assay.

The owner (the role in DATABASE_URL when running ``migrate``) owns every table and the triggers
that refuse UPDATE, DELETE and TRUNCATE on the audit table (and any other table guarded by the
same trigger function, like the signed checkpoints). The application role may read and write
every other table but only SELECT and INSERT on the guarded ones; since it owns nothing it
can neither drop nor disable those triggers. ``grant_app_role`` (the management command) grants
exactly that, idempotently, and sets the owner's default privileges so that a table the owner
creates later (``createcachetable``, the next ``migrate``) is usable by the application at once:
the order of the release steps cannot lock the application out of a table. Run it after every
``migrate`` all the same, so that a new append-only table loses UPDATE and DELETE.

The web process and workers use the application role in one of two ways (docs/audit.md):
log in as it (its own DATABASE_URL; the stronger setup), or log in as the owner with
``ASSAY_DB_APP_ROLE`` set, and every new connection switches to the role with ``SET ROLE``.
The second is one connection string, but a session that can run arbitrary SQL could
``RESET ROLE``; it guards against mistakes, not against an attacker holding the connection.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

# The trigger function of migration core/0002: every table it guards (the audit trail, the signed
# checkpoints) is append-only, and the application role may only SELECT and INSERT on it.
GUARD_FUNCTION = "assay_audit_refuse_change"


def _switch_role(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    role = settings.DATABASE_APP_ROLE
    if role and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Session-level (is_local false) and run in autocommit: it outlives any transaction.
            cursor.execute("SELECT set_config('role', %s, false)", [role])


def connect_signal() -> None:
    connection_created.connect(_switch_role, dispatch_uid="assay.db_app_role")


def current_role(using: str = DEFAULT_DB_ALIAS) -> tuple[str, str]:
    """(current_user, session_user) of a PostgreSQL connection: who acts, and who logged in."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_user, session_user")
        row: tuple[str, str] = cursor.fetchone()
        return row


def can_manage_roles(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the login role may create roles (superuser or CREATEROLE)."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = session_user")
        row = cursor.fetchone()
    return bool(row and row[0])


def guarded_tables(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Tables whose triggers call the append-only guard (the audit trail, its checkpoints)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = %s AND NOT t.tgisinternal "
            "AND c.relnamespace = current_schema()::regnamespace ORDER BY 1", [GUARD_FUNCTION])
        return [row[0] for row in cursor.fetchall()]


def grant_app_role(*, role: str, create: bool = False, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Give ``role`` exactly the application's privileges on this database; return the SQL run.

    Idempotent: privileges on the current schema's tables and sequences are first revoked, then
    granted again (SELECT/INSERT/UPDATE/DELETE on tables, USAGE/SELECT on sequences), and UPDATE
    and DELETE are taken back on the append-only tables (those the guard trigger protects).
    TRUNCATE, TRIGGER and REFERENCES are never granted. The same privileges become the default
    for tables and sequences that the tables' owner (the owner of ``django_migrations``, the role
    that ran ``migrate``) creates in the schema later, so running ``createcachetable`` or a later
    ``migrate`` after this cannot leave the application without access (a new append-only table
    gets UPDATE and DELETE that way until the next run, which its guard trigger refuses anyway).
    ``create`` makes the role (NOLOGIN, for ``SET ROLE``) if it does not exist, and lets a
    non-superuser login role switch to it. Runs as the login role, whatever role the connection
    had switched to.
    """
    conn = connections[using]
    if conn.vendor != "postgresql":
        raise ValueError("Database roles exist only on PostgreSQL; embedded SQLite has none.")
    quoted = conn.ops.quote_name(role)
    statements: list[str] = []
    if create:
        # Concurrent creators (parallel test runs) race on the catalog: either error means "exists".
        statements.append(
            "DO $$ BEGIN CREATE ROLE " + quoted + " NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
    with conn.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SELECT current_schema(), rolsuper FROM pg_roles "
                       "WHERE rolname = session_user")
        schema, superuser = cursor.fetchone()
        cursor.execute("SELECT coalesce((SELECT tableowner FROM pg_tables WHERE schemaname = "
                       "current_schema() AND tablename = 'django_migrations'), session_user)")
        owner = conn.ops.quote_name(cursor.fetchone()[0])
    schema = conn.ops.quote_name(schema)
    defaults = f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}"
    if create and not superuser:
        statements.append(f"GRANT {quoted} TO SESSION_USER")
    statements += [
        f"GRANT USAGE ON SCHEMA {schema} TO {quoted}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {quoted}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {quoted}",
        f"{defaults} REVOKE ALL ON TABLES FROM {quoted}",
        f"{defaults} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
        f"{defaults} REVOKE ALL ON SEQUENCES FROM {quoted}",
        f"{defaults} GRANT USAGE, SELECT ON SEQUENCES TO {quoted}",
    ]
    for table in guarded_tables(using):
        statements.append(f"REVOKE ALL ON {conn.ops.quote_name(table)} FROM {quoted}")
        statements.append(f"GRANT SELECT, INSERT ON {conn.ops.quote_name(table)} TO {quoted}")
    if create:
        # CREATE ROLE cannot share a transaction with a concurrent creator's retry; run it alone.
        with conn.cursor() as cursor:
            cursor.execute(statements[0])
    with transaction.atomic(using=using), conn.cursor() as cursor:
        for statement in statements[1 if create else 0:]:
            cursor.execute(statement)
    return statements
