"""Claims name the host of their GPU: GPU 0 of two hosts are two GPUs. Claims made before
were made by the one host there was, the one running this migration (LLMP_HOSTNAME)."""

from django.conf import settings
from django.db import migrations, models

import gpus.models


def claims_are_this_hosts(apps, schema_editor):
    apps.get_model("gpus", "GpuClaim").objects.update(host=settings.HOSTNAME)


class Migration(migrations.Migration):
    dependencies = [
        ("gpus", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="gpuclaim",
            name="host",
            field=models.CharField(
                default=gpus.models.this_host, help_text="The host the GPU is in (LLMP_HOSTNAME).", max_length=255
            ),
        ),
        migrations.RunPython(claims_are_this_hosts, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="gpuclaim",
            name="gpu_index",
            field=models.PositiveIntegerField(),
        ),
        migrations.AlterModelOptions(
            name="gpuclaim",
            options={"ordering": ["host", "gpu_index"]},
        ),
        migrations.AddConstraint(
            model_name="gpuclaim",
            constraint=models.UniqueConstraint(fields=("host", "gpu_index"), name="gpus_one_claim_per_gpu"),
        ),
    ]
