"""/v1/train-config (the one current config) and /v1/train-configs (every config kept)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import TrainConfig
from datasets.tests.conftest import SFT_RECORD, jsonl, stored_files, upload

pytestmark = pytest.mark.django_db

SEED_SFT_YAML = b"""task_type: sft
model_name: qwen-7b
dataset: datasets/sft_dataset.jsonl
max_seq_length: 2048
per_device_train_batch_size: 4
learning_rate: 2e-5
num_train_epochs: 3
"""

LLAMA_FACTORY_LORA_YAML = b"""### model
model_name_or_path: meta-llama/Meta-Llama-3-8B-Instruct
trust_remote_code: true

### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all

### dataset
dataset: identity,alpaca_en_demo
template: llama3
cutoff_len: 2048
max_samples: 1000

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
"""

# A list in a list... 5,000 levels deep: 10 KB that PyYAML would compose recursively.
DEEP_YAML = b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n"

YAML_BOMB = b"""a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def put_config(client, content: bytes, name: str = "finetune.yaml", **fields):
    return client.put("/v1/train-config", {"file": SimpleUploadedFile(name, content), **fields}, format="multipart")


def post_config(client, name: str, content: bytes = SEED_SFT_YAML, **fields):
    return client.post("/v1/train-configs", {"file": SimpleUploadedFile(name, content), **fields}, format="multipart")


def test_it_keeps_the_uploaded_config_as_the_current_one(owner_client, training_dir):
    response = put_config(owner_client, SEED_SFT_YAML)

    assert response.status_code == 200, response.json()
    summary = response.json()["train_config"]
    assert summary["filename"] == "finetune.yaml"
    assert summary["size"] == len(SEED_SFT_YAML)
    current = owner_client.get("/v1/train-config").json()
    assert {key: current[key] for key in ("filename", "uploaded_at", "size")} == summary
    assert (training_dir / current["path"]).read_bytes() == SEED_SFT_YAML
    assert current["path"].startswith("configs/")


def test_it_keeps_every_config_as_a_record_with_its_content(owner_client):
    first = put_config(owner_client, SEED_SFT_YAML, "first.yaml").json()["id"]
    second = put_config(owner_client, LLAMA_FACTORY_LORA_YAML, "second.yml").json()["id"]

    listed = owner_client.get("/v1/train-configs").json()

    assert [config["id"] for config in listed] == [second, first]
    assert [config["is_current"] for config in listed] == [True, False]
    assert [config["task_type"] for config in listed] == ["lora", "sft"]
    detail = owner_client.get(f"/v1/train-configs/{first}").json()
    assert detail["content"] == SEED_SFT_YAML.decode()
    assert owner_client.get("/v1/train-config").json()["filename"] == "second.yml"


def test_it_accepts_a_llama_factory_config_and_infers_its_task_type(owner_client):
    response = put_config(owner_client, LLAMA_FACTORY_LORA_YAML)

    assert response.status_code == 200, response.json()
    assert response.json()["task_type"] == "lora"


def test_it_refuses_a_llama_factory_config_with_a_key_llama_factory_does_not_know(owner_client):
    response = put_config(owner_client, LLAMA_FACTORY_LORA_YAML + b"num_epochs: 3\n")

    assert response.status_code == 400
    assert response.json()["config_problems"] == [
        {
            "key": "num_epochs",
            "origin": "the training YAML",
            "problem": "is unknown to LLaMA-Factory 0.9.5",
            "nearest": "num_train_epochs",
        }
    ]
    assert not TrainConfig.objects.exists()


