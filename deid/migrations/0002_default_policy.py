"""The `default` policy exists from the start: every entity type except the long-number
fallback, pseudonymised; its first version is labelled "2024-01-01". (Names, addresses
and organisations joined the list later; 0005 gives a database made before then a new
version with them.)"""

import secrets

from django.db import migrations

DEFAULT_CONFIG = {
    "entities": {
        "PHONE_NUMBER": "pseudonymize",
        "LANDLINE_NUMBER": "pseudonymize",
        "ID_CARD": "pseudonymize",
        "BANK_CARD": "pseudonymize",
        "EMAIL_ADDRESS": "pseudonymize",
        "IP_ADDRESS": "pseudonymize",
        "URL": "pseudonymize",
        "PASSPORT": "pseudonymize",
        "LICENSE_PLATE": "pseudonymize",
        "PERSON": "pseudonymize",
        "ADDRESS": "pseudonymize",
        "ORGANIZATION": "pseudonymize",
    },
    "min_score": 0.5,
    "mask_char": "*",
}


def create_default(apps, schema_editor):
    DeidPolicy = apps.get_model("deid", "DeidPolicy")
    DeidPolicyVersion = apps.get_model("deid", "DeidPolicyVersion")
    if DeidPolicy.objects.filter(name="default").exists():
        return
    policy = DeidPolicy.objects.create(
        name="default",
        description="Every built-in entity type except the long-number fallback, replaced by format-preserving pseudonyms.",
        secret=secrets.token_hex(32),
    )
    version = DeidPolicyVersion.objects.create(policy=policy, number=1, label="2024-01-01", config=DEFAULT_CONFIG)
    policy.current_version = version
    policy.save(update_fields=["current_version"])


def remove_default(apps, schema_editor):
    DeidPolicy = apps.get_model("deid", "DeidPolicy")
    DeidPolicy.objects.filter(name="default").update(current_version=None)
    DeidPolicy.objects.filter(name="default").delete()


class Migration(migrations.Migration):
    dependencies = [("deid", "0001_initial")]

    operations = [migrations.RunPython(create_default, remove_default)]
