"""POST /projects/{ref}/runs: every key of the effective config that names a file or folder is confined.

The effective config is the training YAML with the project's default hyperparameters
and the run's own over it (runs.config_paths). A path in it must lie in the training
directory, the run's own folder, the models folder or one of the project's
checkpoints; anything else is a 400 naming the key, and nothing is created.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

from projects.services import create_project
from runs.config_paths import OUTSIDE
from runs.models import Artifact, ArtifactType, Run

pytestmark = pytest.mark.django_db


def launch(client, project, hyperparameters=None, **fields):
    return client.post(
        f"/projects/{project.name}/runs", {"hyperparameters": hyperparameters or {}, **fields}, format="json"
    )


def checkpoint_of(project, runs_dir: Path) -> Artifact:
    """A finished run of `project` with a checkpoint folder on disk, as the supervisor records one."""
    run = Run.objects.create(project=project, name="earlier", status="completed")
    folder = runs_dir / str(run.pk) / "output" / "checkpoint-10"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    return Artifact.objects.create(run=run, name=folder.name, type=ArtifactType.CHECKPOINT, path=str(folder), step=10)


def assert_refused(response, *errors: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == list(errors)
    assert response.json()["detail"] == f"The run's config names paths a run may not use: {'; '.join(errors)}."
    assert not Run.objects.filter(name__startswith="run-").exists()


@pytest.mark.parametrize(
    ("key", "value", "where", "problem"),
    [
        ("dataset", "/etc/passwd", "dataset", f"'/etc/passwd' is {OUTSIDE}"),
        ("dataset_dir", "/etc", "dataset_dir", f"'/etc' is {OUTSIDE}"),
        ("dataset", "demo_sft,/etc/passwd", "dataset", f"'/etc/passwd' is {OUTSIDE}"),  # LLaMA-Factory splits on ','
        ("model_name_or_path", "~/.cache/huggingface", "model_name_or_path", "'~/.cache/huggingface' must not start "),
        ("tokenized_path", "file:///etc", "tokenized_path", "'file:///etc' must be a path, not a URL"),
        ("cache_dir", "s3://bucket/cache", "cache_dir", "'s3://bucket/cache' must be a path, not a URL"),
        ("adapter_name_or_path", "hf://org/adapter", "adapter_name_or_path", "'hf://org/adapter' must be a path, "),
        ("deepspeed", "../configs/ds.json", "deepspeed", "'../configs/ds.json' must not contain '..' segments"),
        ("adapter_name_or_path", ["adapters/a", "/etc"], "adapter_name_or_path[1]", f"'/etc' is {OUTSIDE}"),
        ("logging_dir", "/var/log", "logging_dir", f"'/var/log' is {OUTSIDE}"),  # no list names it: its ending does
    ],
)
def test_it_refuses_a_hyperparameter_that_points_outside(owner_client, project, settings, key, value, where, problem):
    response = launch(owner_client, project, {key: value})

    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert error.startswith(f"hyperparameters key {where!r}: {problem}")
    assert not Run.objects.exists()
    assert not any(Path(settings.RUNS_DIR).iterdir())


def test_it_refuses_a_training_yaml_that_points_outside(owner_client, project, training_dir):
    config = {"dataset": "demo_sft", "dataset_dir": "/etc", "max_steps": 1}
    (training_dir / "configs" / "elsewhere.yaml").write_text(yaml.safe_dump(config))

    response = launch(owner_client, project, training_yaml_name="configs/elsewhere.yaml")

    assert_refused(response, f"the training YAML 'configs/elsewhere.yaml' key 'dataset_dir': '/etc' is {OUTSIDE}")


def test_it_refuses_a_project_default_that_points_outside(owner_client, project):
    owner_client.patch(f"/projects/{project.name}", {"default_hyperparameters": {"cache_dir": "/root"}}, format="json")

    response = launch(owner_client, project)

    assert_refused(response, f"hyperparameters key 'cache_dir': '/root' is {OUTSIDE}")


def test_it_refuses_a_relative_path_that_a_symlink_leads_outside(owner_client, project, training_dir, tmp_path):
    (tmp_path / "elsewhere" / "Qwen2.5-7B").mkdir(parents=True)
    (training_dir / "Qwen").symlink_to(tmp_path / "elsewhere")

    response = launch(owner_client, project, {"model_name_or_path": "Qwen/Qwen2.5-7B"})

    assert_refused(response, f"hyperparameters key 'model_name_or_path': 'Qwen/Qwen2.5-7B' is {OUTSIDE}")


@pytest.mark.parametrize(
    "deepspeed",
    [
        {"zero_optimization": {"offload_param": {"device": "nvme", "nvme_path": "/mnt/nvme"}}},
        json.dumps({"zero_optimization": {"offload_param": {"device": "nvme", "nvme_path": "/mnt/nvme"}}}),
        base64.urlsafe_b64encode(
            json.dumps({"zero_optimization": {"offload_param": {"nvme_path": "/mnt/nvme"}}}).encode()
        ).decode(),
    ],
    ids=["mapping", "json", "base64"],
)
def test_it_checks_the_paths_of_an_inline_deepspeed_config(owner_client, project, deepspeed):
    response = launch(owner_client, project, {"deepspeed": deepspeed})

    assert_refused(
        response, f"hyperparameters key 'deepspeed.zero_optimization.offload_param.nvme_path': '/mnt/nvme' is {OUTSIDE}"
    )


def test_it_refuses_another_projects_checkpoint(owner, owner_client, project, settings):
    other = create_project(actor=owner, fields={"name": "other-team"})
    theirs = checkpoint_of(other, Path(settings.RUNS_DIR))

    response = launch(owner_client, project, {"resume_from_checkpoint": theirs.path})

    assert_refused(response, f"hyperparameters key 'resume_from_checkpoint': {theirs.path!r} is {OUTSIDE}")


def test_it_refuses_a_checkpoint_whose_folder_a_symlink_leads_outside(owner_client, project, settings, tmp_path):
    """The platform records checkpoint-N folders it finds; one that is a symlink elsewhere is no checkpoint."""
    ours = checkpoint_of(project, Path(settings.RUNS_DIR))
    (tmp_path / "elsewhere").mkdir()
    linked = Path(ours.path).with_name("checkpoint-20")
    linked.symlink_to(tmp_path / "elsewhere")
    Artifact.objects.create(run=ours.run, name=linked.name, type=ArtifactType.CHECKPOINT, path=str(linked), step=20)

    response = launch(owner_client, project, {"resume_from_checkpoint": str(linked)})

    assert_refused(response, f"hyperparameters key 'resume_from_checkpoint': {str(linked)!r} is {OUTSIDE}")


def test_it_refuses_another_run_folder_even_inside_the_training_directory(
    owner, owner_client, project, settings, training_dir
):
    """The README's easy Docker set-up puts RUNS_DIR inside the training directory: its runs stay out of bounds."""
    settings.RUNS_DIR = training_dir / ".llmp-runs"
    other = create_project(actor=owner, fields={"name": "other-team"})
    theirs = Path(checkpoint_of(other, Path(settings.RUNS_DIR)).path)
    relative = str(theirs.relative_to(training_dir))

    response = launch(owner_client, project, {"resume_from_checkpoint": relative, "logging_dir": str(theirs.parent)})

    assert_refused(
        response,
        f"hyperparameters key 'logging_dir': {str(theirs.parent)!r} is {OUTSIDE}",
        f"hyperparameters key 'resume_from_checkpoint': {relative!r} is {OUTSIDE}",
    )


