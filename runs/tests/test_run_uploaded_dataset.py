"""A run whose dataset is an uploaded file: LLaMA-Factory reads it through a dataset_info.json of the run's own.

Nobody writes dataset_info.json by hand: the upload's validation found the file's format
(alpaca or sharegpt) and which field maps where, and the launch writes the entry into
the run's folder and points `dataset`/`dataset_dir` at it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from datasets.tests.conftest import SFT_RECORD, jsonl, upload
from runs.models import Run

pytestmark = pytest.mark.django_db

LLAMAFACTORY_YAML = {"stage": "sft", "finetuning_type": "lora", "dataset": "demo_sft", "dataset_dir": "datasets"}


@pytest.fixture
def llamafactory_project(project, training_dir):
    project.trainer = "llamafactory-0.9.x"
    project.save(update_fields=["trainer"])
    (training_dir / project.training_yaml_name).write_text(yaml.safe_dump(LLAMAFACTORY_YAML))
    return project


def uploaded(client, name: str, task_type: str, content: bytes) -> dict:
    dataset = client.post("/v1/datasets", {"name": name, "type": "text2text", "task_type": task_type}, format="json")
    assert dataset.status_code == 201, dataset.content
    response = upload(client, dataset.json()["id"], f"{name}.jsonl", content)
    assert response.status_code in {200, 201}, response.content
    return response.json()


def launch(client, project, dataset_path: str, **hyperparameters):
    response = client.post(
        f"/projects/{project.name}/runs",
        {"dataset": dataset_path, "hyperparameters": hyperparameters},
        format="json",
    )
    assert response.status_code == 201, response.content
    return Run.objects.get(pk=response.json()["id"])


def test_an_uploaded_alpaca_file_is_read_through_the_runs_own_dataset_info(
    owner_client, llamafactory_project, settings
):
    file = uploaded(
        owner_client, "support pairs, v1", "sft", jsonl({"instruction": "Say hi", "input": "", "output": "hi"})
    )

    run = launch(owner_client, llamafactory_project, file["path"])

    info = json.loads((Path(run.run_dir) / "dataset_info.json").read_text())
    assert info == {
        "support_pairs_v1": {
            "file_name": str(Path(settings.HOST_TRAINING_DIR) / file["path"]),
            "formatting": "alpaca",
            "columns": {"prompt": "instruction", "query": "input", "response": "output"},
        }
    }
    config = yaml.safe_load(run.config_path.read_text())
    assert (config["dataset"], config["dataset_dir"]) == ("support_pairs_v1", run.run_dir)
    log = run.log_path.read_text()  # the platform's lines, before any ingest reads them
    assert "WARNING" not in log
    assert "LLaMA-Factory reads the dataset" in log and "'support_pairs_v1' (alpaca)" in log


def test_an_uploaded_conversation_file_gets_the_sharegpt_mapping(owner_client, llamafactory_project):
    file = uploaded(owner_client, "chats", "sft", jsonl(SFT_RECORD))

    run = launch(owner_client, llamafactory_project, file["path"])

    entry = json.loads((Path(run.run_dir) / "dataset_info.json").read_text())["chats"]
    assert (entry["formatting"], entry["columns"]) == ("sharegpt", {"messages": "messages"})
    assert entry["tags"]["role_tag"] == "role"


def test_the_runs_own_hyperparameters_still_name_the_dataset_they_choose(owner_client, llamafactory_project):
    file = uploaded(owner_client, "chats", "sft", jsonl(SFT_RECORD))

    run = launch(owner_client, llamafactory_project, file["path"], dataset="identity", dataset_dir="datasets")

    config = yaml.safe_load(run.config_path.read_text())
    assert (config["dataset"], config["dataset_dir"]) == ("identity", "datasets")


def test_a_project_of_another_trainer_keeps_the_yamls_dataset_and_is_warned(owner_client, project, training_dir):
    project.trainer = "unchecked"
    project.save(update_fields=["trainer"])
    file = uploaded(owner_client, "chats", "sft", jsonl(SFT_RECORD))

    run = launch(owner_client, project, file["path"])

    assert not (Path(run.run_dir) / "dataset_info.json").exists()
    assert "differs from the run's dataset" in run.log_path.read_text()
