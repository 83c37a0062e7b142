"""Schedule the hourly clean-up of abandoned uploads, so `manage.py qcluster` alone keeps
the training directory free of half-sent files (see services.purge_abandoned_uploads)."""

from django.db import migrations

SCHEDULE_NAME = "datasets: purge abandoned uploads"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "datasets.tasks.purge_abandoned_uploads", "schedule_type": "H", "repeats": -1},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("datasets", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
