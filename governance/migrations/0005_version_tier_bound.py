"""Bind each version's tier on its governance record (at submission, and again at the decision),
so a decided version keeps showing the tier it was decided at. Existing cases take the tier their
sign-offs or review recorded, else the model's tier in force now."""

from django.db import migrations, models


def seed(apps, schema_editor) -> None:
    VersionGovernance = apps.get_model("governance", "VersionGovernance")
    SignOff = apps.get_model("governance", "SignOff")
    ValidationReview = apps.get_model("governance", "ValidationReview")
    ModelIntake = apps.get_model("governance", "ModelIntake")
    for gov in VersionGovernance.objects.select_related("version"):
        signoff = SignOff.objects.filter(version_id=gov.version_id).order_by("signed_at").first()
        review = ValidationReview.objects.filter(version_id=gov.version_id).first()
        intake = ModelIntake.objects.filter(model_id=gov.version.model_id).first()
        in_force = None
        if intake is not None and intake.is_model:
            in_force = intake.override_tier or intake.computed_tier
        gov.tier = (signoff.tier if signoff else None) or (review.tier if review else None) \
            or in_force
        gov.save(update_fields=["tier"])


class Migration(migrations.Migration):

    dependencies = [
        ("governance", "0004_tier_override_requests"),
    ]

    operations = [
        migrations.AddField(
            model_name="versiongovernance",
            name="tier",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
