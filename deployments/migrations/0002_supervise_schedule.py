from django.db import migrations

# Superseded by llmplatform.supervision (migration 0003 deletes the schedule); kept as history.
SUPERVISE_SCHEDULE_NAME = "deployments: supervise"


def add_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SUPERVISE_SCHEDULE_NAME,
        defaults={
            "func": "deployments.tasks.supervise_deployments",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SUPERVISE_SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
