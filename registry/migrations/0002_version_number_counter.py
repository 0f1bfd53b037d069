from django.db import migrations, models
from django.db.models import Max


def fill_counter(apps, schema_editor):
    """Existing models start counting from their highest version number."""
    RegisteredModel = apps.get_model("registry", "RegisteredModel")
    for model in RegisteredModel.objects.annotate(highest=Max("versions__number")):
        if model.highest:
            RegisteredModel.objects.filter(pk=model.pk).update(last_version_number=model.highest)


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='registeredmodel',
            name='last_version_number',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(fill_counter, migrations.RunPython.noop),
    ]
