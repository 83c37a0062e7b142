"""runs.scheduling: priority then FIFO, GPUs claimed at launch and released at the end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from gpus.models import GpuClaim, HolderKind
from llmplatform.testing import wait_for
from projects.models import ExecutorKind, Project
from projects.services import create_project
from runs import models as run_models
from runs import scheduling, services
from runs.models import Run, RunStatus
from runs.scheduling import dispatch_queued_runs


def other_project(project, outsider):
    """A second team's project on the same files, competing for the same GPUs."""
    return create_project(
        actor=outsider,
        fields={
            "name": "other",
            "dataset_name": project.dataset_name,
            "training_yaml_name": project.training_yaml_name,
        },
    )


@pytest.fixture
def sleeper(settings, training_dir):
    settings.TRAINING_COMMAND = "sleep 60"
    settings.CANCEL_GRACE_SECONDS = 2.0
    settings.GPU_IDS = "0,1"


def queue(project, owner, *, gpus=0, priority=0, name=""):
    return services.create_run(
        project=project, actor=owner, name=name, priority=priority, resources={"gpu_count": gpus} if gpus else {}
    )


def status_of(run: Run) -> str:
    run.refresh_from_db()
    return run.status


def test_it_starts_higher_priority_first_then_first_come_first_served(project, owner, sleeper):
    project.max_priority = 5  # as staff allow it
    project.save(update_fields=["max_priority"])
    early = queue(project, owner, gpus=2, name="early")
    late = queue(project, owner, gpus=2, name="late")
    urgent = queue(project, owner, gpus=2, priority=5, name="urgent")

    assert [run.name for run in dispatch_queued_runs()] == ["urgent"]
    early.refresh_from_db()
    assert early.queue_reason == "waiting for 2 GPU(s), 0 free of 2"
    late.refresh_from_db()
    assert late.queue_reason == "waiting for GPUs behind run early"
    assert sorted(GpuClaim.objects.filter(holder_id=str(urgent.pk)).values_list("gpu_index", flat=True)) == [0, 1]

    services.cancel_run(run=Run.objects.get(pk=urgent.pk), actor=owner)
    assert not GpuClaim.objects.exists()  # released the moment it was cancelled

    assert [run.name for run in dispatch_queued_runs()] == ["early"]
    assert status_of(late) == RunStatus.QUEUED


def test_it_starts_runs_without_gpus_while_gpu_runs_wait(project, owner, sleeper):
    queue(project, owner, gpus=1, name="first")
    big = queue(project, owner, gpus=2, name="big")
    small = queue(project, owner, name="cpu-only")

    assert [run.name for run in dispatch_queued_runs()] == ["first", "cpu-only"]
    assert status_of(big) == RunStatus.QUEUED
    assert status_of(small) == RunStatus.RUNNING


def test_it_releases_gpus_when_a_run_fails(project, owner, settings, training_dir, supervisor):
    settings.GPU_IDS = "0"
    settings.TRAINING_COMMAND = "sh -c 'exit 4'"
    run = queue(project, owner, gpus=1)

    dispatch_queued_runs()
    assert GpuClaim.objects.filter(holder_id=str(run.pk)).exists()
    wait_for(lambda: status_of(run) == RunStatus.FAILED, between=supervisor.tick)

    assert run.exit_code == 4
    assert not GpuClaim.objects.exists()


def test_it_never_launches_one_run_twice(project, owner, sleeper):
    run = queue(project, owner)

    assert len(dispatch_queued_runs()) == 1
    assert dispatch_queued_runs() == []
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING


