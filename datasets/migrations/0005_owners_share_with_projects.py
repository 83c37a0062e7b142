"""Owners and sharing: datasets and training configs may be shared with a project; each
user keeps their own current training config.

Existing rows keep their `created_by` as owner and are shared with no project, so from
now on only their owner and staff see them (before, everybody signed in did): nothing
is shown to a new audience, and staff share what a team needs from the admin. A row
whose creator is gone is staff's alone. The one current config stays current, as its
uploader's.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datasets', '0004_running_sha256'),
        ('projects', '0002_project_rules_as_validators'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='trainconfig',
            name='one_current_train_config',
        ),
        migrations.AddField(
            model_name='dataset',
            name='personal_data',
            field=models.BooleanField(default=False, help_text='Raw personal data (it was de-identified into a copy): only its owner and staff see it, even when it is shared with a project.'),
        ),
        migrations.AddField(
            model_name='dataset',
            name='project',
            field=models.ForeignKey(blank=True, help_text='Shared with this project: its creator and members see it. Empty: its owner and staff only.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='projects.project'),
        ),
        migrations.AddField(
            model_name='trainconfig',
            name='project',
            field=models.ForeignKey(blank=True, help_text='Shared with this project: its creator and members see it. Empty: its owner and staff only.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='projects.project'),
        ),
        migrations.AddConstraint(
            model_name='trainconfig',
            constraint=models.UniqueConstraint(condition=models.Q(('is_current', True)), fields=('created_by',), name='one_current_train_config_per_user'),
        ),
    ]