def test_it_names_only_the_keys_that_point_outside(owner_client, project, settings, training_dir):
    ours = checkpoint_of(project, Path(settings.RUNS_DIR))
    allowed = {
        "model_name_or_path": "Qwen/Qwen2.5-7B",  # a hub id: no such folder in the training directory
        "dataset": "alpaca_en,identity",  # LLaMA-Factory's names in dataset_info.json
        "dataset_dir": str(training_dir / "datasets"),
        "adapter_name_or_path": str(Path(settings.MODELS_DIR) / "adapters" / "support-lora"),
        "resume_from_checkpoint": ours.path,
        "deepspeed": {"zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"}}},
        "tokenized_path": "cache/tokens",
        "run_name": "/not/a/path",  # a key that names no file may hold any text
    }

    refused = launch(owner_client, project, {**allowed, "eval_dataset": "/srv/other-team/eval.jsonl"})
    launched = launch(owner_client, project, allowed)

    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        f"hyperparameters key 'eval_dataset': '/srv/other-team/eval.jsonl' is {OUTSIDE}"
    ]
    assert launched.status_code == 201, launched.content
    run = Run.objects.get(pk=launched.json()["id"])
    config = yaml.safe_load(run.config_path.read_text())
    assert {key: config[key] for key in allowed} == allowed


def test_the_console_says_which_key_on_the_launch_form(owner_session, project):
    response = owner_session.post(
        reverse("console:run-create", args=[project.pk]),
        {"name": "", "hyperparameters": json.dumps({"dataset": "/etc/passwd"}), "gpu_count": 0, "priority": 0},
    )

    assert response.status_code == 400
    assert response.context["run_form"].non_field_errors() == [
        f"The run's config names paths a run may not use: hyperparameters key 'dataset': '/etc/passwd' is {OUTSIDE}."
    ]
    assert not Run.objects.exists()
