"""Outcomes and overrides are joined to the prediction log by request id: an index on it.

The prediction log is large and the gateway's writer inserts into it all the time, so on
PostgreSQL the index is built concurrently (no lock that would hold the writer up); other
databases build it the ordinary way."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state,
                                                  to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state,
                                                   to_state)


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('serving', '0003_gateway_keys_log'),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='predictionlog',
            index=models.Index(fields=['request_id'], name='prediction_log_request'),
        ),
    ]
