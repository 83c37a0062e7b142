"""The supervision loop is woken by django-q2 workers as they start and by new work
(llmplatform.supervision), no longer restarted by an every-minute schedule."""

from django.db import migrations

SCHEDULE_NAME = "runs: supervise"


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0003_log_time_seq_index"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(delete_schedule, migrations.RunPython.noop)]
