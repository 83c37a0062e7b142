"""The shipped `default` policy looks for names, addresses and organisations too.

A database whose default policy is still the one first shipped (made before these types
existed) gets a new version with them; its old version stays as it was, so data scrubbed
under it still says which rules it went through. A default policy an operator has edited
is left as the operator made it."""

from django.db import migrations
from django.utils import timezone

NEW_TYPES = ("PERSON", "ADDRESS", "ORGANIZATION")
FIRST_SHIPPED_TYPES = {
    "PHONE_NUMBER",
    "LANDLINE_NUMBER",
    "ID_CARD",
    "BANK_CARD",
    "EMAIL_ADDRESS",
    "IP_ADDRESS",
    "URL",
    "PASSPORT",
    "LICENSE_PLATE",
}


def add_name_types(apps, schema_editor):
    DeidPolicy = apps.get_model("deid", "DeidPolicy")
    DeidPolicyVersion = apps.get_model("deid", "DeidPolicyVersion")
    policy = DeidPolicy.objects.filter(name="default").select_related("current_version").first()
    if policy is None or policy.current_version is None:
        return
    config = policy.current_version.config
    entities = config.get("entities", {})
    if set(entities) != FIRST_SHIPPED_TYPES or set(entities.values()) != {"pseudonymize"}:
        return
    number = policy.versions.order_by("-number").values_list("number", flat=True).first() + 1
    version = DeidPolicyVersion.objects.create(
        policy=policy,
        number=number,
        label=f"{timezone.now():%Y-%m-%d}.{number}",
        config={**config, "entities": {**entities, **dict.fromkeys(NEW_TYPES, "pseudonymize")}},
    )
    policy.current_version = version
    policy.save(update_fields=["current_version"])


class Migration(migrations.Migration):
    dependencies = [("deid", "0005_mark_deidentified_sources_personal")]

    operations = [migrations.RunPython(add_name_types, migrations.RunPython.noop)]
