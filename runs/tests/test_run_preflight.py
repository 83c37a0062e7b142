"""POST /projects/{ref}/runs and .../resume: a config the project's trainer would refuse is refused at launch.

The README's example (`batch_size`, `num_epochs`) reaches LLaMA-Factory's parser verbatim
and fails there after the run was queued; the launch names each key, and the one meant.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runs.models import Run
from runs.tests.test_run_config_paths import checkpoint_of

pytestmark = pytest.mark.django_db

LLAMAFACTORY_YAML = {
    "model_name_or_path": "models/tiny-llama",
    "stage": "sft",
    "do_train": True,
    "finetuning_type": "lora",
    "lora_target": "all",
    "dataset": "demo_sft",
    "dataset_dir": "datasets",
    "template": "default",
    "cutoff_len": 128,
    "learning_rate": 1.0e-3,
    "report_to": "none",
}


@pytest.fixture
def readme_project(owner_client, training_dir) -> str:
    """The README's project, as its curl example creates it, with a LLaMA-Factory YAML: its runs' URL."""
    (training_dir / "datasets").mkdir()
    (training_dir / "datasets" / "qwen_demo.jsonl").write_text('{"instruction": "hi", "output": "hello"}\n')
    (training_dir / "configs").mkdir()
    (training_dir / "configs" / "qwen_demo.yaml").write_text(yaml.safe_dump(LLAMAFACTORY_YAML))
    body = {
        "name": "qwen-finetune",
        "owner": "alice",
        "tags": ["demo"],
        "task_type": "sft",
        "dataset_name": "datasets/qwen_demo.jsonl",
        "training_yaml_name": "configs/qwen_demo.yaml",
        "base_model": "llama-2-13b",
        "default_hyperparameters": {"learning_rate": 3e-5, "batch_size": 16},
    }
    created = owner_client.post("/projects", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["trainer"] == "llamafactory-0.9.x", "the default command runs LLaMA-Factory's script"
    return "/projects/qwen-finetune/runs"


def test_it_refuses_the_readmes_example_naming_the_keys_llamafactory_calls_otherwise(
    owner_client, readme_project, settings
):
    response = owner_client.post(
        readme_project, {"name": "run-001", "hyperparameters": {"learning_rate": 2e-5, "num_epochs": 3}}, format="json"
    )

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["trainer"] == "llamafactory-0.9.x"
    assert [(item["key"], item["nearest"]) for item in body["config_problems"]] == [
        ("batch_size", "per_device_train_batch_size"),
        ("num_epochs", "num_train_epochs"),
    ]
    assert (
        "hyperparameters key 'num_epochs' is unknown to LLaMA-Factory 0.9.5; did you mean 'num_train_epochs'?"
        in (body["detail"])
    )
    assert not Run.objects.exists()
    assert list(Path(settings.RUNS_DIR).iterdir()) == [], "nothing of the refused run is left on disk"


def test_it_launches_the_example_with_llamafactorys_names(owner_client, readme_project):
    owner_client.patch("/projects/qwen-finetune", {"default_hyperparameters": {"learning_rate": 3e-5}}, format="json")

    response = owner_client.post(
        readme_project,
        {"hyperparameters": {"per_device_train_batch_size": 16, "num_train_epochs": 3}},
        format="json",
    )

    assert response.status_code == 201, response.content


def test_it_names_a_key_of_the_training_yaml_and_a_value_of_the_wrong_type(owner_client, readme_project, training_dir):
    (training_dir / "configs" / "qwen_demo.yaml").write_text(yaml.safe_dump({**LLAMAFACTORY_YAML, "task_type": "sft"}))

    response = owner_client.post(
        readme_project, {"hyperparameters": {"batch_size": None, "learning_rate": "2e-5"}}, format="json"
    )

    assert response.status_code == 400
    problems = {item["key"]: (item["origin"], item["problem"]) for item in response.json()["config_problems"]}
    assert problems == {
        "task_type": ("the training YAML 'configs/qwen_demo.yaml'", "is unknown to LLaMA-Factory 0.9.5"),
        "batch_size": ("hyperparameters", "is unknown to LLaMA-Factory 0.9.5"),
        "learning_rate": (
            "hyperparameters",
            "must be a number, not the text '2e-5' (YAML reads 1e-3 as text: write 1.0e-3, or give the number in JSON)",
        ),
    }


def test_an_unchecked_trainer_launches_whatever_its_config_says(owner_client, readme_project):
    owner_client.patch("/projects/qwen-finetune", {"trainer": "unchecked"}, format="json")

    response = owner_client.post(readme_project, {"hyperparameters": {"num_epochs": 3}}, format="json")

    assert response.status_code == 201, response.content


def test_it_refuses_to_resume_with_a_key_the_trainer_does_not_know(member_client, project, training_dir, settings):
    project.trainer = "llamafactory-0.9.x"
    project.save(update_fields=["trainer"])
    (training_dir / project.training_yaml_name).write_text(yaml.safe_dump(LLAMAFACTORY_YAML))
    checkpoint = checkpoint_of(project, Path(settings.RUNS_DIR))
    Run.objects.filter(pk=checkpoint.run.pk).update(
        dataset=project.dataset_name, training_yaml_name=project.training_yaml_name
    )
    url = f"/projects/{project.name}/runs/{checkpoint.run.pk}/resume?source_artifact_id={checkpoint.pk}"

    refused = member_client.post(url, {"hyperparameters": {"epochs": 2}}, format="json")
    resumed = member_client.post(url, {"hyperparameters": {"num_train_epochs": 2}}, format="json")

    assert refused.status_code == 400, refused.content
    assert refused.json()["config_problems"] == [
        {
            "key": "epochs",
            "origin": "hyperparameters",
            "problem": "is unknown to LLaMA-Factory 0.9.5",
            "nearest": "num_train_epochs",
        }
    ]
    assert resumed.status_code == 201, resumed.content