def test_it_gives_a_tied_turn_to_the_project_that_started_a_gpu_run_least_recently(project, owner, outsider, sleeper):
    other = other_project(project, outsider)
    Run.objects.create(
        project=project, name="yesterday", status=RunStatus.COMPLETED, started_at=timezone.now(), gpu_indices=[0, 1]
    )
    Run.objects.create(project=other, name="cpu-only", status=RunStatus.COMPLETED, started_at=timezone.now())
    mine = queue(project, owner, gpus=2, name="mine")
    theirs = queue(other, outsider, gpus=2, name="theirs")  # later, but its project has had no GPU turn yet
    assert [scheduling.queue_position(run) for run in (theirs, mine)] == [1, 2]

    assert [run.name for run in dispatch_queued_runs()] == ["theirs"]
    mine.refresh_from_db()
    assert mine.queue_reason == "waiting for 2 GPU(s), 0 free of 2"


@pytest.mark.parametrize(
    ("shrink", "says"),
    [
        (
            {"GPU_IDS": "0,1"},
            "This host has 2 GPU(s), fewer than the 3 asked for; "
            "the GPUs here are 2 × unnamed (GPU_IDS names them as index:name).",
        ),
        (
            {"max_concurrent_gpus": 2},
            "Project 'qwen-finetune' may hold at most 2 GPU(s) at once (max_concurrent_gpus, set by staff); "
            "this run asks for 3.",
        ),
    ],
)
def test_it_lets_a_run_that_can_no_longer_start_hold_nothing_back(project, owner, settings, sleeper, shrink, says):
    settings.GPU_IDS = "0,1,2"
    GpuClaim.objects.create(gpu_index=2, holder_kind=HolderKind.DEPLOYMENT, holder_id="a model server")
    big = queue(project, owner, gpus=3, name="big")
    queue(project, owner, gpus=1, name="small")
    settings.GPU_IDS = shrink.get("GPU_IDS", settings.GPU_IDS)
    Project.objects.filter(pk=project.pk).update(max_concurrent_gpus=shrink.get("max_concurrent_gpus"))

    assert [run.name for run in dispatch_queued_runs()] == ["small"]
    big.refresh_from_db()
    assert (big.status, big.queue_reason) == (RunStatus.QUEUED, says)


def test_it_looks_at_a_window_of_each_projects_queue_and_tells_the_runs_beyond_it_why_they_wait(
    project, owner, sleeper, monkeypatch
):
    monkeypatch.setattr(run_models, "WINDOW", 2)
    gpu_runs = [queue(project, owner, gpus=2, name=f"gpu-{index}") for index in range(5)]
    queue(project, owner, name="cpu-only")  # beyond the window of GPU runs, in its own

    assert [run.name for run in dispatch_queued_runs()] == ["gpu-0", "cpu-only"]

    waiting = [Run.objects.get(pk=run.pk) for run in gpu_runs[1:]]
    assert [run.queue_reason for run in waiting] == [
        "waiting for 2 GPU(s), 0 free of 2",
        *[scheduling.BEHIND_OWN_PROJECT] * 3,
    ]
    assert [scheduling.queue_position(run) for run in waiting] == [1, 2, 3, 4]  # the whole queue, in order


def test_it_tells_a_run_queued_behind_a_full_window_of_its_project_that_it_waits_behind_them_from_the_start(
    project, owner, outsider, sleeper, monkeypatch
):
    monkeypatch.setattr(run_models, "WINDOW", 2)
    project.max_priority = 1  # as staff allow it
    project.save(update_fields=["max_priority"])
    other = other_project(project, outsider)
    mine = [queue(project, owner, gpus=2, name=f"gpu-{index}") for index in range(4)]
    cpu_only = queue(project, owner, name="cpu-only")
    urgent_lane = queue(project, owner, gpus=2, priority=1, name="urgent")  # a lane of its own
    theirs = queue(other, outsider, gpus=2, name="theirs")

    said = [Run.objects.get(pk=run.pk).queue_reason for run in [*mine, cpu_only, urgent_lane, theirs]]
    assert said == [
        "waiting to be dispatched",
        "waiting to be dispatched",
        scheduling.BEHIND_OWN_PROJECT,
        scheduling.BEHIND_OWN_PROJECT,
        "waiting to be dispatched",
        "waiting to be dispatched",
        "waiting to be dispatched",
    ]

    assert [run.name for run in dispatch_queued_runs()] == ["urgent", "cpu-only"]

    # In the window, each says what it waits for; beyond it, still behind its project's earlier runs.
    said = [Run.objects.get(pk=run.pk).queue_reason for run in [*mine, theirs]]
    assert said == [
        "waiting for 2 GPU(s), 0 free of 2",
        "waiting for GPUs behind run gpu-0",
        scheduling.BEHIND_OWN_PROJECT,
        scheduling.BEHIND_OWN_PROJECT,
        "waiting for 2 GPU(s), 0 free of 2",
    ]


