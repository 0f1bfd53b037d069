"""Record who owned, developed and submitted each version at submission (independence is judged
against them too). Cases opened before this know only their first submitter and the model's
people now, which is what they are seeded with."""

from django.db import migrations, models


def seed(apps, schema_editor) -> None:
    VersionGovernance = apps.get_model("governance", "VersionGovernance")
    for gov in VersionGovernance.objects.select_related("version__model"):
        model = gov.version.model
        gov.people_at_submission = {
            "owners": [model.owner_id],
            "developers": sorted(model.developers.values_list("pk", flat=True)),
            "submitters": [gov.submitted_by_id],
        }
        gov.save(update_fields=["people_at_submission"])


class Migration(migrations.Migration):

    dependencies = [
        ("governance", "0002_findings_waivers_reviews_notifications"),
    ]

    operations = [
        migrations.AddField(
            model_name="versiongovernance",
            name="people_at_submission",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
