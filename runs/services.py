"""Run workflows: create, start, finish, cancel, resume, tag.

Views, tasks, the scheduler and the supervisor call these; status changes go
through `Run.transition` (guarded, race-safe), and whoever reads the run's log
file into the database holds the run's lease (see llmplatform.leases), so lines are
never ingested twice.

The platform's own log lines ("started", "cancelled", why it failed) are appended
to the run's log file, never inserted beside it, so the log has one order and one
sequence: the file's.
"""

from __future__ import annotations

import shlex
import shutil
import time
import uuid
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction
from audit.services import record_event, signed_in
from datasets.models import DatasetFile
from gpus.models import HolderKind
from gpus.services import release_gpus
from llmplatform import leases
from llmplatform.errors import ConflictingState, InvalidInput, refuse_invalid_fields
from llmplatform.processes import COMMAND_NOT_FOUND, COMMAND_NOT_FOUND_EXIT_CODE
from llmplatform.sentences import JOINED, gettext_noop
from llmplatform.training_yaml import TrainingYamlError, quoted, read_training_yaml
from llmplatform.users import Actor
from projects.models import Project, TrainerKind, validate_hyperparameters
from projects.trainer_arguments import refuse_unfit_config
from projects.training_command import check_command_template
from projects.training_files import UnsafePath, resolve_training_file
from runs import disk, events, launch, lengths
from runs.config_paths import Confinement, confinement_problems
from runs.executors import EXECUTOR_CLASSES, get_executor
from runs.executors.base import Executor, LaunchError, LaunchSpec, ProcessState
from runs.ingest import ingest_run, latest_complete_checkpoint
from runs.models import (
    ACTIVE_STATUSES,
    MAX_RUN_NOTES_CHARS,
    Artifact,
    ArtifactTag,
    ArtifactTagValue,
    ArtifactType,
    LogLevel,
    Run,
    RunStatus,
    check_gpu_request,
    validate_run_tags,
)

# The Chinese tag names teams use are the same three tags.
TAG_ALIASES = {"候选": ArtifactTagValue.CANDIDATE, "发布": ArtifactTagValue.RELEASE, "归档": ArtifactTagValue.ARCHIVED}
STARTED_PROGRESS = 0.05  # a started run shows 5 %, before the trainer reports any
# In a running run's executor_state: who asked for a cancel that its supervisor carries out.
CANCEL_REQUEST = "cancel_request"


def append_platform_line(run: Run, level: str, message: str) -> None:
    """Write one line of the platform's own into the run's log file (ingested like the trainer's)."""
    # This host's local time, as trainers print theirs: the ingest reads it as the line's time.
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
    line = f"{level}: [platform] {stamp} {message}".replace("\r", " ").replace("\n", " ") + "\n"
    run.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(run.log_path, "ab") as log:  # O_APPEND: one write, never interleaved mid-line
        log.write(line.encode("utf-8"))


# --- creating ---------------------------------------------------------------


def _resolve_existing(relative: str, field: str, missing: list[str], unsafe: list[str]) -> Path | None:
    if not relative:
        missing.append(field)
        return None
    try:
        path = resolve_training_file(relative)
        is_file = path.is_file()
    except UnsafePath as exc:
        unsafe.append(f"{field} {relative!r} {exc}")
        return None
    except OSError as exc:  # the whole path longer than the system allows, say
        unsafe.append(
            gettext_noop("{field} {relative!r} cannot be opened: {error}").format(
                field=field, relative=relative, error=exc.strerror
            )
        )
        return None
    if not is_file:
        missing.append(relative)
        return None
    return path


def config_origin(*, yaml_keys: list[str], yaml_name: str, overrides: list[str]) -> dict[str, str]:
    """Where each key of a run's effective config came from, for the sentences that name it."""
    origin = dict.fromkeys(yaml_keys, gettext_noop("the training YAML {name!r}").format(name=yaml_name))
    return origin | dict.fromkeys(overrides, gettext_noop("hyperparameters"))


def _refuse_paths_outside(config: dict[str, Any], *, project: Project, run_dir: Path, origin: dict[str, str]) -> None:
    """InvalidInput naming each key of the effective config that points the trainer outside what the run may use."""
    checkpoints = Artifact.objects.filter(run__project=project, type=ArtifactType.CHECKPOINT)
    problems = confinement_problems(
        config,
        confinement=Confinement.for_run(run_dir=run_dir, checkpoints=checkpoints.values_list("path", flat=True)),
        cwd=Path(settings.HOST_TRAINING_DIR),
        origin=origin,
    )
    if problems:
        raise InvalidInput(
            gettext_noop("The run's config names paths a run may not use: {problems}.").format(
                problems=JOINED.join(problems)
            ),
            errors=problems,
        )


