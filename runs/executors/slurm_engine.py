"""Talking to Slurm through its client tools: sbatch's options, scontrol's and sacct's answers.

State comes from `scontrol show job` while slurmctld remembers the job, then from
`sacct`; Slurm's states are mapped onto the platform's (PENDING → pending, RUNNING →
running, COMPLETED → exited; FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL...
→ exited with a sentence saying why).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections import Counter
from typing import Any

from django.conf import settings

from llmplatform.processes import EXIT_CODE_WRAPPER, inherited_environment, is_python_program
from llmplatform.sentences import gettext_noop
from runs.executors.base import EngineUnreachable, LaunchError, LaunchSpec, Observation, ProcessState
from runs.executors.stacks import dump_pythons, py_spy

# $1 = the exit code file, then the argv: both reach the wrapper as its $0 and "$@".
# The wrapper's own exit status is its last `mv`; Slurm is told the program's.
JOB_WRAPPER = EXIT_CODE_WRAPPER + '; exit "$code"'
BATCH_SCRIPT = (
    f'#!/bin/sh\n# Submitted by the LLM training platform.\nexec /bin/sh -c {shlex.quote(JOB_WRAPPER)} "$@"\n'
)

# Project executor options that become sbatch options; values are checked against
# SAFE_VALUE so that a project setting can never smuggle in another option.
SBATCH_OPTIONS = {
    "partition": "--partition",
    "account": "--account",
    "time": "--time",
    "qos": "--qos",
    "mem": "--mem",
    "cpus_per_task": "--cpus-per-task",
    "constraint": "--constraint",
}
SAFE_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:,+\-=@\[\]|&]*")
GRES_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # one word of a --gres: no ':' or ','

PENDING_STATES = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
RUNNING_STATES = {"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"}
WHY_IT_ENDED = {
    "FAILED": "failed",
    "CANCELLED": "was cancelled outside the platform (scancel)",
    "TIMEOUT": "hit its time limit (raise the executor option 'time' or SLURM_TIME_LIMIT)",
    "OUT_OF_MEMORY": "ran out of memory (ask for more with the executor option 'mem')",
    "NODE_FAIL": "was lost with its node (NODE_FAIL)",
    "BOOT_FAIL": "could not boot its node (BOOT_FAIL)",
    "PREEMPTED": "was preempted by a job of higher priority",
    "DEADLINE": "missed its deadline",
}


# How long a launch request waits for sinfo to say what GPUs the partition's nodes have; a
# request sinfo did not answer for in time goes unchecked (sbatch refuses an impossible job).
GPU_PROBE_TIMEOUT_SECONDS = 5.0


def slurm(
    *argv: str, env: dict[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout or settings.SLURM_COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LaunchError(f"{argv[0]} is not installed here: install Slurm's client tools (slurm-client).") from exc
    except subprocess.TimeoutExpired as exc:
        raise EngineUnreachable(f"{argv[0]} did not answer within {exc.timeout} s: is slurmctld up?") from exc


def sbatch_options(spec: LaunchSpec, resources: dict[str, Any]) -> list[str]:
    """sbatch's options for a run: settings first, the project's options over them, then the
    run's GPUs (`--gres=gpu:N`, or `gpu:<type>:N` for a gpu_type, which Slurm matches itself)."""
    chosen = {
        "partition": settings.SLURM_PARTITION,
        "account": settings.SLURM_ACCOUNT,
        "time": settings.SLURM_TIME_LIMIT,
    }
    chosen.update({key: str(value) for key, value in spec.options.items() if key in SBATCH_OPTIONS})
    options = []
    for key, value in chosen.items():
        if not value:
            continue
        if not SAFE_VALUE.fullmatch(value):
            raise LaunchError(f"The Slurm option {key!r} has an unusable value {value!r}.")
        options.append(f"{SBATCH_OPTIONS[key]}={value}")
    gpu_count = int(resources.get("gpu_count") or 0)
    gpu_type = str(resources.get("gpu_type") or "").strip()
    if gpu_type and not GRES_TYPE.fullmatch(gpu_type):
        raise LaunchError(f"The gpu_type {gpu_type!r} cannot be a Slurm GPU type (letters, digits, '_.-' only).")
    if gpu_count:
        options.append(f"--gres=gpu:{gpu_type}:{gpu_count}" if gpu_type else f"--gres=gpu:{gpu_count}")
    return [*options, *shlex.split(settings.SLURM_EXTRA_ARGS)]


