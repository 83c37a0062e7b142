"""The length check of a launch (runs.lengths): records the trainer would cut at cutoff_len warn, or refuse.

The dataset is an uploaded file; the base model is a folder holding a tokenizer.json (the
tiny word tokenizer: one token per word), named by the config's model_name_or_path.
"""

from __future__ import annotations

import pytest
import yaml
from django.utils import translation

from datasets.models import TokenLengths
from datasets.services import run_token_lengths
from datasets.tests.conftest import jsonl, upload
from llmplatform.sentences import translate
from runs.models import LogLevel, Run

pytestmark = pytest.mark.django_db

SHORT = {"instruction": "say hi", "input": "to the user", "output": "hi there"}  # 7 tokens
LONG = {"instruction": "how are you there", "output": "one two three four five six seven eight"}  # 12 tokens


@pytest.fixture
def llamafactory_project(project, training_dir, word_tokenizer_model):
    def configure(**config):
        base = {"stage": "sft", "finetuning_type": "lora", "model_name_or_path": word_tokenizer_model, "cutoff_len": 10}
        merged = {key: value for key, value in {**base, **config}.items() if value is not None}
        (training_dir / project.training_yaml_name).write_text(yaml.safe_dump(merged))
        return project

    project.trainer = "llamafactory-0.9.x"
    project.save(update_fields=["trainer"])
    return configure


@pytest.fixture
def pairs(owner_client, project):
    """A validated upload, shared with the project: one record in three is longer than 10 tokens."""
    created = owner_client.post(
        "/v1/datasets", {"name": "pairs", "task_type": "sft", "project": project.name}, format="json"
    ).json()
    response = upload(owner_client, created["id"], "pairs.jsonl", jsonl(SHORT, LONG, SHORT))
    assert response.status_code == 201, response.content
    return response.json()["path"]


def launch(client, project, dataset: str, **hyperparameters):
    return client.post(
        f"/projects/{project.name}/runs", {"dataset": dataset, "hyperparameters": hyperparameters}, format="json"
    )


def test_a_launch_warns_when_more_records_than_allowed_are_longer_than_cutoff_len(
    member_client, llamafactory_project, pairs, word_tokenizer_model
):
    project = llamafactory_project()

    response = launch(member_client, project, pairs)

    assert response.status_code == 201, response.content
    [warning] = response.json()["warnings"]
    assert warning["code"] == "records_over_cutoff_len"
    assert (warning["records"], warning["records_over_cutoff_len"], warning["cutoff_len"]) == (3, 1, 10)
    assert (warning["share"], warning["max_truncated_share"], warning["model"]) == (0.3333, 0.01, word_tokenizer_model)
    assert "1 of 3 records" in warning["message"] and "cutoff_len 10" in warning["message"]
    run = Run.objects.get(pk=response.json()["id"])
    log = run.log_path.read_text()
    assert f"{LogLevel.WARNING.value}: [platform]" in log and "1 of 3 records" in log
    shown = member_client.get(f"/projects/{project.name}/runs/{run.pk}").json()
    assert shown["warnings"] == response.json()["warnings"]
    with translation.override("zh-hans"):
        assert translate(warning["message"]).startswith(f"按 {word_tokenizer_model!r} 的分词器")  # the console's


def test_it_says_nothing_when_no_more_records_than_the_project_allows_are_cut(
    member_client, llamafactory_project, pairs
):
    project = llamafactory_project()
    project.max_truncated_share = 0.34
    project.save(update_fields=["max_truncated_share"])

    response = launch(member_client, project, pairs)

    assert (response.status_code, response.json()["warnings"]) == (201, [])
    assert launch(member_client, project, pairs, cutoff_len=12).json()["warnings"] == []


def test_a_project_that_refuses_answers_400_naming_the_figures(member_client, llamafactory_project, pairs):
    project = llamafactory_project()
    project.refuse_truncation = True
    project.save(update_fields=["refuse_truncation"])

    response = launch(member_client, project, pairs)

    assert response.status_code == 400
    body = response.json()
    assert "1 of 3 records" in body["detail"] and "Raise cutoff_len" in body["detail"]
    assert (body["records"], body["records_over_cutoff_len"], body["cutoff_len"]) == (3, 1, 10)
    assert not Run.objects.exists()
    # A cutoff_len that holds every record launches.
    assert launch(member_client, project, pairs, cutoff_len=16).status_code == 201


def test_without_cutoff_len_the_trainer_s_default_counts(member_client, owner_client, llamafactory_project, project):
    llamafactory_project(cutoff_len=None)
    created = owner_client.post(
        "/v1/datasets", {"name": "long", "task_type": "sft", "project": project.name}, format="json"
    ).json()
    longest = {"instruction": "say hi", "output": " ".join(["one"] * 2047)}  # 2049 tokens in all
    path = upload(owner_client, created["id"], "long.jsonl", jsonl(SHORT, longest)).json()["path"]

    [warning] = launch(member_client, project, path).json()["warnings"]

    assert (warning["cutoff_len"], warning["records_over_cutoff_len"]) == (2048, 1)


def test_pretraining_is_not_checked_it_cuts_nothing(member_client, llamafactory_project, pairs):
    project = llamafactory_project(stage="pt")

    assert launch(member_client, project, pairs).json()["warnings"] == []


def test_a_base_model_without_a_tokenizer_on_this_host_launches_saying_so(member_client, llamafactory_project, pairs):
    project = llamafactory_project(model_name_or_path="Qwen/Qwen2.5-7B")
    project.refuse_truncation = True
    project.save(update_fields=["refuse_truncation"])

    response = launch(member_client, project, pairs)

    assert response.status_code == 201, response.content
    [warning] = response.json()["warnings"]
    assert warning["code"] == "token_lengths_unchecked"
    assert "'Qwen/Qwen2.5-7B'" in warning["message"]
    log = Run.objects.get(pk=response.json()["id"]).log_path.read_text()
    assert f"{LogLevel.INFO.value}: [platform]" in log and "Token lengths were not checked" in log


def test_while_a_worker_measures_a_refusing_project_asks_to_launch_again(
    member_client, llamafactory_project, pairs, settings
):
    settings.TOKEN_LENGTHS_INLINE_BYTES = 0  # the measurement waits for a worker (this test is it)
    project = llamafactory_project()

    warned = launch(member_client, project, pairs)
    assert warned.status_code == 201
    assert warned.json()["warnings"][0]["code"] == "token_lengths_measuring"

    project.refuse_truncation = True
    project.save(update_fields=["refuse_truncation"])
    refused = launch(member_client, project, pairs)
    assert refused.status_code == 409
    assert "being measured" in refused.json()["detail"]

    run_token_lengths(lengths_id=TokenLengths.objects.get().pk)
    assert launch(member_client, project, pairs).status_code == 400  # measured: one record in three is too long


def test_a_project_s_length_settings_are_checked_where_they_are_set(owner_client, project):
    url = f"/projects/{project.name}"
    assert owner_client.patch(url, {"max_truncated_share": 1.5}, format="json").status_code == 400
    assert owner_client.patch(url, {"max_truncated_share": -0.1}, format="json").status_code == 400

    changed = owner_client.patch(url, {"max_truncated_share": 0.2, "refuse_truncation": True}, format="json")

    assert changed.status_code == 200
    assert (changed.json()["max_truncated_share"], changed.json()["refuse_truncation"]) == (0.2, True)