def _uploaded_dataset(dataset: str, *, project: Project) -> tuple[str, dict[str, Any]] | None:
    """The dataset_info.json entry LLaMA-Factory reads `dataset` by, when the project trains with LLaMA-Factory
    and `dataset` is a validated upload; else None (the YAML's `dataset` stands)."""
    if project.trainer_in_effect != TrainerKind.LLAMAFACTORY:
        return None
    uploads = DatasetFile.objects.filter(relative_path=dataset).select_related("dataset").order_by("-created_at")
    upload = uploads.first()
    return launch.dataset_info_entry(upload) if upload is not None else None


def _usable_template(project: Project) -> str:
    """The project's command template, else TRAINING_COMMAND; one saved before templates were checked may not do."""
    template = project.executor_options.get("command") or settings.TRAINING_COMMAND
    try:
        check_command_template(template)
    except ValueError as exc:
        raise InvalidInput(
            format_lazy(_("The training command {template!r} cannot be used: {exc}."), template=template, exc=exc)
        ) from None
    return template


def _default_name(project: Project) -> str:
    return f"run-{project.runs.count() + 1:03d}"


def create_run(
    *,
    project: Project,
    actor: Actor,
    name: str = "",
    model: str | None = None,
    dataset: str | None = None,
    training_yaml_name: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
    priority: int = 0,
    resume_from: Artifact | None = None,
) -> Run:
    """Queue a run of `project`; missing fields fall back to the project's (or, when
    resuming, to the source run's). Writes the effective config before anything starts."""
    if project.is_archived:
        raise ConflictingState(
            format_lazy(
                _("Project {project_name!r} is archived; unarchive it before launching runs."),
                project_name=project.name,
            )
        )
    project.check_priority(priority, actor)
    # Blank or absent: the source run's value when resuming, else the project's.
    source_run = resume_from.run if resume_from is not None else None
    dataset = dataset or (source_run.dataset if source_run else project.dataset_name)
    training_yaml_name = training_yaml_name or (
        source_run.training_yaml_name if source_run else project.training_yaml_name
    )
    model = model or (source_run.model if source_run else project.base_model)
    defaults = source_run.hyperparameters if source_run else project.default_hyperparameters
    hyperparameters = {**defaults, **(hyperparameters or {})}
    refuse_invalid_fields({"hyperparameters": hyperparameters}, {"hyperparameters": validate_hyperparameters})
    resources = resources if resources is not None else dict(source_run.resources if source_run else {})

    missing: list[str] = []
    unsafe: list[str] = []
    dataset_path = _resolve_existing(dataset, "dataset", missing, unsafe)
    yaml_path = _resolve_existing(training_yaml_name, "training_yaml_name", missing, unsafe)
    if unsafe:
        raise InvalidInput(JOINED.join(unsafe), errors=unsafe)
    if missing:
        # `missing` names a path that is absent, or the field itself when no path was given at all.
        given = {"dataset": dataset, "training_yaml_name": training_yaml_name}
        unset = [name for name, value in given.items() if not value]
        absent = [item for item in missing if item not in unset]
        if absent and unset:
            refusal = gettext_noop(
                "Not found under the training directory: {absent}. Not set on the run or its project: {unset}."
            )
        elif absent:
            refusal = gettext_noop("Not found under the training directory: {absent}.")
        else:
            refusal = gettext_noop("Not set on the run or its project: {unset}.")
        raise InvalidInput(refusal.format(absent=", ".join(absent), unset=", ".join(unset)), missing=missing)
    assert dataset_path is not None and yaml_path is not None
    try:
        base_config = read_training_yaml(yaml_path)
    except TrainingYamlError as exc:
        raise InvalidInput(
            format_lazy(
                _("The training YAML {training_yaml_name!r} is not usable: {exc}."),
                training_yaml_name=training_yaml_name,
                exc=exc,
            ),
            errors=exc.problems,
        ) from None

    executor = project.executor or settings.DEFAULT_EXECUTOR
    if executor not in EXECUTOR_CLASSES:
        raise InvalidInput(
            format_lazy(
                _("Unknown executor {executor!r}; choose one of {choices}."),
                executor=executor,
                choices=sorted(EXECUTOR_CLASSES),
            )
        )
    check_gpu_request(project=project, executor=executor, resources=resources)
    disk.refuse_when_full(project=project, resume_from=resume_from)

    run_id = uuid.uuid4()
    run_dir = Path(settings.RUNS_DIR) / str(run_id)
    output_dir = run_dir / "output"
    config_path = run_dir / "config.yaml"
    checkpoint = Path(resume_from.path) if resume_from is not None else None
    uploaded = _uploaded_dataset(dataset, project=project)
    dataset_keys = {"dataset": uploaded[0], "dataset_dir": str(run_dir)} if uploaded else {}
    config = launch.effective_config(
        {**base_config, **dataset_keys},
        overrides=hyperparameters,
        output_dir=output_dir,
        resume_from_checkpoint=checkpoint,
    )
    yaml_keys = [key for key in base_config if key not in dataset_keys]
    origin = config_origin(yaml_keys=yaml_keys, yaml_name=training_yaml_name, overrides=list(hyperparameters))
    _refuse_paths_outside(config, project=project, run_dir=run_dir, origin=origin)
    refuse_unfit_config(config, trainer=project.trainer_in_effect, origin=origin, what=gettext_noop("The run's config"))
    template = _usable_template(project)
    warnings = lengths.length_warnings(project=project, dataset=dataset, config=config, model=model, actor=actor)
    argv = launch.build_argv(
        template,
        {
            "training_yaml": str(config_path),
            "run_id": str(run_id),
            "run_dir": str(run_dir),
            "output_dir": str(output_dir),
            "dataset": str(dataset_path),
        },
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    if uploaded:
        launch.write_dataset_info({uploaded[0]: uploaded[1]}, run_dir)
    launch.write_config(config, config_path)
    try:
        with transaction.atomic():
            (run,) = Run.objects.enqueue(
                [
                    Run(
                        id=run_id,
                        project=project,
                        name=name or _default_name(project),
                        created_by=signed_in(actor),
                        model=model,
                        dataset=dataset,
                        training_yaml_name=training_yaml_name,
                        hyperparameters=hyperparameters,
                        resources=resources,
                        priority=priority,
                        resume_source_artifact=resume_from,
                        executor=executor,
                        argv=argv,
                        start_command=shlex.join(argv),
                        run_dir=str(run_dir),
                        output_dir=str(output_dir),
                        warnings=warnings,
                        # A local run starts here only: its training folder and GPUs are this host's (runs.scheduling).
                        host=settings.HOSTNAME,
                    )
                ]
            )
            Artifact.objects.create(
                run=run,
                name="config.yaml",
                type=ArtifactType.CONFIG,
                path=str(config_path),
                size_bytes=config_path.stat().st_size,
            )
            record_event(
                actor=actor,
                action=AuditAction.CREATE,
                target=run,
                changes={
                    "project": project.name,
                    "resume_source_artifact": str(resume_from.pk) if resume_from else None,
                },
            )
            transaction.on_commit(partial(_enqueue_dispatch, run))
    except Exception:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    for warning in warnings:
        level = LogLevel.WARNING if warning["code"] == lengths.TRUNCATION else LogLevel.INFO
        append_platform_line(run, level, warning["message"])
    if uploaded:
        append_platform_line(
            run,
            LogLevel.INFO,
            f"LLaMA-Factory reads the dataset {dataset!r} as {uploaded[0]!r} ({uploaded[1]['formatting']}) "
            f"from {launch.DATASET_INFO} in the run's folder.",
        )
    elif "dataset" in base_config and str(base_config["dataset"]) != dataset:
        append_platform_line(
            run,
            LogLevel.WARNING,
            f"The training YAML's dataset {quoted(base_config['dataset'])} differs from the run's dataset {dataset!r}; "
            "the trainer uses the YAML's.",
        )
    return run


def _enqueue_dispatch(run: Run) -> None:
    """A worker that may start the run dispatches: for a local run, one of the host that launched it."""
    from django_q.tasks import async_task

    async_task(
        "runs.tasks.dispatch_queued_runs",
        task_name="dispatch queued runs",
        group="runs",
        cluster=get_executor(run.executor).task_queue(run),
    )


# --- starting and finishing -------------------------------------------------


def start_run(*, run: Run, gpu_indices: list[int], lease_owner: str) -> bool:
    """Launch a queued run whose lease `lease_owner` holds (GPUs already claimed for it).

    Afterwards the run is `running` at 5 % with a confirmation line, still `queued` in
    its executor's own queue (a pending Slurm job; the supervisor marks it running once
    it starts), or `failed` with an ERROR line; the lease and, on failure, the GPUs are
    released either way.
    """
    executor = get_executor(run.executor)
    env = launch.process_env(
        run_id=str(run.pk),
        run_dir=Path(run.run_dir),
        output_dir=Path(run.output_dir),
        resume_from=run.resume_source_artifact.path if run.resume_source_artifact else "",
        gpu_indices=gpu_indices,
    )
    spec = LaunchSpec(
        argv=list(run.argv),
        cwd=Path(settings.HOST_TRAINING_DIR),
        env=env,
        run_dir=Path(run.run_dir),
        log_path=run.log_path,
        exit_code_path=run.exit_code_path,
        gpu_indices=gpu_indices,
        options=dict(run.project.executor_options),
    )
    try:
        try:
            state = executor.launch(run, spec)
        except LaunchError as exc:
            append_platform_line(run, LogLevel.ERROR, f"The training command could not start: {exc}")
            run.transition(
                RunStatus.QUEUED, RunStatus.FAILED, completed_at=timezone.now(), queue_reason="", gpu_indices=[]
            )
            ingest_run(run, final=True)
            release_gpus(holder_kind=HolderKind.RUN, holder_id=run.pk)
            record_event(actor=None, action=AuditAction.ACTION, target=run, verb="fail", changes={"error": str(exc)})
            events.run_changed(run, error=str(exc))
            return False
        if executor.queues_itself:
            run.executor_state = state
            observation = executor.observe(run)
            if observation.state is ProcessState.PENDING:
                return _wait_in_executor_queue(run, state=state, reason=observation.reason)
        return mark_running(run=run, executor_state=state, gpu_indices=gpu_indices)
    finally:
        run.release_lease(lease_owner)


def _last_error_lines(run: Run, count: int = 5) -> list[str]:
    lines = run.log_lines.filter(level=LogLevel.ERROR).order_by("-seq").values_list("message", flat=True)[:count]
    return list(reversed(lines))


def _wait_in_executor_queue(run: Run, *, state: dict[str, Any], reason: str) -> bool:
    """The executor accepted the run into its own queue: it stays `queued` until it starts."""
    waiting = Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        executor_state=state, host=settings.HOSTNAME, queue_reason=reason, updated_at=timezone.now()
    )
    if not waiting:  # cancelled while it was being submitted
        run.executor_state = state
        get_executor(run.executor).cancel(run, grace=0)
        return False
    run.refresh_from_db()
    append_platform_line(run, LogLevel.INFO, f"Submitted, waiting to start: {reason}")
    ingest_run(run)
    record_event(actor=None, action=AuditAction.ACTION, target=run, verb="submit", changes={"host": run.host})
    return True


