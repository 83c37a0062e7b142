"""Data migrations of the deid app, run on real rows."""

import importlib

from django.apps import apps

from datasets import services as dataset_services
from datasets.models import Dataset
from deid.models import DeidJob


def test_it_marks_datasets_de_identified_before_as_raw_personal_data(owner, source_dataset):
    untouched = dataset_services.create_dataset(name="plain", task_type="sft", created_by=owner)
    DeidJob.objects.create(
        source=source_dataset, policy_name="default", policy_version_label="v1", target_name="copy", created_by=owner
    )
    migration = importlib.import_module("deid.migrations.0005_mark_deidentified_sources_personal")

    migration.mark_sources(apps, None)

    assert Dataset.objects.get(pk=source_dataset.pk).personal_data is True
    assert Dataset.objects.get(pk=untouched.pk).personal_data is False
