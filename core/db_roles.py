"""Run every connection as the application role when ASSAY_DB_APP_ROLE is set (PostgreSQL).

The application role may SELECT and INSERT on the audit table but not UPDATE, DELETE or TRUNCATE
it, and since it does not own the table it cannot disable the triggers that guard it either.
Migrations run as the owner role (DATABASE_URL without ASSAY_DB_APP_ROLE).
"""

from __future__ import annotations

from django.conf import settings
from django.db.backends.signals import connection_created


def _switch_role(sender, connection, **kwargs) -> None:
    role = settings.DATABASE_APP_ROLE
    if role and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('role', %s, false)", [role])


def connect_signal() -> None:
    connection_created.connect(_switch_role, dispatch_uid="assay.db_app_role")
