"""gpus.services.claim_gpus: the one GPU selection of runs and deployments, each host of its own GPUs."""

from __future__ import annotations

import subprocess

import pytest

from gpus import services
from gpus.inventory import Gpu
from gpus.models import GpuClaim, HolderKind
from gpus.services import GpuHeld, GpusUnavailable, claim_gpus
from llmplatform.testing import manage_py, subprocess_env, wait_for

pytestmark = pytest.mark.django_db

HOST = [
    Gpu(0, "NVIDIA L4", memory_free_bytes=90),
    Gpu(1, "NVIDIA A100-SXM4-80GB", memory_free_bytes=10),
    Gpu(2, "NVIDIA A100-SXM4-80GB", memory_free_bytes=70),
    Gpu(3, "NVIDIA A100-SXM4-80GB", memory_free_bytes=40),
]


@pytest.fixture(autouse=True)
def host(monkeypatch) -> None:
    monkeypatch.setattr(services, "list_gpus", lambda: HOST)


def claim(**options) -> list[int]:
    return claim_gpus(holder_kind=HolderKind.RUN, holder_id="r1", holder_label="run-001", **options)


def test_it_gives_the_free_gpus_of_the_type_with_most_free_memory_first():
    assert claim(count=2, gpu_type="A100") == [2, 3]
    assert claim() == [0]
    assert claim(gpu_type="a100") == [1]


def test_it_leaves_out_excluded_gpus():
    assert claim(count=2, gpu_type="A100", excluding={2}) == [3, 1]


def test_it_passes_over_a_gpu_a_concurrent_claim_took_after_it_was_seen_free(monkeypatch):
    seen_free = services.free_gpus

    def racing(candidates):
        free = seen_free(candidates)
        if not GpuClaim.objects.exists():  # another worker claims the best GPU right after this one looked
            GpuClaim.objects.create(gpu_index=2, holder_kind=HolderKind.DEPLOYMENT, holder_id="d1")
        return free

    monkeypatch.setattr(services, "free_gpus", racing)

    assert claim(gpu_type="A100") == [3]
    assert dict(GpuClaim.objects.values_list("gpu_index", "holder_id")) == {2: "d1", 3: "r1"}


def test_it_claims_all_or_nothing_and_says_how_many_are_free():
    GpuClaim.objects.create(gpu_index=2, holder_kind=HolderKind.DEPLOYMENT, holder_id="d1")

    with pytest.raises(GpusUnavailable, match="waiting for 3 A100 GPU"):
        claim(count=3, gpu_type="A100")

    assert list(GpuClaim.objects.values_list("gpu_index", flat=True)) == [2]


def test_it_refuses_a_held_preferred_gpu_keeping_its_holder_for_those_who_may_see_it():
    held = GpuClaim.objects.create(
        gpu_index=1, holder_kind=HolderKind.DEPLOYMENT, holder_id="d1", holder_label="tiny-llama"
    )

    with pytest.raises(GpuHeld) as refused:
        claim(preferred=1)

    assert str(refused.value) == "GPU 1 is held by another deployment."
    assert refused.value.claim == held
    assert claim(preferred=0) == [0]


def test_it_leaves_gpus_of_the_same_index_on_another_host_to_that_host():
    GpuClaim.objects.create(host="gpu-b", gpu_index=2, holder_kind=HolderKind.RUN, holder_id="r9")
    GpuClaim.objects.create(host="gpu-b", gpu_index=1, holder_kind=HolderKind.DEPLOYMENT, holder_id="d9")

    assert claim(count=3, gpu_type="A100") == [2, 3, 1]
    assert claim_gpus(holder_kind=HolderKind.DEPLOYMENT, holder_id="d1", preferred=0) == [0]
    assert services.release_gpus(holder_kind=HolderKind.RUN, holder_id="r1") == 3
    assert set(GpuClaim.objects.values_list("host", "gpu_index")) == {("gpu-b", 2), ("gpu-b", 1), (HOST[0].host, 0)}


CLAIM_GPU_0 = """
import os, pathlib, time
from gpus.services import claim_gpus
pathlib.Path(os.environ["READY"]).touch()
while not pathlib.Path(os.environ["GO"]).exists():  # both hosts claim at the same moment
    time.sleep(0.005)
print("claimed", claim_gpus(holder_kind="run", holder_id=os.environ["LLMP_HOSTNAME"] + "-run", preferred=0))
"""


def test_it_lets_two_hosts_each_claim_their_gpu_0_at_once(transactional_db, tmp_path):
    go = tmp_path / "go"
    hosts = {}
    for name in ("gpu-a", "gpu-b"):
        env = subprocess_env(LLMP_HOSTNAME=name, GPU_IDS="0", READY=str(tmp_path / name), GO=str(go))
        hosts[name] = subprocess.Popen(
            manage_py("shell", "-c", CLAIM_GPU_0), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    wait_for(lambda: all((tmp_path / name).exists() for name in hosts), timeout=60, what="both hosts to be ready")
    go.touch()
    outputs = {name: process.communicate(timeout=60)[0] for name, process in hosts.items()}

    assert all("claimed [0]" in output for output in outputs.values()), outputs
    assert set(GpuClaim.objects.values_list("host", "gpu_index", "holder_id")) == {
        ("gpu-a", 0, "gpu-a-run"),
        ("gpu-b", 0, "gpu-b-run"),
    }
