"""The GPU-aware queue: runs wait for free GPUs in order, within their project's cap.

GPU_IDS stands in for NVML (no GPU here); the trainers are real `sleep` processes
started by the local executor, so GPUs are held by live runs and released when
they really end.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from gpus.models import GpuClaim, HolderKind
from gpus.services import GpusUnavailable, claim_gpus
from projects.services import create_project
from runs.models import Run


@pytest.fixture
def gpu_host(settings, training_dir):
    settings.GPU_IDS = "0,1"
    settings.TRAINING_COMMAND = "sleep 60"
    settings.CANCEL_GRACE_SECONDS = 2.0
    settings.SUPERVISOR_LEASE_SECONDS = 2.0
    return settings


def launch(client, project, capture, **body):
    with capture(execute=True):
        response = client.post(f"/projects/{project.name}/runs", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def detail(client, project, run_id):
    return client.get(f"/projects/{project.name}/runs/{run_id}").json()


def cancel(client, project, run_id):
    response = client.post(f"/projects/{project.name}/runs/{run_id}/cancel")
    assert response.status_code == 200, response.content


def test_it_keeps_a_run_queued_until_enough_gpus_are_free_and_says_why(
    owner_client, project, gpu_host, supervisor, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    big = launch(owner_client, project, capture, resources={"gpu_count": 2})
    small = launch(owner_client, project, capture, resources={"gpu_count": 1})

    assert detail(owner_client, project, big)["status"] == "running"
    waiting = detail(owner_client, project, small)
    assert waiting["status"] == "queued"
    assert waiting["queue_reason"] == "waiting for 1 GPU(s), 0 free of 2"
    assert waiting["queue_position"] == 1

    cancel(owner_client, project, big)

    assert not GpuClaim.objects.filter(holder_id=big).exists()  # released the moment it ended
    supervisor.tick()
    started = detail(owner_client, project, small)
    assert started["status"] == "running"
    assert len(started["gpu_indices"]) == 1
    assert started["queue_reason"] == ""
    assert started["queue_position"] is None
    cancel(owner_client, project, small)


def test_it_starts_waiting_runs_by_priority_then_first_come_first_served(
    owner_client, project, gpu_host, supervisor, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    project.max_priority = 5  # as staff allow it
    project.save(update_fields=["max_priority"])
    holder = launch(owner_client, project, capture, resources={"gpu_count": 2})
    first = launch(owner_client, project, capture, resources={"gpu_count": 2})
    second = launch(owner_client, project, capture, resources={"gpu_count": 2})
    urgent = launch(owner_client, project, capture, resources={"gpu_count": 2}, priority=5)
    no_gpu = launch(owner_client, project, capture)  # needs no GPU: never waits behind GPU runs

    assert detail(owner_client, project, no_gpu)["status"] == "running"
    waiting = {run_id: detail(owner_client, project, run_id) for run_id in (urgent, first, second)}
    assert [waiting[run_id]["queue_position"] for run_id in (urgent, first, second)] == [1, 2, 3]
    assert waiting[urgent]["queue_reason"] == "waiting for 2 GPU(s), 0 free of 2"
    assert waiting[first]["queue_reason"] == f"waiting for GPUs behind run {waiting[urgent]['name']}"

    order = []
    for run_id in (holder, urgent, first):
        cancel(owner_client, project, run_id)
        supervisor.tick()
        order.append(
            next(r for r in (urgent, first, second) if detail(owner_client, project, r)["status"] == "running")
        )
    assert order == [urgent, first, second]
    cancel(owner_client, project, second)
    cancel(owner_client, project, no_gpu)


def test_it_holds_a_project_to_its_gpu_cap_while_other_projects_use_the_free_gpus(
    owner, owner_client, project, gpu_host, supervisor, django_capture_on_commit_callbacks
):
    gpu_host.GPU_IDS = "0,1,2"
    capture = django_capture_on_commit_callbacks
    project.max_concurrent_gpus = 1
    project.save(update_fields=["max_concurrent_gpus"])
    other = create_project(
        actor=owner,
        fields={
            "name": "other",
            "dataset_name": project.dataset_name,
            "training_yaml_name": project.training_yaml_name,
        },
    )

    first = launch(owner_client, project, capture, resources={"gpu_count": 1})
    capped = launch(owner_client, project, capture, resources={"gpu_count": 1})
    behind = launch(owner_client, project, capture, resources={"gpu_count": 1})
    elsewhere = launch(owner_client, other, capture, resources={"gpu_count": 2})

    assert detail(owner_client, project, first)["status"] == "running"
    waiting = detail(owner_client, project, capped)
    assert waiting["status"] == "queued"
    assert waiting["queue_reason"] == ("waiting for project 'qwen-finetune''s GPU cap: 1 of its 1 in use, 1 needed")
    assert detail(owner_client, project, behind)["queue_reason"] == (
        f"waiting for GPUs behind run {waiting['name']} of the same project"
    )
    assert detail(owner_client, other, elsewhere)["status"] == "running"  # the cap is the project's, not the host's

    cancel(owner_client, project, first)
    supervisor.tick()
    assert detail(owner_client, project, capped)["status"] == "running"
    for run_id in (capped, behind):
        cancel(owner_client, project, run_id)
    cancel(owner_client, other, elsewhere)


def test_it_keeps_a_run_for_an_a100_queued_while_only_other_types_are_free(
    owner_client, project, gpu_host, supervisor, django_capture_on_commit_callbacks
):
    gpu_host.GPU_IDS = "0:NVIDIA A100-SXM4-80GB,1:NVIDIA L4,2:NVIDIA L4"
    capture = django_capture_on_commit_callbacks
    holder = launch(owner_client, project, capture, name="holder", resources={"gpu_count": 1, "gpu_type": "a100"})
    wants_a100 = launch(owner_client, project, capture, name="a100", resources={"gpu_count": 1, "gpu_type": "A100"})
    wants_l4 = launch(owner_client, project, capture, resources={"gpu_count": 1, "gpu_type": "L4"})
    wants_any = launch(owner_client, project, capture, resources={"gpu_count": 2})

    assert detail(owner_client, project, holder)["gpu_indices"] == [0]
    waiting = detail(owner_client, project, wants_a100)
    assert waiting["status"] == "queued"
    assert waiting["queue_reason"] == "waiting for 1 A100 GPU(s), 0 free of 1"
    # Another type's run is not held back by it; a run that could take its A100 is.
    assert detail(owner_client, project, wants_l4)["gpu_indices"] in ([1], [2])
    assert detail(owner_client, project, wants_any)["queue_reason"] == "waiting for GPUs behind run a100"

    cancel(owner_client, project, holder)
    supervisor.tick()
    started = detail(owner_client, project, wants_a100)
    assert started["status"] == "running"
    assert started["gpu_indices"] == [0]
    assert any("Training started on GPU 0:" in line["message"] for line in started["logs"])
    for run_id in (wants_a100, wants_l4, wants_any):
        cancel(owner_client, project, run_id)


@pytest.mark.django_db(transaction=True)
def test_it_never_gives_a_gpu_twice_under_50_concurrent_claims(settings):
    """50 threads, each with its own database connection, claim 1 or 2 of 8 GPUs at once."""
    settings.GPU_IDS = ",".join(str(index) for index in range(8))
    start = threading.Barrier(50)
    granted: dict[str, list[int]] = {}
    refused: list[str] = []

    def claim(holder: str, count: int) -> None:
        try:
            start.wait()
            granted[holder] = claim_gpus(holder_kind=HolderKind.RUN, holder_id=holder, count=count)
        except GpusUnavailable:
            refused.append(holder)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(f"run-{i}", 1 + i % 2)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(granted) + len(refused) == 50
    given = Counter(index for indices in granted.values() for index in indices)
    assert given and max(given.values()) == 1, f"a GPU was given twice: {given}"
    rows = {(claim.holder_id, claim.gpu_index) for claim in GpuClaim.objects.all()}
    assert rows == {(holder, index) for holder, indices in granted.items() for index in indices}
    for holder, indices in granted.items():  # all or nothing
        assert len(indices) == 1 + int(holder.split("-")[1]) % 2


@pytest.fixture
def other_project(outsider, project):
    """A project of another team (the outsider's), with the same training files."""
    return create_project(
        actor=outsider,
        fields={
            "name": "other-team",
            "dataset_name": project.dataset_name,
            "training_yaml_name": project.training_yaml_name,
        },
    )


def hold_gpus_for_a_model_server(*indices: int) -> None:
    for index in indices:
        GpuClaim.objects.create(gpu_index=index, holder_kind=HolderKind.DEPLOYMENT, holder_id=f"server-{index}")


def test_it_starts_another_projects_run_while_a_big_run_waits_for_gpus_its_own_project_holds(
    owner_client, outsider_client, project, other_project, gpu_host, supervisor, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    held = launch(owner_client, project, capture, resources={"gpu_count": 1})
    big = launch(owner_client, project, capture, resources={"gpu_count": 2})
    small = launch(outsider_client, other_project, capture, resources={"gpu_count": 1})

    assert detail(outsider_client, other_project, small)["status"] == "running"
    waiting = detail(owner_client, project, big)
    assert (waiting["status"], waiting["queue_position"]) == ("queued", 1)
    assert waiting["queue_reason"] == "waiting for 2 GPU(s), 0 free of 2"

    cancel(owner_client, project, held)
    cancel(outsider_client, other_project, small)
    supervisor.tick()
    started = detail(owner_client, project, big)
    assert (started["status"], sorted(started["gpu_indices"])) == ("running", [0, 1])
    cancel(owner_client, project, big)


def test_it_lets_another_project_use_the_gpus_a_big_run_waits_for_until_it_has_waited_its_reservation_time(
    owner_client, outsider_client, project, other_project, gpu_host, supervisor, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    hold_gpus_for_a_model_server(0)
    big = launch(owner_client, project, capture, name="big", resources={"gpu_count": 2})
    first = launch(outsider_client, other_project, capture, resources={"gpu_count": 1})

    assert detail(outsider_client, other_project, first)["status"] == "running"
    assert detail(owner_client, project, big)["queue_reason"] == "waiting for 2 GPU(s), 0 free of 2"

    Run.objects.filter(pk=big).update(created_at=timezone.now() - timedelta(hours=2))  # queued for 2 hours now
    cancel(outsider_client, other_project, first)
    second = launch(outsider_client, other_project, capture, resources={"gpu_count": 1})

    waiting = detail(outsider_client, other_project, second)
    assert (waiting["status"], waiting["queue_position"]) == ("queued", 2)
    assert waiting["queue_reason"] == (
        "waiting for GPUs held for a run of another project queued for over 3600 s (GPU_RESERVATION_AFTER_SECONDS)"
    )
    assert detail(owner_client, project, big)["queue_position"] == 1

    GpuClaim.objects.filter(holder_kind=HolderKind.DEPLOYMENT).delete()  # the model server stopped
    supervisor.tick()
    assert detail(owner_client, project, big)["status"] == "running"
    still = detail(outsider_client, other_project, second)
    assert (still["queue_position"], still["queue_reason"]) == (1, "waiting for 1 GPU(s), 0 free of 2")
    cancel(owner_client, project, big)
    cancel(outsider_client, other_project, second)


def test_it_gives_the_next_turn_to_the_project_holding_fewer_gpus(
    owner_client, outsider_client, project, other_project, gpu_host, supervisor, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    hold_gpus_for_a_model_server(0, 1)
    mine = [launch(owner_client, project, capture, resources={"gpu_count": 1}) for _ in range(3)]
    theirs = launch(outsider_client, other_project, capture, resources={"gpu_count": 1})

    positions = [detail(owner_client, project, run_id)["queue_position"] for run_id in mine]
    assert (positions, detail(outsider_client, other_project, theirs)["queue_position"]) == ([1, 3, 4], 2)

    GpuClaim.objects.filter(holder_kind=HolderKind.DEPLOYMENT).delete()
    supervisor.tick()
    assert detail(outsider_client, other_project, theirs)["status"] == "running"
    states = [detail(owner_client, project, run_id) for run_id in mine]
    assert [state["status"] for state in states] == ["running", "queued", "queued"]
    assert [state["queue_position"] for state in states[1:]] == [1, 2]
    assert states[2]["queue_reason"] == f"waiting for GPUs behind run {states[1]['name']}"
    for run_id in mine:
        cancel(owner_client, project, run_id)
    cancel(outsider_client, other_project, theirs)