def gres_gpus(gres: str) -> Counter[str]:
    """A node's GPUs by type from its GRES: `gpu:a100:2(S:0-1),gpu:2,shard:8` → {"a100": 2, "": 2}."""
    gpus: Counter[str] = Counter()
    for item in re.sub(r"\([^)]*\)", "", gres).split(","):
        name, *rest = item.strip().split(":")
        if name != "gpu" or not rest or not rest[-1].isdigit():
            continue
        types = [part for part in rest[:-1] if part != "no_consume"]
        gpus[types[0] if types else ""] += int(rest[-1])
    return gpus


def partition_gres(partition: str) -> dict[str, str] | None:
    """Each node of `partition` ("": Slurm's default partition) with its GRES, from sinfo;
    None when sinfo is missing, fails or does not answer within GPU_PROBE_TIMEOUT_SECONDS."""
    argv = ["sinfo", "--noheader", "--Node", "--format=%N|%P|%G"]
    if partition:
        argv.append(f"--partition={partition}")
    try:
        listed = slurm(*argv, timeout=GPU_PROBE_TIMEOUT_SECONDS)
    except LaunchError:
        return None
    if listed.returncode != 0:
        return None
    nodes = {}
    for line in listed.stdout.splitlines():
        node, _, rest = line.strip().partition("|")
        node_partition, _, gres = rest.partition("|")
        if node and (partition or node_partition.endswith("*")):  # sinfo marks the default partition with *
            nodes[node] = gres
    return nodes


def parse_job_record(text: str) -> dict[str, str]:
    """`scontrol show job -o` prints one line of Key=Value pairs."""
    return dict(field.split("=", 1) for field in text.split() if "=" in field)


def base_state(state: str) -> str:
    """ "CANCELLED by 0" → "CANCELLED", "COMPLETED+" → "COMPLETED"."""
    return state.split()[0].rstrip("+") if state else ""


def observation_for(job_id: str, state: str, exit_code: str, reason: str) -> Observation:
    """Slurm's view of a job → the platform's."""
    state = base_state(state)
    if state in PENDING_STATES:
        return Observation(
            ProcessState.PENDING,
            reason=gettext_noop("Slurm job {job_id} is pending ({reason}).").format(
                job_id=job_id, reason=reason or "queued"
            ),
        )
    if state in RUNNING_STATES:
        return Observation(ProcessState.RUNNING)
    code, _, signal = exit_code.partition(":")
    if state == "COMPLETED":
        return Observation(ProcessState.EXITED, int(code or 0))
    why = WHY_IT_ENDED.get(state, f"ended {state}")
    detail = f"exit code {code or 0}" + (f", signal {signal}" if signal not in {"", "0"} else "")
    return Observation(
        ProcessState.EXITED,
        int(code or 0),
        reason=gettext_noop("Slurm job {job_id} {why} ({state}, {detail}).").format(
            job_id=job_id, why=why, state=state, detail=detail
        ),
    )


_jobs_listing: tuple[float, dict[str, dict[str, str]]] = (-1e9, {})


def _all_jobs() -> dict[str, dict[str, str]]:
    """Every job slurmctld remembers, by id; listed again once SUPERVISOR_INTERVAL_SECONDS have passed."""
    global _jobs_listing
    taken_at, jobs = _jobs_listing
    if time.monotonic() - taken_at >= settings.SUPERVISOR_INTERVAL_SECONDS:
        listed = slurm("scontrol", "--oneliner", "show", "job")
        records = (parse_job_record(line) for line in listed.stdout.splitlines() if listed.returncode == 0)
        jobs = {record["JobId"]: record for record in records if "JobId" in record}
        _jobs_listing = (time.monotonic(), jobs)
    return jobs