def mark_running(*, run: Run, executor_state: dict[str, Any], gpu_indices: list[int]) -> bool:
    """The run's command has started: `running` at 5 % with a "Training started" line."""
    started = run.transition(
        RunStatus.QUEUED,
        RunStatus.RUNNING,
        started_at=timezone.now(),
        progress=STARTED_PROGRESS,
        host=settings.HOSTNAME,
        executor_state=executor_state,
        gpu_indices=gpu_indices,
        queue_reason="",
    )
    if not started:  # cancelled while it was being launched
        run.executor_state = executor_state
        get_executor(run.executor).cancel(run, grace=0)
        release_gpus(holder_kind=HolderKind.RUN, holder_id=run.pk)
        append_platform_line(run, LogLevel.WARNING, "Cancelled while starting; the process was stopped.")
        ingest_run(run, final=True)
        return False
    gpus = f" on GPU {','.join(map(str, gpu_indices))}" if gpu_indices else ""
    append_platform_line(run, LogLevel.INFO, f"Training started{gpus}: {run.start_command}")
    ingest_run(run)
    record_event(actor=None, action=AuditAction.ACTION, target=run, verb="start", changes={"host": run.host})
    events.run_changed(run)
    return True


def finish_run(*, run: Run, exit_code: int | None, reason: str = "") -> bool:
    """Record how a running run ended, after a final read of its files.

    The caller holds the run's lease. Exit code 0: `completed` at 100 %; anything
    else (a signal, no exit code at all): `failed` with the code and the last error
    lines. Returns False when someone else changed its status first (a cancel).
    """
    ingest_run(run, final=True)
    now = timezone.now()
    if exit_code == 0:
        finished = run.transition(
            RunStatus.RUNNING, RunStatus.COMPLETED, completed_at=now, progress=1.0, exit_code=0, eta_seconds=0
        )
    else:
        # A failure while running is retried where its project allows it (runs.healing).
        retry_due = run.retry_due or run.project.max_retries > 0
        finished = run.transition(
            RunStatus.RUNNING, RunStatus.FAILED, completed_at=now, exit_code=exit_code, retry_due=retry_due
        )
        if finished:
            how = f"exited with code {exit_code}" if exit_code is not None else "ended without an exit code"
            errors = _last_error_lines(run)
            not_found = next((line for line in reversed(errors) if COMMAND_NOT_FOUND in line), None)
            if exit_code == COMMAND_NOT_FOUND_EXIT_CODE and not_found:
                # The wrapper's own line says which program: that is the whole story.
                cause = not_found[not_found.index(COMMAND_NOT_FOUND) :]
                message = f"Training failed: {cause} (exit code {exit_code})."
            else:
                detail = f" Last error lines: {' | '.join(errors)}" if errors else ""
                message = f"Training failed: the process {how}{f' ({reason})' if reason else ''}.{detail}"
            append_platform_line(run, LogLevel.ERROR, message)
            ingest_run(run, final=True)
    if finished:
        release_gpus(holder_kind=HolderKind.RUN, holder_id=run.pk)
        record_event(
            actor=None, action=AuditAction.ACTION, target=run, verb=run.status, changes={"exit_code": exit_code}
        )
        events.run_changed(run, reason=reason)
    return finished


