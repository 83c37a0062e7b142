from django.db import migrations

from deployments.schedules import SUPERVISE_SCHEDULE_NAME, ensure_supervise_schedule


def add_schedule(apps, schema_editor):
    ensure_supervise_schedule(apps.get_model("django_q", "Schedule"))


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SUPERVISE_SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
