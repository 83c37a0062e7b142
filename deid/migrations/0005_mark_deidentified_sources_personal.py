"""Datasets already de-identified hold raw personal data: only their owners and staff see them."""

from django.db import migrations


def mark_sources(apps, schema_editor):
    Dataset = apps.get_model("datasets", "Dataset")
    DeidJob = apps.get_model("deid", "DeidJob")
    sources = DeidJob.objects.exclude(source=None).values("source")
    Dataset.objects.filter(pk__in=sources).update(personal_data=True)


class Migration(migrations.Migration):
    dependencies = [
        ("deid", "0004_job_updated_at"),
        ("datasets", "0005_owners_share_with_projects"),
    ]

    operations = [migrations.RunPython(mark_sources, migrations.RunPython.noop)]
