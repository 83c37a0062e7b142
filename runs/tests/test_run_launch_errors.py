"""Bad input to POST /projects/{ref}/runs: clear 4xx, nothing created."""

from __future__ import annotations

import json
import logging
import time

import pytest

from datasets.tests.test_train_config_views import DEEP_YAML
from projects.models import Project
from runs.models import Run


def launch(client, project_ref, body=None):
    return client.post(f"/projects/{project_ref}/runs", body or {}, format="json")


def test_it_answers_404_for_an_unknown_project(owner_client, project):
    response = launch(owner_client, "no-such-project")

    assert response.status_code == 404
    assert not Run.objects.exists()


def test_it_answers_404_to_outsiders_and_403_to_nobody_else(outsider_client, member_client, project, fake_trainer):
    assert launch(outsider_client, project.name).status_code == 404
    assert launch(member_client, project.name).status_code == 201


def test_it_refuses_a_run_on_an_archived_project_with_409(owner_client, project):
    owner_client.patch(f"/projects/{project.name}", {"status": "archived"}, format="json")

    response = launch(owner_client, project.name)

    assert response.status_code == 409
    assert "archived" in response.json()["detail"]
    assert not Run.objects.exists()


def test_it_lists_missing_training_files(owner_client, project):
    response = launch(
        owner_client, project.name, {"dataset": "datasets/gone.jsonl", "training_yaml_name": "configs/gone.yaml"}
    )

    assert response.status_code == 400
    assert response.json()["missing"] == ["datasets/gone.jsonl", "configs/gone.yaml"]
    assert not Run.objects.exists()


def test_it_names_the_missing_field_when_neither_run_nor_project_has_one(owner_client, owner, training_dir):
    owner_client.post("/projects", {"name": "bare"}, format="json")

    response = launch(owner_client, "bare")

    assert response.status_code == 400
    assert response.json()["missing"] == ["dataset", "training_yaml_name"]


@pytest.mark.parametrize("path", ["../outside.jsonl", "/etc/passwd", "datasets/\x00.jsonl", "a/../../b"])
def test_it_refuses_paths_outside_the_training_directory(owner_client, project, path):
    response = launch(owner_client, project.name, {"dataset": path})

    assert response.status_code == 400
    assert "dataset" in response.json()["detail"]
    assert not Run.objects.exists()


def test_it_refuses_a_symlink_that_leaves_the_training_directory(owner_client, project, training_dir, tmp_path):
    secret = tmp_path / "secret.jsonl"
    secret.write_text("{}\n")
    (training_dir / "datasets" / "link.jsonl").symlink_to(secret)

    response = launch(owner_client, project.name, {"dataset": "datasets/link.jsonl"})

    assert response.status_code == 400
    assert "outside" in response.json()["detail"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [("a: [unclosed\n", "not valid YAML"), ("- just\n- a list\n", "mapping"), ("x" * 300_000, "bytes")],
)
def test_it_refuses_an_unusable_training_yaml(owner_client, project, training_dir, settings, content, reason):
    settings.MAX_YAML_BYTES = 256 * 1024
    (training_dir / "configs" / "bad.yaml").write_text(content)

    response = launch(owner_client, project.name, {"training_yaml_name": "configs/bad.yaml"})

    assert response.status_code == 400
    assert reason in response.json()["detail"]


def alias_bomb(*, levels: int, width: int) -> str:
    """`levels` lists, each holding `width` aliases of the one before: width**levels values, a few hundred bytes."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("width", "problem"),
    [(9, "more than 50 YAML aliases"), (5, "expands to more than 100000 values")],
)
def test_it_refuses_a_yaml_alias_bomb_quickly_in_a_short_answer(
    owner_client, project, training_dir, caplog, width, problem
):
    bomb = alias_bomb(levels=9, width=width)
    assert len(bomb) < 500
    (training_dir / "configs" / "bomb.yaml").write_text(bomb)
    caplog.set_level(logging.DEBUG)

    started = time.monotonic()
    response = launch(owner_client, project.name, {"training_yaml_name": "configs/bomb.yaml"})

    assert time.monotonic() - started < 5
    assert response.status_code == 400
    body = response.json()
    assert "configs/bomb.yaml" in body["detail"] and problem in body["detail"]
    assert len(response.content) < 1000
    assert all(len(record.getMessage()) < 1000 for record in caplog.records)
    assert not Run.objects.exists()


def test_it_refuses_a_yaml_nested_thousands_of_levels_deep(owner_client, project, training_dir):
    (training_dir / "configs" / "deep.yaml").write_bytes(DEEP_YAML)

    response = launch(owner_client, project.name, {"training_yaml_name": "configs/deep.yaml"})

    assert response.status_code == 400
    assert "nested more than 64 levels deep" in response.json()["detail"]
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"hyperparameters": ["not", "a", "mapping"]},
        {"resources": {"gpu_count": -1}},
        {"resources": {"gpu_count": "many"}},
        {"priority": "high"},
    ],
)
def test_it_refuses_malformed_bodies(owner_client, project, body):
    response = launch(owner_client, project.name, body)

    assert response.status_code == 400
    assert response.json()["detail"]


def test_it_refuses_a_gpu_type_this_host_does_not_have_and_names_the_types_it_has(owner_client, project, settings):
    settings.GPU_IDS = "0:NVIDIA A100-SXM4-80GB,1:NVIDIA A100-SXM4-80GB,2:NVIDIA L4"

    response = launch(owner_client, project.name, {"resources": {"gpu_count": 1, "gpu_type": "H100"}})

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "No GPU here is of type 'H100'; the GPUs here are 2 × NVIDIA A100-SXM4-80GB, 1 × NVIDIA L4."
    )
    assert not Run.objects.exists()


def test_it_ignores_the_gpu_type_of_a_run_that_asks_for_no_gpu(owner_client, project, settings):
    """The contract's example project says A100; a CPU run of it on a host without one still launches."""
    settings.GPU_IDS = ""

    response = launch(owner_client, project.name, {"resources": {"gpu_count": 0, "gpu_type": "A100"}})

    assert response.status_code == 201
    assert response.json()["resources"] == {"gpu_count": 0, "gpu_type": "A100"}


# A project saved before its fields were checked when set keeps what it was saved with;
# its launches are refused in a sentence, never a 500.
@pytest.mark.parametrize(
    ("stored", "says"),
    [
        (
            {"executor_options": {"command": "bash train.sh {config}"}},
            "The training command 'bash train.sh {config}' cannot be used: unknown placeholders ['config']; "
            "known: ['training_yaml', 'run_id', 'run_dir', 'output_dir', 'dataset'].",
        ),
        (
            {"executor_options": {"command": "bash 'train.sh {training_yaml}"}},
            'The training command "bash \'train.sh {training_yaml}" cannot be used: '
            "its shell quoting does not balance (No closing quotation).",
        ),
        (
            {"default_hyperparameters": json.loads('{"a": ' * 40 + "1" + "}" * 40)},
            "hyperparameters: must not be nested more than 32 levels deep",
        ),
        (
            {"dataset_name": "datasets/" + "x" * 300 + ".jsonl"},
            f"dataset 'datasets/{'x' * 300}.jsonl' must not have a part longer than 255 bytes",
        ),
    ],
    ids=["placeholder", "quote", "deep", "long-name"],
)
def test_it_refuses_to_launch_a_project_saved_with_what_is_now_refused(owner_client, project, stored, says):
    Project.objects.filter(pk=project.pk).update(**stored)

    response = launch(owner_client, project.name)

    assert response.status_code == 400
    assert response.json()["detail"] == says
    assert not Run.objects.exists()
