"""Who authored each version (issue 11): the table independence reads, filled for existing
versions from what the rows and the audit trail say — the creator, and the actors of artifact
uploads and documentation edits (a version created with its artifact: the creator uploaded it).
Edits of the model's own fields before this migration are not carried over."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor) -> None:
    ModelVersion = apps.get_model("registry", "ModelVersion")
    VersionAuthor = apps.get_model("registry", "VersionAuthor")
    AuditEvent = apps.get_model("core", "AuditEvent")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    users = set(User.objects.values_list("pk", flat=True))
    rows: set[tuple[int, int, str]] = set()
    for pk, creator in ModelVersion.objects.values_list("pk", "created_by_id"):
        rows.add((pk, creator, "created"))
    kinds = {"version.artifact_upload": "artifact", "version.update": "documentation"}
    events = AuditEvent.objects.filter(object_type="registry.modelversion",
                                       action__in=[*kinds, "version.create"],
                                       actor_id__isnull=False)
    versions = set(ModelVersion.objects.values_list("pk", flat=True))
    for action, object_id, actor_id, payload in events.values_list(
            "action", "object_id", "actor_id", "payload"):
        if not object_id.isdigit() or int(object_id) not in versions or actor_id not in users:
            continue
        if action == "version.create":
            if (payload or {}).get("artifact_sha256"):
                rows.add((int(object_id), actor_id, "artifact"))
        else:
            rows.add((int(object_id), actor_id, kinds[action]))
    VersionAuthor.objects.bulk_create(
        [VersionAuthor(version_id=v, user_id=u, kind=k) for v, u, k in sorted(rows)],
        ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0004_audit_chain_guard'),
        ('registry', '0003_version_signatures'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='VersionAuthor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('created', 'Created the version'), ('artifact', 'Uploaded its artifact'), ('documentation', 'Edited its documentation'), ('evidence', 'Recorded evidence for it')], max_length=16)),
                ('first_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='authors', to='registry.modelversion')),
            ],
            options={
                'ordering': ['version', 'first_at', 'id'],
                'constraints': [models.UniqueConstraint(fields=('version', 'user', 'kind'), name='one_author_row_per_kind')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
