"""Deployments may be shared with a project. Existing ones are their creator's (and staff's) only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('deployments', '0003_supervision_moved_to_llmplatform'),
        ('projects', '0002_project_rules_as_validators'),
    ]

    operations = [
        migrations.AddField(
            model_name='deployment',
            name='project',
            field=models.ForeignKey(blank=True, help_text='Shared with this project: its creator and members see it. Empty: its owner and staff only.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='projects.project'),
        ),
    ]