# --- cancelling -------------------------------------------------------------


def _wait_for_lease(run: Run, owner: str, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if run.take_lease(owner, seconds=settings.SUPERVISOR_LEASE_SECONDS, where=Q(status=run.status)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
        run.refresh_from_db(fields=["lease_owner", "lease_expires_at", "status"])


def _ingest_to_the_end(run: Run, attempts: int = 5) -> None:
    """Final ingest until the stored offset reaches the end of the log (another pass may win a round)."""
    for _attempt in range(attempts):
        ingest_run(run, final=True)
        run.refresh_from_db(fields=["log_offset", "next_log_seq", "ingest_state"])
        if not run.log_path.exists() or run.log_offset >= run.log_path.stat().st_size:
            return


def cancel_run(*, run: Run, actor: Actor, wait: bool = True) -> Run:
    """Stop a queued or running run; finished runs are a 409, cancelling twice is harmless.

    `wait=False`, for a running run: only the request is recorded (`cancel_requested_at`)
    and the run stays `running` while its supervisor stops it the same way and then
    marks it `cancelled` (`carry_out_cancel_request`), so the caller is answered at once
    and `cancelled` still means that every process is gone.

    A run whose command exists (running, or pending in its executor's own queue) is
    marked `cancelled` at once, with a stop order in its `executor_state`. Where this
    process can reach the run's processes it carries the order out before answering
    (see `stop_run_processes`); otherwise (a local run of another host) that host's
    supervisor does, as it does for an order whose carrier died. A queued run that was
    never handed to an executor just becomes `cancelled`.
    """
    now = timezone.now()
    if run.status == RunStatus.QUEUED and not run.executor_state:
        if run.transition(RunStatus.QUEUED, RunStatus.CANCELLED, cancelled_at=now, queue_reason=""):
            record_event(actor=actor, action=AuditAction.ACTION, target=run, verb="cancel", changes={"was": "queued"})
            events.run_changed(run)
            return run
        run.refresh_from_db()
    if run.status == RunStatus.CANCELLED:
        return run
    was = run.status
    user = signed_in(actor)
    who = user.get_username() if user else "the platform"
    if not wait and was == RunStatus.RUNNING:
        return _request_cancel(run, actor=actor, who=who)
    here = get_executor(run.executor).watched_here(run, settings.HOSTNAME)
    carrier = leases.owner_name("cancel") if here else ""
    order = {"by": who, "carrier": carrier}
    stop_order = {**run.executor_state, "stop": order}
    if was not in ACTIVE_STATUSES or not run.transition(
        was, RunStatus.CANCELLED, cancelled_at=now, queue_reason="", executor_state=stop_order
    ):
        run.refresh_from_db()
        if run.status == RunStatus.CANCELLED:
            return run
        raise ConflictingState(
            format_lazy(
                _("Run {run} has already {status}; only queued or running runs can be cancelled."),
                run=run,
                status=run.status,
            )
        )
    record_event(actor=actor, action=AuditAction.ACTION, target=run, verb="cancel", changes={"was": was})
    events.run_changed(run)
    if here:
        # Its supervisor lets go of a run that no longer runs on its next tick. Should it
        # not (stuck, or dead on another host), reading without the lease is still safe:
        # an ingest pass commits only from the log position it started at.
        held = _wait_for_lease(run, carrier, timeout=4 * settings.SUPERVISOR_INTERVAL_SECONDS + 1)
        try:
            stop_run_processes(run=run)
        finally:
            if held:
                run.release_lease(carrier)
    run.refresh_from_db()
    return run


def _request_cancel(run: Run, *, actor: Actor, who: str) -> Run:
    """Record a cancel its caller does not wait for; the run's supervisor carries it out."""
    now = timezone.now()
    request = {**run.executor_state, CANCEL_REQUEST: {"by": who}}
    asked = Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING, cancel_requested_at__isnull=True).update(
        cancel_requested_at=now, executor_state=request, updated_at=now
    )
    if asked:
        grace = settings.CANCEL_GRACE_SECONDS
        append_platform_line(
            run, LogLevel.WARNING, f"Cancel requested by {who}: SIGTERM next, SIGKILL {grace:g} s after it."
        )
        record_event(actor=actor, action=AuditAction.ACTION, target=run, verb="request_cancel", changes={})
    run.refresh_from_db()
    return run


def carry_out_cancel_request(*, run: Run, carrier: str) -> bool:
    """Stop a running run whose cancel was asked for without waiting, as a cancel stops one, and only then
    mark it `cancelled`. Its supervisor (`carrier`) calls this, holding its lease; False if it ended meanwhile.

    The status changes with a stop order in its state, as `cancel_run` leaves one: should the
    supervisor die before the end, whoever carries out orphaned orders finishes the job.
    """
    executor = get_executor(run.executor)
    stopped = executor.cancel(run, grace=settings.CANCEL_GRACE_SECONDS)
    who = run.executor_state.get(CANCEL_REQUEST, {}).get("by", "the platform")
    state = {key: value for key, value in run.executor_state.items() if key != CANCEL_REQUEST}
    state["stop"] = {"by": who, "carrier": carrier}
    if not run.transition(
        RunStatus.RUNNING, RunStatus.CANCELLED, cancelled_at=timezone.now(), queue_reason="", executor_state=state
    ):
        return False
    _record_stop(run, executor=executor, stopped=stopped, who=who)
    return True


def stop_run_processes(*, run: Run) -> bool:
    """Carry out a cancelled run's stop order: SIGTERM, `CANCEL_GRACE_SECONDS` to save,
    SIGKILL, verified gone; then a last read of its files (so its latest complete
    checkpoint is among its artifacts) and its GPUs back to the ledger."""
    executor = get_executor(run.executor)
    who = run.executor_state.get("stop", {}).get("by", "the platform")
    stopped = executor.cancel(run, grace=settings.CANCEL_GRACE_SECONDS)
    _record_stop(run, executor=executor, stopped=stopped, who=who)
    return stopped


def _record_stop(run: Run, *, executor: Executor, stopped: bool, who: str) -> None:
    """After a cancel's SIGTERM/SIGKILL: say so in the log, read its files to the end, free its GPUs."""
    grace = settings.CANCEL_GRACE_SECONDS
    if stopped:
        append_platform_line(run, LogLevel.WARNING, f"Cancelled by {who}; every process of the run has stopped.")
    else:
        append_platform_line(
            run,
            LogLevel.ERROR,
            f"Cancelled by {who}, but some processes survived SIGKILL after {grace:g} s; check the host.",
        )
    _ingest_to_the_end(run)
    release_gpus(holder_kind=HolderKind.RUN, holder_id=run.pk)
    # The stop order goes last: should this process die before, the order is carried out again.
    state = {key: value for key, value in run.executor_state.items() if key != "stop"}
    Run.objects.filter(pk=run.pk).update(
        exit_code=executor.observe(run).exit_code, executor_state=state, updated_at=timezone.now()
    )
    checkpoint = latest_complete_checkpoint(run)
    record_event(
        actor=None,
        action=AuditAction.ACTION,
        target=run,
        verb="stop",
        changes={"stopped": stopped, "latest_checkpoint": checkpoint.name if checkpoint else None},
    )


# --- notes and tags ---------------------------------------------------------


def clean_run_tags(tags: list[str]) -> list[str]:
    """Tags as people type them: spaces around each dropped, blanks and repeats left out, first seen first."""
    return list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))