def job_record(job_id: str, *, fresh: bool = True) -> dict[str, str] | None:
    """JobState, ExitCode, Reason from slurmctld, else from accounting; None when Slurm says it
    knows no such job (purged), EngineUnreachable when neither answers. Not `fresh`: from one
    listing of all jobs shared by every run for a supervisor tick, so that watching many
    runs costs slurmctld one request per tick, not one per run."""
    if not fresh and (record := _all_jobs().get(job_id)) is not None:
        return record
    shown = slurm("scontrol", "--oneliner", "show", "job", job_id)
    if shown.returncode == 0 and "JobState=" in shown.stdout:
        return parse_job_record(shown.stdout)
    accounted = slurm(
        "sacct", "--noheader", "--parsable2", "--allocations", "--jobs", job_id, "--format=State,ExitCode,Reason"
    )
    line = accounted.stdout.strip().splitlines()[0] if accounted.returncode == 0 and accounted.stdout.strip() else ""
    if not line:
        if "Invalid job id" in shown.stderr:
            return None
        raise EngineUnreachable(f"Slurm does not answer about job {job_id}: {shown.stderr.strip()}")
    state, exit_code, reason = [*line.split("|"), "", ""][:3]
    return {"JobState": state, "ExitCode": exit_code, "Reason": reason}


def step_cpu_seconds(job_id: str) -> float | None:
    """The CPU time so far of the processes of the job's batch step (the trainer's), in whole seconds, from
    slurmd's accounting (sstat); None where the cluster gathers none (JobAcctGatherType=jobacct_gather/none)."""
    shown = slurm("sstat", "--noheader", "--parsable2", "--format=TRESUsageInTot", f"--jobs={job_id}.batch")
    if shown.returncode != 0 or not shown.stdout.strip():  # sstat says "not found running" on stderr, exit 0
        raise EngineUnreachable(f"sstat has no reading of job {job_id}: {shown.stderr.strip()}")
    used = re.search(r"(?:^|,)cpu=([0-9:.-]+)", shown.stdout)
    return duration_seconds(used.group(1)) if used else None


def duration_seconds(text: str) -> float:
    """Slurm's `[D-][HH:]MM:SS[.mmm]` in seconds."""
    days, _, clock = text.rpartition("-")
    seconds = 0.0
    for part in clock.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds + 86400 * int(days or 0)


def stack_dump(job_id: str) -> str:
    """py-spy's dump of the Python processes of the job's batch step (the trainer's), taken on the job's node through
    Slurm, so that it works wherever the node is: steps of the job itself (`srun --overlap`, sharing its resources)
    list the batch step's processes, pick out the Python ones and run py-spy on each; else why there is none."""
    record = job_record(job_id)
    state = base_state(record["JobState"]) if record else ""
    if record is None or state not in RUNNING_STATES:
        return f"No stack dump: Slurm job {job_id} is not running ({state or 'Slurm no longer knows it'}).\n"
    node = record.get("BatchHost", "")
    where = f"node {node}" if node else "its node"
    on_node = ["srun", f"--jobid={job_id}", "--overlap", "--ntasks=1", "--quiet"]
    if node:
        on_node.append(f"--nodelist={node}")
    env = inherited_environment({})  # a step gets srun's environment: not the platform's secrets
    timeout = settings.STACK_DUMP_TIMEOUT_SECONDS
    listed = slurm(*on_node, "scontrol", "listpids", job_id, env=env, timeout=timeout)
    if listed.returncode != 0:
        refused = _said(listed)
        return f"No stack dump: Slurm refused a step of job {job_id} on {where} to list its processes: {refused}\n"
    rows = [line.split() for line in listed.stdout.splitlines()]
    batch = [row[0] for row in rows if row[2:3] == ["batch"] and row[0].isdigit()]  # PID JOBID STEPID ...
    program = settings.SLURM_PY_SPY or py_spy() or "py-spy"
    tried = slurm(*on_node, program, "--version", env=env, timeout=timeout)
    if tried.returncode != 0:
        return f"No stack dump: py-spy ({program}, setting SLURM_PY_SPY) does not run on {where}: {_said(tried)}\n"
    pythons = []
    if batch:  # each process's program, as `/proc/<pid>/exe <program>` lines (a process gone meanwhile has none)
        exes = [f"/proc/{pid}/exe" for pid in batch]
        found = slurm(*on_node, "find", *exes, "-maxdepth", "0", "-printf", "%p %l\\n", env=env, timeout=timeout)
        for line in found.stdout.splitlines():
            exe, _, target = line.partition(" ")
            if exe in exes and is_python_program(target):
                pythons.append(int(exe.split("/")[2]))
    return dump_pythons(pythons, [*on_node, program], env=env)


def _said(done: subprocess.CompletedProcess[str]) -> str:
    """What a failed Slurm command said, on one line."""
    return "; ".join(line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip())
