"""Sign-offs a tier change restarted stay as rows, marked invalidated_at, so one signer may sign
the version again (issue 11); and evidence recorded by anyone but the version's validator counts
as authorship of the version (registry.VersionAuthor), filled for existing evidence."""

from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import Coalesce


def backfill(apps, schema_editor) -> None:
    Evidence = apps.get_model("governance", "Evidence")
    VersionGovernance = apps.get_model("governance", "VersionGovernance")
    VersionAuthor = apps.get_model("registry", "VersionAuthor")
    validators = dict(VersionGovernance.objects.values_list("version_id", "validator_id"))
    # Whoever supplied the evidence: the person who recorded it, or for a run's evidence (recorded
    # by Assay) the person who launched the run.
    suppliers = Evidence.objects.annotate(
        supplier=Coalesce("recorded_by_id", "launched_by_id")).filter(supplier__isnull=False)
    rows = {(version_id, user_id) for version_id, user_id in suppliers.values_list(
        "version_id", "supplier") if user_id != validators.get(version_id)}
    VersionAuthor.objects.bulk_create(
        [VersionAuthor(version_id=v, user_id=u, kind="evidence") for v, u in sorted(rows)],
        ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('governance', '0008_evidence_gate_policy_revision_2'),
        ('registry', '0004_version_authors'),
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