def test_it_tells_runs_beyond_the_window_that_were_not_told_when_queued_a_few_each_pass(
    project, owner, sleeper, settings, monkeypatch
):
    monkeypatch.setattr(run_models, "WINDOW", 2)
    monkeypatch.setattr(scheduling, "TOLD_PER_PASS", 2)
    settings.GPU_IDS = "0"
    holder = queue(project, owner, gpus=1, name="holder")
    assert dispatch_queued_runs() == [holder]
    # Queued as an earlier version of the platform queued them: each only waiting to be dispatched.
    base = timezone.now()
    old = Run.objects.bulk_create(
        Run(
            project=project,
            name=f"old-{index}",
            resources={"gpu_count": 1},
            queue_reason="waiting to be dispatched",
            created_at=base + timedelta(seconds=index),
        )
        for index in range(6)
    )

    def reasons() -> list[str]:
        return [Run.objects.get(pk=run.pk).queue_reason for run in old]

    assert dispatch_queued_runs() == []
    window = ["waiting for 1 GPU(s), 0 free of 1", "waiting for GPUs behind run old-0"]
    assert reasons() == [*window, *[scheduling.BEHIND_OWN_PROJECT] * 2, *["waiting to be dispatched"] * 2]

    assert dispatch_queued_runs() == []
    assert reasons() == [*window, *[scheduling.BEHIND_OWN_PROJECT] * 4]


def test_it_writes_a_bounded_number_of_changed_queue_reasons_a_pass_first_those_of_the_runs_first_in_line(
    project, owner, sleeper, settings, monkeypatch
):
    monkeypatch.setattr(scheduling, "REASONS_PER_PASS", 2)
    settings.GPU_IDS = "0"
    holder = queue(project, owner, gpus=1, name="holder")
    waiting = [queue(project, owner, gpus=1, name=f"next-{index}") for index in range(4)]

    def reasons() -> list[str]:
        return [Run.objects.get(pk=run.pk).queue_reason for run in waiting]

    assert dispatch_queued_runs() == [holder]
    told = ["waiting for 1 GPU(s), 0 free of 1", "waiting for GPUs behind run next-0"]
    assert reasons() == [*told, "waiting to be dispatched", "waiting to be dispatched"]

    assert dispatch_queued_runs() == []
    assert reasons() == [*told, "waiting for GPUs behind run next-0", "waiting for GPUs behind run next-0"]


def test_it_starts_at_most_dispatch_starts_per_pass_runs_a_pass_and_the_rest_in_the_next(
    project, owner, sleeper, settings
):
    settings.DISPATCH_STARTS_PER_PASS = 2
    settings.GPU_IDS = "0,1,2"
    runs = [queue(project, owner, gpus=1, name=f"run-{index}") for index in range(3)]

    assert [run.name for run in dispatch_queued_runs()] == ["run-0", "run-1"]
    assert status_of(runs[2]) == RunStatus.QUEUED
    assert GpuClaim.objects.filter(holder_id=str(runs[2].pk)).count() == 0  # nothing held for it meanwhile

    assert [run.name for run in dispatch_queued_runs()] == ["run-2"]
    assert sorted(GpuClaim.objects.values_list("gpu_index", flat=True)) == [0, 1, 2]


