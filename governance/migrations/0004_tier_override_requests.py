"""Tier override requests become rows of their own (TierOverride), so a pending request no longer
replaces the approved override in force. Each intake's single override becomes one row; an
approved one is linked as the override in force."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def copy_requests(apps, schema_editor) -> None:
    ModelIntake = apps.get_model("governance", "ModelIntake")
    TierOverride = apps.get_model("governance", "TierOverride")
    for intake in ModelIntake.objects.exclude(override_status="none"):
        row = TierOverride.objects.create(
            intake=intake, tier=intake.override_tier, computed_tier=intake.computed_tier or 0,
            justification=intake.override_justification, status=intake.override_status,
            requested_by_id=intake.override_requested_by_id or intake.completed_by_id,
            requested_at=intake.completed_at, decided_by_id=intake.override_decided_by_id,
            decided_at=intake.override_decided_at, comment=intake.override_comment)
        if intake.override_status == "approved":
            intake.override = row
        else:
            intake.override_tier = None
        intake.save(update_fields=["override", "override_tier"])


class Migration(migrations.Migration):

    dependencies = [
        ('governance', '0003_version_people_at_submission'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='TierOverride',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tier', models.PositiveSmallIntegerField()),
                ('computed_tier', models.PositiveSmallIntegerField(help_text="The questionnaire's tier when the override was asked for.")),
                ('justification', models.TextField()),
                ('status', models.CharField(choices=[('pending', 'Awaiting a risk officer'), ('approved', 'Approved'), ('rejected', 'Rejected')], default='pending', max_length=10)),
                ('requested_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('comment', models.TextField(blank=True)),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('intake', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='overrides', to='governance.modelintake')),
                ('requested_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-requested_at', '-id'],
            },
        ),
        migrations.AddField(
            model_name='modelintake',
            name='override',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='governance.tieroverride'),
        ),
        migrations.AddConstraint(
            model_name='tieroverride',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('intake',), name='one_pending_tier_override'),
        ),
        migrations.RunPython(copy_requests, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='modelintake',
            name='override_comment',
        ),
        migrations.RemoveField(
            model_name='modelintake',
            name='override_decided_at',
        ),
        migrations.RemoveField(
            model_name='modelintake',
            name='override_decided_by',
        ),
        migrations.RemoveField(
            model_name='modelintake',
            name='override_justification',
        ),
        migrations.RemoveField(
            model_name='modelintake',
            name='override_requested_by',
        ),
        migrations.RemoveField(
            model_name='modelintake',
            name='override_status',
        ),
    ]
