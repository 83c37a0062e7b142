"""The `operators` group: what staff who run the platform need in the admin, and no more.

Its members see every object and act on what the platform lets operators change
(project caps and executors, runs' names and notes, deployments, datasets, lockouts);
they do not see users, their API tokens or permissions, which stay with superusers.
`manage.py create_api_token --staff` puts a user in it.
"""

from django.db import migrations

# (app label, model, actions) as Django names model permissions: view, add, change, delete.
OPERATOR_PERMISSIONS = [
    ("projects", "project", ["view", "change"]),
    ("projects", "projectversion", ["view"]),
    ("runs", "run", ["view", "change"]),
    ("runs", "logline", ["view"]),
    ("runs", "metricpoint", ["view"]),
    ("runs", "artifact", ["view", "change"]),
    ("runs", "artifacttag", ["view", "add", "change", "delete"]),
    ("datasets", "dataset", ["view", "change", "delete"]),
    ("datasets", "datasetfile", ["view", "delete"]),
    ("datasets", "validatedpiece", ["view"]),
    ("datasets", "trainconfig", ["view", "change", "delete"]),
    ("deployments", "deployment", ["view", "add", "change"]),
    ("deployments", "deploymenttag", ["view"]),
    ("deid", "deidpolicy", ["view"]),
    ("deid", "deidpolicyversion", ["view"]),
    ("deid", "deidjob", ["view"]),
    ("audit", "auditevent", ["view"]),
    ("gpus", "gpuclaim", ["view"]),
    ("llmplatform", "supervisorlease", ["view"]),
    ("axes", "accessattempt", ["view", "delete"]),
    ("axes", "accessfailurelog", ["view"]),
    ("django_q", "task", ["view"]),
    ("django_q", "success", ["view"]),
    ("django_q", "failure", ["view"]),
    ("django_q", "schedule", ["view"]),
    ("django_q", "ormq", ["view"]),
]


def create_operators(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are made after all migrations; make them now so that the group can hold them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name="operators")
    permission = apps.get_model("auth", "Permission")
    for app_label, model, actions in OPERATOR_PERMISSIONS:
        for action in actions:
            group.permissions.add(
                permission.objects.get(content_type__app_label=app_label, codename=f"{action}_{model}")
            )


def remove_operators(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="operators").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("llmplatform", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("projects", "0004_gpu_cap_bounded"),
        ("runs", "0004_drop_supervisor_schedule"),
        ("datasets", "0005_owners_share_with_projects"),
        ("deployments", "0005_extra_flags_and_sharing"),
        ("deid", "0005_mark_deidentified_sources_personal"),
        ("audit", "0001_initial"),
        ("gpus", "0001_initial"),
        ("axes", "0010_accessattemptexpiration"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_operators, remove_operators)]