def test_it_ends_a_window_at_its_last_run_among_runs_queued_at_the_same_moment_and_tells_newcomers_beyond_it(
    project, owner, sleeper, settings, monkeypatch
):
    monkeypatch.setattr(run_models, "WINDOW", 2)
    settings.GPU_IDS = "0"
    runs = [queue(project, owner, gpus=1, name=f"gpu-{index}") for index in range(4)]
    Run.objects.filter(pk__in=[run.pk for run in runs]).update(created_at=timezone.now())
    first, second, *beyond = sorted(runs, key=lambda run: run.pk)  # first come first served: then by key

    assert [run.name for run in dispatch_queued_runs()] == [first.name]

    assert Run.objects.get(pk=second.pk).queue_reason == "waiting for 1 GPU(s), 0 free of 1"
    assert [Run.objects.get(pk=run.pk).queue_reason for run in beyond] == [scheduling.BEHIND_OWN_PROJECT] * 2
    newcomer = queue(project, owner, gpus=1, name="newcomer")
    assert dispatch_queued_runs() == []
    assert Run.objects.get(pk=newcomer.pk).queue_reason == scheduling.BEHIND_OWN_PROJECT


def test_it_places_a_run_without_gpus_queued_behind_a_full_window_by_what_every_run_before_it_asks_for(
    project, owner, outsider, sleeper, settings, monkeypatch
):
    monkeypatch.setattr(run_models, "WINDOW", 2)
    settings.GPU_IDS = ",".join(str(index) for index in range(8))
    other = other_project(project, outsider)
    waiting = [
        queue(project, owner, gpus=1, name="mine-1"),
        queue(project, owner, gpus=1, name="mine-2"),
        queue(project, owner, gpus=4, name="mine-beyond"),  # its share counts for the run after it
        queue(project, owner, name="mine-cpu"),  # its project's runs before it ask for 6 GPUs
        queue(other, outsider, gpus=5, name="theirs-5"),
        queue(other, outsider, gpus=1, name="theirs-1"),  # its project's run before it asks for 5
    ]
    in_order = ["mine-1", "theirs-5", "mine-2", "mine-beyond", "theirs-1", "mine-cpu"]
    assert [scheduling.queue_position(run) for run in waiting] == [in_order.index(run.name) + 1 for run in waiting]

    started = [run.name for run in dispatch_queued_runs()]

    assert started == [name for name in in_order if name != "mine-beyond"]  # beyond its project's window


def test_it_gives_back_the_gpus_of_a_run_whose_supervisor_died_before_releasing_them(project, owner, sleeper):
    ended = Run.objects.create(project=project, name="ended", status=RunStatus.FAILED, gpu_indices=[0, 1])
    stopping = Run.objects.create(
        project=project, name="stopping", status=RunStatus.CANCELLED, executor_state={"stop": {"by": "alice"}}
    )
    for index, holder in ((0, ended), (1, ended), (2, stopping)):
        GpuClaim.objects.create(gpu_index=index, holder_kind=HolderKind.RUN, holder_id=str(holder.pk))
    waiting = queue(project, owner, gpus=2, name="waiting")

    assert [run.name for run in dispatch_queued_runs()] == ["waiting"]

    assert sorted(GpuClaim.objects.values_list("gpu_index", "holder_id")) == [
        (0, str(waiting.pk)),
        (1, str(waiting.pk)),
        (2, str(stopping.pk)),  # kept until its processes are stopped
    ]


