"""Guard the audit table on PostgreSQL and add the security-event counters.

Triggers refuse UPDATE and DELETE (per row) and TRUNCATE (per statement) on ``core_auditevent``
for every role, the owner included; the application role additionally lacks those privileges
(``manage.py grant_app_role``) and, not owning the table, cannot disable the triggers. SQLite
(embedded mode) gets no triggers: the chain is still written and verified there.
"""

from django.db import migrations, models

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION assay_audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'The audit trail is append-only: % on table % is refused.', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'Audit events can only be added, never changed or removed (docs/audit.md).';
END
$$;
"""

FORWARD = [
    REFUSE_FUNCTION,
    "CREATE TRIGGER audit_refuse_update_delete BEFORE UPDATE OR DELETE ON core_auditevent "
    "FOR EACH ROW EXECUTE FUNCTION assay_audit_refuse_change();",
    "CREATE TRIGGER audit_refuse_truncate BEFORE TRUNCATE ON core_auditevent "
    "FOR EACH STATEMENT EXECUTE FUNCTION assay_audit_refuse_change();",
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_refuse_truncate ON core_auditevent;",
    "DROP TRIGGER IF EXISTS audit_refuse_update_delete ON core_auditevent;",
    "DROP FUNCTION IF EXISTS assay_audit_refuse_change();",
]


def _run(statements: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return  # embedded SQLite: no triggers (see docs/audit.md)
        for statement in statements:
            schema_editor.execute(statement, params=None)  # the SQL holds literal % signs
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False),
        migrations.CreateModel(
            name="SecurityEventCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("action", models.CharField(max_length=64)),
                ("principal", models.CharField(max_length=150)),
                ("reason", models.CharField(max_length=64)),
                ("minute", models.DateTimeField()),
                ("count", models.PositiveIntegerField(default=0)),
                ("recorded", models.PositiveIntegerField(default=0)),
                ("actor_id", models.BigIntegerField(blank=True, null=True)),
                ("actor_username", models.CharField(blank=True, max_length=150)),
                ("payload", models.JSONField(default=dict)),
            ],
            options={
                "indexes": [models.Index(fields=["minute"], name="security_counter_minute")],
                "constraints": [models.UniqueConstraint(
                    fields=("action", "principal", "reason", "minute"),
                    name="security_counter_key")],
            },
        ),
    ]
