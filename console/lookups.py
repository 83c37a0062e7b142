"""The console's one way to fetch what a user asked for: visible to them, or 404.

An outsider gets "not found" for a project, dataset, config or deployment they cannot
see, never "forbidden", so the console does not reveal what others keep.
"""

from __future__ import annotations

from uuid import UUID

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from datasets.models import Dataset, DatasetFile, DatasetQuerySet, TrainConfig, TrainConfigQuerySet
from deployments.models import Deployment, DeploymentQuerySet
from llmplatform.users import Visitor
from projects.models import Project
from runs.models import Run, RunQuerySet

# Files a project form offers to pick from (typing a path still works beyond them).
PICKER_LIMIT = 200


def visible_runs(user: Visitor) -> RunQuerySet:
    return Run.objects.filter(project__in=Project.objects.visible_to(user))


def project_for(user: Visitor, project_id: UUID) -> Project:
    return get_object_or_404(Project.objects.visible_to(user), pk=project_id)


def run_for(user: Visitor, project_id: UUID, run_id: UUID) -> Run:
    return get_object_or_404(visible_runs(user).select_related("project"), pk=run_id, project_id=project_id)


def visible_datasets(user: Visitor) -> DatasetQuerySet:
    return Dataset.objects.visible_to(user)


def dataset_for(user: Visitor, dataset_id: UUID) -> Dataset:
    """A dataset with its files, its parent and the training configs naming it that the user sees."""
    configs = Prefetch("train_configs", visible_configs(user))
    datasets = visible_datasets(user).select_related("created_by", "parent", "project")
    return get_object_or_404(datasets.prefetch_related("files", configs), pk=dataset_id)


def dataset_file_for(user: Visitor, dataset_id: UUID, upload_id: UUID) -> DatasetFile:
    files = DatasetFile.objects.select_related("dataset").filter(dataset__in=visible_datasets(user))
    return get_object_or_404(files, pk=upload_id, dataset=dataset_id)


def visible_configs(user: Visitor) -> TrainConfigQuerySet:
    return TrainConfig.objects.visible_to(user).select_related("created_by", "dataset", "project")


def visible_deployments(user: Visitor) -> DeploymentQuerySet:
    return Deployment.objects.visible_to(user).select_related("created_by", "project").prefetch_related("tag_set")


def deployment_for(user: Visitor, deployment_id: UUID) -> Deployment:
    return get_object_or_404(visible_deployments(user), pk=deployment_id)


def training_files(user: Visitor) -> dict[str, list[tuple[str, str]]]:
    """(path, label) of the dataset files and training configs the user sees, newest first,
    for a project to name by `dataset_name` and `training_yaml_name`."""
    files = (
        DatasetFile.objects.filter(dataset__in=visible_datasets(user))
        .stored()
        .select_related("dataset")
        .order_by("-created_at")[:PICKER_LIMIT]
    )
    configs = visible_configs(user)[:PICKER_LIMIT]
    return {
        "dataset_files": [(file.relative_path, f"{file.dataset.name} / {file.name}") for file in files],
        "training_configs": [(config.relative_path, config.filename) for config in configs],
    }
