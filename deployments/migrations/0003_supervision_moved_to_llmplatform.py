"""Supervision moved to llmplatform.supervision: its lease table and no schedule.

Loops are now woken by django-q2 workers as they start and by new work, and hold
`llmplatform.SupervisorLease`; this app's lease table and its every-minute schedule go.
"""

from django.db import migrations

SUPERVISE_SCHEDULE_NAME = "deployments: supervise"


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SUPERVISE_SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0002_supervise_schedule"),
        ("llmplatform", "0001_initial"),
    ]

    operations = [
        migrations.DeleteModel(name="SupervisorLease"),
        migrations.RunPython(delete_schedule, migrations.RunPython.noop),
    ]
