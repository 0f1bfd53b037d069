"""Sign-offs a tier change restarted stay as rows, marked invalidated_at, so one signer may sign
the version again (issue 11); and evidence recorded by anyone but the version's validator counts
as authorship of the version (registry.VersionAuthor), filled for existing evidence."""

from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor) -> None:
    Evidence = apps.get_model("governance", "Evidence")
    VersionGovernance = apps.get_model("governance", "VersionGovernance")
    VersionAuthor = apps.get_model("registry", "VersionAuthor")
    validators = dict(VersionGovernance.objects.values_list("version_id", "validator_id"))
    rows = {(version_id, user_id) for version_id, user_id in Evidence.objects.filter(
        recorded_by__isnull=False).values_list("version_id", "recorded_by_id")
        if user_id != validators.get(version_id)}
    VersionAuthor.objects.bulk_create(
        [VersionAuthor(version_id=v, user_id=u, kind="evidence") for v, u in sorted(rows)],
        ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('governance', '0006_waiver_revoked_source'),
        ('registry', '0003_version_authors'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='signoff',
            name='one_signoff_per_signer',
        ),
        migrations.AddField(
            model_name='signoff',
            name='invalidated_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name='signoff',
            constraint=models.UniqueConstraint(condition=models.Q(('invalidated_at__isnull', True)), fields=('version', 'signer'), name='one_standing_signoff_per_signer'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
