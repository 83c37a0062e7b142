"""Data migrations of the deid app, run on real rows."""

import importlib

from django.apps import apps

from datasets import services as dataset_services
from datasets.models import Dataset
from deid.models import DeidJob, DeidPolicy, DeidPolicyVersion

add_names = importlib.import_module("deid.migrations.0006_default_policy_names")


def test_it_marks_datasets_de_identified_before_as_raw_personal_data(owner, source_dataset):
    untouched = dataset_services.create_dataset(name="plain", task_type="sft", created_by=owner)
    DeidJob.objects.create(
        source=source_dataset, policy_name="default", policy_version_label="v1", target_name="copy", created_by=owner
    )
    migration = importlib.import_module("deid.migrations.0005_mark_deidentified_sources_personal")

    migration.mark_sources(apps, None)

    assert Dataset.objects.get(pk=source_dataset.pk).personal_data is True
    assert Dataset.objects.get(pk=untouched.pk).personal_data is False


def test_it_adds_names_addresses_and_organisations_to_a_default_policy_still_as_first_shipped(db):
    policy = DeidPolicy.objects.get(name="default")
    first_shipped = {t: "pseudonymize" for t in add_names.FIRST_SHIPPED_TYPES}
    DeidPolicyVersion.objects.filter(pk=policy.current.pk).update(
        config={**policy.current.config, "entities": first_shipped}
    )

    add_names.add_name_types(apps, None)

    policy.refresh_from_db()
    assert policy.versions.count() == 2 and policy.current.number == 2
    assert set(policy.current.config["entities"]) == set(first_shipped) | {"PERSON", "ADDRESS", "ORGANIZATION"}
    assert policy.versions.get(number=1).config["entities"] == first_shipped  # data scrubbed under it says so


def test_it_leaves_a_default_policy_an_operator_edited_or_a_fresh_one_as_it_is(db):
    policy = DeidPolicy.objects.get(name="default")
    add_names.add_name_types(apps, None)  # a fresh database's default lists the new types already
    DeidPolicyVersion.objects.filter(pk=policy.current.pk).update(config={"entities": {"URL": "keep"}})
    add_names.add_name_types(apps, None)
    assert DeidPolicy.objects.get(name="default").versions.count() == 1
