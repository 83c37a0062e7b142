"""Schedule the supervision loop, so that `manage.py qcluster` alone keeps runs watched.

See runs.supervisor: the task loops for SUPERVISOR_TASK_SECONDS and queues its
successor; this every-minute schedule restarts it if a worker died.
"""

from django.db import migrations

SCHEDULE_NAME = "runs: supervise"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "runs.tasks.supervise_runs", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