def annotate_run(*, run: Run, actor: Actor, notes: str | None = None, tags: list[str] | None = None) -> Run:
    """Change a run's notes and tags (None: leave as is), with an audit event naming what changed.

    Written with an update of these fields alone, so what its supervisor writes meanwhile stays."""
    values: dict[str, Any] = {}
    if notes is not None:
        values["notes"] = notes
    if tags is not None:
        values["tags"] = clean_run_tags(tags)
    refuse_invalid_fields(values, {"notes": MaxLengthValidator(MAX_RUN_NOTES_CHARS), "tags": validate_run_tags})
    changes = {name: [getattr(run, name), value] for name, value in values.items() if getattr(run, name) != value}
    if changes:
        Run.objects.filter(pk=run.pk).update(**values, updated_at=timezone.now())
        record_event(actor=actor, action=AuditAction.UPDATE, target=run, changes=changes)
    run.refresh_from_db()
    return run


# --- resuming and tagging ---------------------------------------------------


def resume_run(
    *,
    run: Run,
    actor: Actor,
    source_artifact_id: str | uuid.UUID | None,
    overrides: dict[str, Any],
) -> Run:
    """A new run continuing from a complete checkpoint of this run's project."""
    if not source_artifact_id:
        raise InvalidInput(_("Give source_artifact_id: the checkpoint artifact to resume from."))
    try:
        artifact_id = uuid.UUID(str(source_artifact_id))
    except ValueError:
        raise InvalidInput(
            format_lazy(
                _("source_artifact_id {source_artifact_id!r} is not a UUID."), source_artifact_id=source_artifact_id
            )
        ) from None
    artifact = Artifact.objects.select_related("run").filter(pk=artifact_id, run__project=run.project_id).first()
    if artifact is None:
        raise InvalidInput(
            format_lazy(
                _("No artifact {artifact_id} in project {project_name!r}."),
                artifact_id=artifact_id,
                project_name=run.project.name,
            )
        )
    if artifact.type != ArtifactType.CHECKPOINT:
        raise InvalidInput(
            format_lazy(
                _("Artifact {artifact_name!r} is a {type}, not a checkpoint; resume needs a checkpoint."),
                artifact_name=artifact.name,
                type=artifact.type,
            )
        )
    if not Path(artifact.path).is_dir():
        raise InvalidInput(
            format_lazy(
                _("Checkpoint {artifact_name!r} is no longer on disk ({artifact_path})."),
                artifact_name=artifact.name,
                artifact_path=artifact.path,
            )
        )
    resumed = create_run(project=run.project, actor=actor, resume_from=artifact, **overrides)
    record_event(
        actor=actor, action=AuditAction.ACTION, target=resumed, verb="resume", changes={"from": str(artifact.pk)}
    )
    return resumed


def normalise_tag(value: str) -> str | None:
    value = value.strip()
    if value in TAG_ALIASES:
        return TAG_ALIASES[value]
    return value.lower() if value.lower() in ArtifactTagValue.values else None


def tag_artifact(*, artifact: Artifact, actor: Actor, tag: str, notes: str = "") -> Artifact:
    """Tag an artifact candidate/release/archived (or 候选/发布/归档); tagging again updates the notes."""
    value = normalise_tag(tag)
    if value is None:
        raise InvalidInput(
            format_lazy(_("Tag {tag!r} is not one of candidate, release, archived (候选, 发布, 归档)."), tag=tag)
        )
    with transaction.atomic():
        ArtifactTag.objects.update_or_create(
            artifact=artifact,
            value=value,
            defaults={
                "notes": notes,
                "applied_at": timezone.now(),
                "applied_by": signed_in(actor),
            },
        )
    record_event(
        actor=actor, action=AuditAction.ACTION, target=artifact, verb="tag", changes={"tag": value, "notes": notes}
    )
    events.artifact_tagged(artifact, value)
    return artifact