def test_it_checks_a_config_shared_with_a_project_against_the_projects_trainer(owner_client, project):
    project.trainer = "hf-trainer"
    project.save(update_fields=["trainer"])

    kept = put_config(owner_client, SEED_SFT_YAML, project=project.name)
    refused = put_config(owner_client, SEED_SFT_YAML + b"batch_size: 4\n", project=project.name)

    assert kept.status_code == 200, kept.json()
    assert refused.status_code == 400
    assert [(item["key"], item["nearest"]) for item in refused.json()["config_problems"]] == [
        ("batch_size", "per_device_train_batch_size")
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"task_type: sft\nmodel_name: [unclosed\n", "not valid YAML"),
        (b"- just\n- a list\n", "the top level must be a mapping of keys to values, got list"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "the file is binary, not YAML text (it holds NUL bytes)"),
        (b"task: \xff\xfe oops\n", "the file is not UTF-8 text"),
        (YAML_BOMB, "refused as a possible expansion bomb"),
        (DEEP_YAML, "the document is nested more than 64 levels deep"),
        (b"   \n", "the file is empty"),
        (b"task_type: sft\nlearning_rate: -1\n", "learning_rate: must be greater than 0"),
    ],
)
def test_it_refuses_what_is_not_a_training_yaml_and_keeps_nothing(owner_client, training_dir, content, problem):
    response = put_config(owner_client, content)

    assert response.status_code == 400
    assert any(problem in error for error in response.json()["errors"]), response.json()
    assert stored_files(training_dir) == []
    assert not TrainConfig.objects.exists()


def test_it_lists_every_missing_required_key(owner_client):
    response = put_config(owner_client, b"task_type: rl\nalgorithm: ppo\n")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        "policy_model (or model_name_or_path, model_name, base_model, model): required for rl",
        "reward_model (or reward_model_name_or_path): required for rl",
        "dataset (or dataset_name, dataset_path, train_file, data_path): required for rl",
    ]


def test_it_refuses_a_file_that_is_not_yaml_by_name(owner_client):
    response = put_config(owner_client, SEED_SFT_YAML, name="config.json")

    assert response.status_code == 400
    assert ".yaml or .yml" in response.json()["detail"]


def test_it_refuses_a_config_over_the_limit_with_413(owner_client, training_dir, settings):
    settings.MAX_YAML_BYTES = 100

    response = put_config(owner_client, SEED_SFT_YAML + b"# padding\n" * 20)

    assert response.status_code == 413
    assert stored_files(training_dir) == []


def test_it_refuses_json_with_415(owner_client):
    assert owner_client.put("/v1/train-config", {"file": "x"}, format="json").status_code == 415


def test_it_answers_404_when_there_is_no_current_config(owner_client):
    assert owner_client.get("/v1/train-config").status_code == 404
    assert owner_client.delete("/v1/train-config").status_code == 404


def test_it_deletes_the_current_config_and_its_file(owner_client, training_dir):
    put_config(owner_client, SEED_SFT_YAML)

    response = owner_client.delete("/v1/train-config")

    assert response.json() == {"status": "train_config_deleted"}
    assert owner_client.get("/v1/train-config").status_code == 404
    assert stored_files(training_dir) == []


def test_it_keeps_one_current_config_per_user(owner_client, member_client, outsider_client):
    put_config(owner_client, SEED_SFT_YAML, "alice.yaml")
    put_config(member_client, SEED_SFT_YAML, "bob.yaml")

    assert owner_client.get("/v1/train-config").json()["filename"] == "alice.yaml"
    assert member_client.get("/v1/train-config").json()["filename"] == "bob.yaml"
    assert outsider_client.get("/v1/train-config").status_code == 404
    assert outsider_client.delete("/v1/train-config").status_code == 404
    assert member_client.delete("/v1/train-config").json() == {"status": "train_config_deleted"}
    assert owner_client.get("/v1/train-config").json()["filename"] == "alice.yaml"
    assert TrainConfig.objects.get().filename == "alice.yaml"


def test_it_shows_a_config_to_its_owner_its_project_and_staff_only(
    owner_client, member_client, outsider_client, staff_client, project
):
    shared = put_config(owner_client, SEED_SFT_YAML, "shared.yaml", project=project.name).json()["id"]
    private = post_config(owner_client, "private.yaml").json()["id"]

    assert [c["filename"] for c in owner_client.get("/v1/train-configs").json()] == ["private.yaml", "shared.yaml"]
    assert [c["id"] for c in staff_client.get("/v1/train-configs").json()] == [private, shared]
    assert [c["id"] for c in member_client.get("/v1/train-configs").json()] == [shared]
    assert member_client.get(f"/v1/train-configs/{shared}").json()["content"] == SEED_SFT_YAML.decode()
    assert member_client.get(f"/v1/train-configs/{shared}").json()["project_id"] == str(project.pk)
    assert member_client.get(f"/v1/train-configs/{private}").status_code == 404
    assert outsider_client.get("/v1/train-configs").json() == []
    assert outsider_client.get(f"/v1/train-configs/{shared}").status_code == 404


