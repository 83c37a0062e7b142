"""Every serializer with DirectReadMixin renders exactly what DRF's own fields would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

import runs.serializers  # noqa: F401 (defines the serializers under test)
from llmplatform.readonly import DirectReadMixin, represent_each
from projects.services import create_project
from runs.models import Artifact, ArtifactTag, LogLine, Run
from runs.serializers import RunArtifactSerializer


def direct_read_serializers() -> list[type[DirectReadMixin]]:
    found, pending = [], list(DirectReadMixin.__subclasses__())
    while pending:
        serializer = pending.pop()
        found.append(serializer)
        pending.extend(serializer.__subclasses__())
    return sorted(found, key=lambda serializer: serializer.__name__)


@pytest.fixture
def instances(owner) -> dict[type | str, object]:
    """One instance of each model those serializers show, every field set."""
    project = create_project(actor=owner, fields={"name": "shapes"})
    now = timezone.now()
    run = Run.objects.create(
        project=project,
        name="full",
        status="completed",
        created_by=owner,
        started_at=now - timedelta(hours=1),
        completed_at=now,
        progress=1.0,
        eta_seconds=0,
        current_step=20,
        total_steps=20,
        metrics={"loss": 0.5},
        gpu_utilization=87.5,
        start_command="bash run_train_full_sft.sh configs/fake.yaml",
        hyperparameters={"learning_rate": 1e-4},
        resources={"gpu_count": 1, "gpu_type": "A100"},
        gpu_indices=[0],
        exit_code=0,
        output_dir="/data/runs/x/output",
    )
    checkpoint = Artifact.objects.create(run=run, name="checkpoint-20", type="checkpoint", path="/c", step=20)
    tag = ArtifactTag.objects.create(artifact=checkpoint, value="release", notes="ship it", applied_by=owner)
    resumed = Run.objects.create(project=project, resume_source_artifact=checkpoint)
    line = LogLine.objects.create(run=run, seq=1, timestamp=now, level="WARNING", message="hello")
    return {Run: Run.objects.get(pk=run.pk), Artifact: checkpoint, ArtifactTag: tag, LogLine: line, "resumed": resumed}


def test_it_covers_the_run_serializers():
    names = {serializer.__name__ for serializer in direct_read_serializers()}

    assert {"RunSerializer", "RunDetailSerializer", "RunArtifactSerializer", "RunLogLineSerializer"} <= names


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
@pytest.mark.parametrize("serializer_class", direct_read_serializers(), ids=lambda serializer: serializer.__name__)
def test_it_matches_drfs_representation(serializer_class, instances, zone):
    model = serializer_class.Meta.model
    assert model in instances, f"add a {model.__name__} to the instances fixture"
    for instance in [instances[model], *([instances["resumed"]] if model is Run else [])]:
        serializer = serializer_class(instance)

        with timezone.override(zone):  # datetimes are written in the current time zone
            direct = serializer.data
            drf = serializers.ModelSerializer.to_representation(serializer_class(instance), instance)

        assert direct == drf
        assert list(direct) == serializer_class.Meta.fields


def test_it_writes_a_list_as_its_many_form_does(instances):
    artifacts = [instances[Artifact]] * 2

    with timezone.override("Asia/Shanghai"):
        assert represent_each(RunArtifactSerializer(), artifacts) == RunArtifactSerializer(artifacts, many=True).data
        assert represent_each(RunArtifactSerializer(), artifacts)[0]["created_at"].endswith("+08:00")