def test_it_counts_a_queued_runs_position_in_the_order_the_dispatcher_starts_runs(
    project, owner, outsider, staff, sleeper, settings
):
    settings.GPU_IDS = "0,1,2,3"
    project.max_priority = 1  # as staff allow it
    project.save(update_fields=["max_priority"])
    other = other_project(project, outsider)
    holder = Run.objects.create(project=project, name="holder", status=RunStatus.RUNNING, gpu_indices=[0, 1])
    GpuClaim.objects.bulk_create(
        GpuClaim(gpu_index=index, holder_kind=HolderKind.RUN, holder_id=str(holder.pk)) for index in (0, 1)
    )
    Run.objects.create(project=other, name="yesterday", status=RunStatus.COMPLETED, started_at=timezone.now())
    waiting = [
        queue(project, owner, gpus=2, name="mine-2"),
        queue(other, outsider, gpus=4, name="theirs-4"),
        queue(project, owner, gpus=1, name="mine-1"),
        queue(other, outsider, name="theirs-cpu"),
        queue(other, outsider, gpus=1, name="theirs-1"),
        queue(project, owner, gpus=1, priority=1, name="mine-urgent"),
        queue(other, outsider, gpus=2, name="theirs-2"),
    ]
    positions = {}
    for run in waiting:
        position = scheduling.queue_position(run)
        assert position is not None
        positions[run.name] = position
    assert sorted(positions.values()) == list(range(1, len(waiting) + 1))
    settings.GPU_IDS = ",".join(str(index) for index in range(2 + 2 + 4 + 1 + 1 + 1 + 2))  # room for every run

    started = [run.name for run in dispatch_queued_runs()]

    assert started == sorted(positions, key=positions.__getitem__)
    # Higher priority first; then the project holding fewer GPUs goes first until it has caught up.
    assert started == ["mine-urgent", "theirs-4", "mine-2", "theirs-cpu", "theirs-1", "mine-1", "theirs-2"]


def test_it_keeps_the_gpus_a_run_takes_from_the_ledger_in_the_database_as_the_dispatcher_counts_them(project):
    asked = [
        ("local", {"gpu_count": 2}),
        ("local", {}),
        ("local", {"gpu_count": None}),
        ("local", {"gpu_count": 0}),
        ("local", {"gpu_count": -1}),
        ("local", {"gpu_count": True}),
        ("local", {"gpu_count": 2.5}),
        ("local", {"gpu_count": "2"}),
        ("local", ["gpu_count"]),
        *((executor, {"gpu_count": 2}) for executor in ExecutorKind.values),
    ]
    runs = [Run.objects.create(project=project, executor=kind, resources=resources) for kind, resources in asked]

    counted = dict(Run.objects.values_list("pk", "ledger_gpus"))

    assert [counted[run.pk] for run in runs] == [scheduling.gpus_needed(run) for run in runs]
    assert [counted[run.pk] for run in runs][:9] == [2, 0, 0, 0, 0, 0, 0, 0, 0]


def test_it_gives_back_the_gpus_claimed_for_a_queued_run_nobody_is_starting(project, owner, sleeper, settings):
    abandoned = queue(project, owner, gpus=1, name="abandoned")
    # A dispatcher killed between claiming its GPU and starting it: its lease names a process that is gone.
    dead = f"{settings.HOSTNAME}/{2**22 + 1}/1/dispatch"
    Run.objects.filter(pk=abandoned.pk).update(lease_owner=dead, lease_expires_at=timezone.now() + timedelta(hours=1))
    GpuClaim.objects.create(gpu_index=1, holder_kind=HolderKind.RUN, holder_id=str(abandoned.pk))
    waiting = queue(project, owner, gpus=1, name="waiting")

    assert [run.name for run in dispatch_queued_runs()] == ["abandoned", "waiting"]

    assert sorted(GpuClaim.objects.values_list("holder_id", flat=True)) == sorted([str(abandoned.pk), str(waiting.pk)])


def test_it_starts_a_local_run_only_on_the_host_that_launched_it(project, owner, sleeper, settings):
    settings.HOSTNAME = "gpu-a"
    run = queue(project, owner, gpus=1, name="on-a")

    settings.HOSTNAME = "gpu-b"  # another host's loop, with GPUs free
    assert dispatch_queued_runs() == []
    run.refresh_from_db()
    assert (run.status, run.host, run.queue_reason) == (RunStatus.QUEUED, "gpu-a", "waiting to be dispatched")
    assert not GpuClaim.objects.exists()

    settings.HOSTNAME = "gpu-a"
    assert [started.name for started in dispatch_queued_runs()] == ["on-a"]
    assert list(GpuClaim.objects.values_list("host", "gpu_index")) == [("gpu-a", 0)]
