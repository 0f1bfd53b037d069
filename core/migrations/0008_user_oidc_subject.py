from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0007_periodic_runs'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='oidc_subject',
            field=models.CharField(blank=True, editable=False, max_length=255, null=True, unique=True),
        ),
    ]
