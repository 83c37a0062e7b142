"""gpus.services.claim_gpus: the one GPU selection of runs and deployments."""

from __future__ import annotations

import pytest

from gpus import services
from gpus.inventory import Gpu
from gpus.models import GpuClaim, HolderKind
from gpus.services import GpuHeld, GpusUnavailable, claim_gpus

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
