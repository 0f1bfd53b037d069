"""Grant the application role exactly its privileges (idempotent; run after every migrate)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from core import db_roles


class Command(BaseCommand):
    help = ("Give the PostgreSQL application role SELECT/INSERT/UPDATE/DELETE on every table, "
            "USAGE/SELECT on sequences, and only SELECT/INSERT on the audit table. Run it as the "
            "owner role after each migrate.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", default=None,
                            help="The application role (default: ASSAY_DB_APP_ROLE).")
        parser.add_argument("--create", action="store_true",
                            help="Create the role (NOLOGIN, for SET ROLE) if it does not exist.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, role: str | None, create: bool, database: str,
               **options: Any) -> None:
        role = role or settings.DATABASE_APP_ROLE
        if not role:
            raise CommandError("Name the role: --role assay_app (or set ASSAY_DB_APP_ROLE).")
        if connections[database].vendor != "postgresql":
            raise CommandError("Database roles exist only on PostgreSQL; embedded SQLite mode "
                               "has no roles to grant.")
        try:
            statements = db_roles.grant_app_role(role=role, create=create, using=database)
        except DatabaseError as exc:
            raise CommandError(
                f"Could not grant privileges to {role!r}: {str(exc).strip()}. Run this as the "
                f"owner of the tables (the role that ran migrate)"
                + ("" if create else ", and create the role first or pass --create") + "."
            ) from exc
        for statement in statements:
            self.stdout.write(statement)
        self.stdout.write(self.style.SUCCESS(f"Role {role} may read and write Assay's tables, "
                                             f"and only read and append to the audit trail."))