def test_it_lets_only_the_owner_or_staff_delete(owner_client, member_client, outsider_client, staff_client, project):
    config_id = put_config(owner_client, SEED_SFT_YAML, project=project.name).json()["id"]

    assert outsider_client.delete(f"/v1/train-configs/{config_id}").status_code == 404
    assert member_client.delete(f"/v1/train-configs/{config_id}").status_code == 403
    assert member_client.delete("/v1/train-config").status_code == 404  # bob has no current config of his own
    assert staff_client.delete(f"/v1/train-configs/{config_id}").status_code == 200
    assert not TrainConfig.objects.exists()


def test_it_refuses_to_share_with_a_project_the_uploader_does_not_see(outsider_client, project, training_dir):
    project_files = stored_files(training_dir)

    response = put_config(outsider_client, SEED_SFT_YAML, project=project.name)

    assert response.status_code == 400
    assert response.json()["field"] == "project"
    assert stored_files(training_dir) == project_files and not TrainConfig.objects.exists()


def test_it_refuses_a_project_reference_no_project_can_have(owner_client, project):
    response = put_config(owner_client, SEED_SFT_YAML, project="qwen\x00finetune")

    assert (response.status_code, response.json()["field"]) == (400, "project")


def test_it_adds_a_config_without_replacing_the_current_one(owner_client):
    put_config(owner_client, SEED_SFT_YAML, "current.yaml")

    response = owner_client.post(
        "/v1/train-configs", {"file": SimpleUploadedFile("other.yaml", SEED_SFT_YAML)}, format="multipart"
    )

    assert response.status_code == 201
    assert response.json()["is_current"] is False
    assert owner_client.get("/v1/train-config").json()["filename"] == "current.yaml"


def test_it_links_a_config_to_the_dataset_whose_file_it_names(owner_client, make_dataset):
    dataset = make_dataset()
    path = upload(owner_client, dataset.pk, "train.jsonl", jsonl(SFT_RECORD)).json()["path"]

    put_config(owner_client, SEED_SFT_YAML.replace(b"datasets/sft_dataset.jsonl", path.encode()))

    record = owner_client.get(f"/v1/datasets/{dataset.pk}").json()
    assert record["train_config"]["filename"] == "finetune.yaml"
    assert record["train_config"]["dataset_reference"] == path


def test_it_links_configs_and_datasets_only_where_both_are_seen(
    owner_client, member_client, outsider_client, make_dataset, project
):
    dataset = make_dataset(project=project)
    path = upload(owner_client, dataset.pk, "train.jsonl", jsonl(SFT_RECORD)).json()["path"]
    naming_it = SEED_SFT_YAML.replace(b"datasets/sft_dataset.jsonl", path.encode())

    outsiders = put_config(outsider_client, naming_it).json()["id"]
    put_config(member_client, naming_it, "bobs.yaml")  # not shared: alice does not see it

    assert outsider_client.get(f"/v1/train-configs/{outsiders}").json()["dataset_id"] is None
    assert owner_client.get(f"/v1/datasets/{dataset.pk}").json()["train_config"] is None
    assert member_client.get(f"/v1/datasets/{dataset.pk}").json()["train_config"]["filename"] == "bobs.yaml"


def test_it_reads_the_form_fields_sent_beside_the_file(owner_client):
    put_config(owner_client, SEED_SFT_YAML, "current.yaml")

    response = owner_client.post(
        "/v1/train-configs",
        {"file": SimpleUploadedFile("other.yaml", SEED_SFT_YAML), "current": "true"},
        format="multipart",
    )

    assert response.status_code == 201
    assert response.json()["is_current"] is True
    assert owner_client.get("/v1/train-config").json()["filename"] == "other.yaml"
