"""POST /deployments: a real (stand-in) vLLM server on an allocated GPU and port."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest

from audit.models import AuditEvent
from deployments.models import Deployment
from deployments.services import create_deployment
from deployments.tests.conftest import FAKE_VLLM, supervise_until
from deployments.tests.extra_args_probes import DANGEROUS, SHAPES
from gpus.inventory import Gpu
from gpus.models import GpuClaim
from llmplatform import processes
from llmplatform.errors import InvalidInput, NotPermitted
from llmplatform.testing import wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CONTRACT_FIELDS = {
    "deployment_id", "model_path", "model_version", "tags", "gpu_id", "port", "pid", "status",
    "started_at", "stopped_at", "health_ok", "vllm_cmd", "log_file", "health_path",
}  # fmt: skip


def deploy(client, **body):
    return client.post("/deployments", body, format="json")


def test_it_starts_the_server_and_reports_the_contract_shape(
    owner_client, fake_vllm, tiny_model, settings, monkeypatch
):
    monkeypatch.setenv("SECRET_KEY", "the-platform-secret")
    response = deploy(
        owner_client,
        model_path=tiny_model,
        model_version="v1",
        tags=["demo"],
        extra_args="--max-num-seqs 4",
        preferred_gpu=1,
        health_path="/health",
    )

    assert response.status_code == 201, response.json()
    info = response.json()
    assert set(info) >= CONTRACT_FIELDS
    assert info["status"] == "starting"
    assert info["model_path"] == tiny_model and info["model_version"] == "v1" and info["tags"] == ["demo"]
    assert info["gpu_id"] == 1
    low, high = (int(part) for part in settings.DEPLOY_PORT_RANGE.split("-"))
    assert low <= info["port"] <= high
    assert isinstance(info["started_at"], float) and info["stopped_at"] is None
    argv = shlex.split(info["vllm_cmd"])
    model_dir = str(Path(settings.MODELS_DIR, tiny_model).resolve())
    assert argv == [
        sys.executable, str(FAKE_VLLM), "serve", model_dir, "--host", "127.0.0.1", "--port", str(info["port"]),
        "--served-model-name", "tiny-llama", "--max-num-seqs", "4",
    ]  # fmt: skip
    assert processes.group_members(info["pid"])

    deployment = supervise_until(info["deployment_id"], "running")
    assert deployment.health_ok
    log = Path(info["log_file"]).read_text()
    assert "CUDA_VISIBLE_DEVICES=1 CUDA_DEVICE_ORDER=PCI_BUS_ID SECRET_KEY=None" in log
    assert f"http://127.0.0.1:{info['port']}" in log
    assert AuditEvent.objects.filter(object_id=info["deployment_id"], action="create").exists()


def test_it_keeps_a_model_path_with_spaces_one_argument(owner_client, fake_vllm, settings):
    (Path(settings.MODELS_DIR) / "my model's dir").mkdir()

    info = deploy(owner_client, model_path="my model's dir", served_model_name="mine").json()

    assert str(Path(settings.MODELS_DIR, "my model's dir").resolve()) in shlex.split(info["vllm_cmd"])
    supervise_until(info["deployment_id"], "running")


def test_it_refuses_a_busy_preferred_gpu_without_naming_work_the_caller_cannot_see(
    owner_client, outsider_client, fake_vllm, tiny_model
):
    theirs = deploy(outsider_client, model_path=tiny_model, preferred_gpu=0).json()

    response = deploy(owner_client, model_path=tiny_model, preferred_gpu=0)
    mine = deploy(owner_client, model_path=tiny_model).json()  # the last free GPU
    none_free = deploy(owner_client, model_path=tiny_model)

    assert response.status_code == 409
    assert response.json()["detail"] == "GPU 0 is held by another deployment."
    assert none_free.status_code == 409
    assert mine["deployment_id"][:8] in none_free.json()["detail"]
    assert theirs["deployment_id"][:8] not in none_free.json()["detail"]
    assert "GPU 0 → another deployment" in none_free.json()["detail"]
    assert Deployment.objects.count() == 2


def test_it_refuses_when_no_gpu_is_free_and_leaves_nothing_behind(owner_client, fake_vllm, tiny_model):
    assert deploy(owner_client, model_path=tiny_model).status_code == 201
    assert deploy(owner_client, model_path=tiny_model).status_code == 201

    response = deploy(owner_client, model_path=tiny_model)

    assert response.status_code == 409
    assert "No GPU is free" in response.json()["detail"]
    assert Deployment.objects.count() == 2
    assert sorted(GpuClaim.objects.values_list("gpu_index", flat=True)) == [0, 1]


def test_it_picks_the_free_gpu_with_most_free_memory(owner_client, fake_vllm, tiny_model, monkeypatch):
    gpus = [Gpu(0, memory_free_bytes=10), Gpu(1, memory_free_bytes=70), Gpu(2, memory_free_bytes=40)]
    for module in ("deployments.allocation", "gpus.services"):  # NVML stand-in: free memory differs per GPU
        monkeypatch.setattr(f"{module}.list_gpus", lambda: gpus)

    assert deploy(owner_client, model_path=tiny_model).json()["gpu_id"] == 1
    assert deploy(owner_client, model_path=tiny_model).json()["gpu_id"] == 2


@pytest.mark.parametrize("gpu", [-1, 2, 99])
def test_it_refuses_a_gpu_that_does_not_exist(owner_client, fake_vllm, tiny_model, gpu):
    response = deploy(owner_client, model_path=tiny_model, preferred_gpu=gpu)

    assert response.status_code == 400
    assert "preferred_gpu" in response.json()["detail"]
    assert not GpuClaim.objects.exists()


@pytest.mark.parametrize(
    ("extra_args", "named"),
    [
        ("--port 9000", "--port"),
        ("--host=0.0.0.0", "--host"),
        ("--served_model_name other", "--served-model-name"),
        ("--api-key s3cret", "--api-key"),
        ("--uds /tmp/x.sock", "--uds"),
        ("--po 9000", "--port"),
        ("--lora-modules x=/etc", "--lora-modules"),
        ("--max-num-seqs 4 stray", "'stray'"),
        ("just-words", "'just-words'"),
        ("--chat-template 'unbalanced", "shell"),
    ],
)
def test_it_refuses_extra_args_the_platform_owns_or_cannot_read(owner_client, fake_vllm, tiny_model, extra_args, named):
    response = deploy(owner_client, model_path=tiny_model, extra_args=extra_args)

    assert response.status_code == 400
    assert named in response.json()["detail"]
    assert not Deployment.objects.exists()


def test_it_passes_checked_extra_args_on_verbatim(owner_client, fake_vllm, tiny_model):
    info = deploy(owner_client, model_path=tiny_model, extra_args="--dtype=half --seed 7 --enforce-eager").json()

    assert shlex.split(info["vllm_cmd"])[-4:] == ["--dtype=half", "--seed", "7", "--enforce-eager"]


@pytest.mark.parametrize(("extra_args", "named"), DANGEROUS)
def test_it_refuses_options_that_reach_beyond_the_deployment(owner_client, fake_vllm, tiny_model, extra_args, named):
    response = deploy(owner_client, model_path=tiny_model, extra_args=extra_args)

    assert response.status_code == 400, response.json()
    assert f"`{named}`" in response.json()["detail"]
    assert not Deployment.objects.exists()


def test_it_says_which_options_are_allowed(owner_client, fake_vllm, tiny_model):
    response = deploy(owner_client, model_path=tiny_model, extra_args="--worker-cls evil.Worker")

    body = response.json()
    assert "(it imports Python code into the server)" in body["detail"]
    assert "Allowed: " in body["detail"] and "staff may allow more" in body["detail"]
    assert "--max-num-seqs" in body["allowed"] and "--worker-cls" not in body["allowed"]


@pytest.mark.parametrize("option", sorted(SHAPES))
def test_it_takes_an_allowed_option_only_with_a_value_of_its_shape(owner_client, fake_vllm, tiny_model, option):
    allowed, refused = SHAPES[option]

    refusal = deploy(owner_client, model_path=tiny_model, extra_args=refused)
    response = deploy(owner_client, model_path=tiny_model, extra_args=allowed)

    assert refusal.status_code == 400
    assert f"`{option}`" in refusal.json()["detail"]
    assert response.status_code == 201, response.json()
    given = shlex.split(allowed)[0].partition("=")[0]
    assert given in [word.partition("=")[0] for word in shlex.split(response.json()["vllm_cmd"])]


def test_it_serves_the_chat_template_it_checked(owner_client, fake_vllm, tiny_model, settings):
    info = deploy(owner_client, model_path=tiny_model, extra_args="--chat-template chat_template.jinja").json()

    template = Path(settings.MODELS_DIR, tiny_model, "chat_template.jinja").resolve()
    assert shlex.split(info["vllm_cmd"])[-2:] == ["--chat-template", str(template)]


def test_it_refuses_a_chat_template_that_links_out_of_the_model_folder(owner_client, fake_vllm, tiny_model, settings):
    Path(settings.MODELS_DIR, tiny_model, "evil.jinja").symlink_to("/etc/passwd")

    response = deploy(owner_client, model_path=tiny_model, extra_args="--chat-template evil.jinja")

    assert response.status_code == 400
    assert "resolves outside the deployment's model folder or the models directory" in response.json()["detail"]


def test_it_lets_only_staff_allow_options_beyond_the_policy(owner, fake_vllm, tiny_model):
    with pytest.raises(NotPermitted):
        create_deployment(
            actor=owner,
            model_path=tiny_model,
            extra_args="--trust-remote-code",
            allowed_extra_flags=["--trust-remote-code"],
        )

    assert not Deployment.objects.exists()


def test_it_requires_a_model_path(owner_client, fake_vllm):
    response = deploy(owner_client, model_version="v1")

    assert response.status_code == 400
    assert response.json()["missing"] == ["model_path"]


@pytest.mark.parametrize(
    ("model_path", "reason"),
    [
        ("/etc", "not absolute"),
        ("../outside", "'..'"),
        ("models/../../outside", "'..'"),
        ("models/missing", "does not exist"),
        ("escape", "outside the models directory"),
        ("x" * 300, "cannot be used as a path"),
        ("loop", "cannot be used as a path"),
    ],
)
def test_it_refuses_model_paths_outside_the_models_dir(owner_client, fake_vllm, settings, tmp_path, model_path, reason):
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", Path(settings.MODELS_DIR) / "escape")
    os.symlink("loop", Path(settings.MODELS_DIR) / "loop")

    response = deploy(owner_client, model_path=model_path)

    assert response.status_code == 400
    assert reason in response.json()["detail"]


@pytest.mark.parametrize(
    "health_path",
    ["http://169.254.169.254/latest", "//evil.example/health", "/health?x=1", "health", "/a/../b", "/a b"],
)
def test_it_refuses_a_health_path_that_is_not_a_plain_path(owner_client, fake_vllm, tiny_model, health_path):
    response = deploy(owner_client, model_path=tiny_model, health_path=health_path)

    assert response.status_code == 400
    assert "health_path" in response.json()["detail"]


def test_it_refuses_anonymous_callers(anonymous_client, fake_vllm, tiny_model):
    assert deploy(anonymous_client, model_path=tiny_model).status_code in {401, 403}


def test_it_marks_a_server_that_cannot_start_failed_and_frees_its_gpu(owner_client, fake_vllm, tiny_model, settings):
    settings.VLLM_COMMAND = "/nonexistent/vllm serve {model_path} --port {port}"

    info = deploy(owner_client, model_path=tiny_model).json()

    deployment = supervise_until(info["deployment_id"], "failed")
    assert deployment.exit_code == 127
    assert "not found" in deployment.last_log_lines
    wait_for(lambda: not GpuClaim.objects.exists(), timeout=15, what="the GPU to be released")


def test_it_names_the_deployment_that_holds_a_preferred_gpu(owner_client, fake_vllm, tiny_model):
    holder = deploy(owner_client, model_path=tiny_model, preferred_gpu=0).json()

    response = deploy(owner_client, model_path=tiny_model, preferred_gpu=0)

    assert response.status_code == 409
    assert response.json()["detail"] == f"GPU 0 is held by deployment tiny-llama ({holder['deployment_id'][:8]})."


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"tags": ["x" * 65]}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"model_version": "v" * 65}, "model_version"),
        ({"served_model_name": "has space"}, "served_model_name"),
    ],
)
def test_it_refuses_labels_it_cannot_keep(owner_client, fake_vllm, tiny_model, body, named):
    response = deploy(owner_client, model_path=tiny_model, **body)

    assert response.status_code == 400
    assert named in response.json()["detail"]


def test_it_checks_tags_for_callers_without_a_serializer(owner, fake_vllm, tiny_model):
    with pytest.raises(InvalidInput, match="printable"):
        create_deployment(actor=owner, model_path=tiny_model, tags=["line\nbreak"])


def typed_gpus(monkeypatch) -> None:
    gpus = [
        Gpu(0, name="NVIDIA L4", memory_free_bytes=90),
        Gpu(1, name="NVIDIA A100-SXM4-80GB", memory_free_bytes=10),
        Gpu(2, name="NVIDIA A100-SXM4-80GB", memory_free_bytes=70),
    ]
    for module in ("deployments.allocation", "gpus.services"):  # NVML stand-in: a host of two kinds
        monkeypatch.setattr(f"{module}.list_gpus", lambda: gpus)


def test_it_deploys_on_a_gpu_of_the_type_asked_for(owner_client, fake_vllm, tiny_model, monkeypatch):
    typed_gpus(monkeypatch)

    assert deploy(owner_client, model_path=tiny_model, gpu_type="a100").json()["gpu_id"] == 2
    assert deploy(owner_client, model_path=tiny_model, gpu_type="A100").json()["gpu_id"] == 1
    response = deploy(owner_client, model_path=tiny_model, gpu_type="A100")

    assert response.status_code == 409
    assert "No A100 GPU is free" in response.json()["detail"]
    assert deploy(owner_client, model_path=tiny_model).json()["gpu_id"] == 0  # any type: the L4 is left


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"gpu_type": "H100"}, "No GPU here is of type 'H100'"),
        ({"gpu_type": "A10"}, "No GPU here is of type 'A10'"),
        ({"gpu_type": "A100", "preferred_gpu": 0}, "preferred_gpu 0 is a NVIDIA L4, not 'A100'"),
    ],
)
def test_it_refuses_a_gpu_type_it_cannot_give(owner_client, fake_vllm, tiny_model, monkeypatch, body, named):
    typed_gpus(monkeypatch)

    response = deploy(owner_client, model_path=tiny_model, **body)

    assert response.status_code == 400
    assert named in response.json()["detail"]
    assert not Deployment.objects.exists()
    assert not GpuClaim.objects.exists()
