"""Runs as Slurm batch jobs (runs.executors.slurm_engine talks to Slurm's client tools).

`sbatch --parsable` submits a fixed batch script with the run's argv as its
arguments, never a shell string (`--wrap` would be one): the script only hands
"$@" to the exit-code wrapper. Output goes to the run's log file (`--output`,
appended), in the run's working directory (`--chdir`), with `--gres=gpu:N` (or
`gpu:<type>:N`) from the run's resources and partition, account, time limit, QoS,
memory, CPUs and constraint from settings (SLURM_*) or the project's executor
options; SLURM_EXTRA_ARGS adds operator-chosen sbatch options. Slurm does these
runs' GPU scheduling, not the platform's ledger. The run folder must be on a file
system the compute nodes share.

A stalled run's stack dump is taken on the job's node through Slurm (slurm_engine.stack_dump):
steps of the job itself list its batch step's processes and run py-spy on the Python ones.
"""

from __future__ import annotations

import signal
from collections import Counter
from typing import Any

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from gpus.services import TooFewGpus
from runs.executors import slurm_engine as engine
from runs.executors.base import Executor, LaunchError, LaunchSpec, Observation, ProcessState
from runs.models import Run


class SlurmExecutor(Executor):
    kind = "slurm"
    queues_itself = True
    handle = "job_id"
    poll_interval = 0.5
    cpu_resolution = 1.0

    @property
    def kill_wait(self) -> float:
        return settings.SLURM_KILL_WAIT_SECONDS

    def start(self, run: Run, spec: LaunchSpec) -> dict[str, Any]:
        """Submit the batch script with sbatch; Slurm picks the GPUs and sets CUDA_VISIBLE_DEVICES."""
        script = spec.run_dir / "slurm_job.sh"
        script.write_text(engine.BATCH_SCRIPT)
        argv = [
            "sbatch",
            "--parsable",
            f"--job-name=llmp-{run.name or run.pk}",
            f"--output={spec.log_path}",
            "--open-mode=append",
            f"--chdir={spec.cwd}",
            *engine.sbatch_options(spec, run.resources or {}),
            str(script),
            str(spec.exit_code_path),
            *spec.argv,
        ]
        env = spec.inherited_env()
        env.pop("CUDA_VISIBLE_DEVICES", None)
        submitted = engine.slurm(*argv, env=env)
        if submitted.returncode != 0:
            raise LaunchError(f"sbatch refused the job: {submitted.stderr.strip() or submitted.stdout.strip()}")
        return {"job_id": submitted.stdout.strip().split(";")[0]}

    def require_gpus(self, *, count: int, gpu_type: str, options: dict[str, Any]) -> None:
        """Refuse `count` GPUs of `gpu_type` when no node of the run's partition has that many
        (`--gres` asks for them on one node; Slurm matches GPU types exactly). When sinfo does
        not answer, the request goes unchecked: sbatch refuses an impossible job at dispatch."""
        partition = str(options.get("partition") or settings.SLURM_PARTITION)
        nodes = engine.partition_gres(partition)
        if nodes is None:
            return
        per_node = [engine.gres_gpus(gres) for gres in nodes.values()]
        most = max((gpus[gpu_type] if gpu_type else gpus.total() for gpus in per_node), default=0)
        if count <= most:
            return
        where = f"Slurm partition {partition!r}" if partition else "Slurm's default partition"
        kind = f" of type {gpu_type!r}" if gpu_type else ""
        has = ", ".join(f"{number} × {gres}" for gres, number in Counter(nodes.values()).items()) or "no node"
        raise TooFewGpus(
            format_lazy(
                _("No node of {where} has {count} GPU(s){kind} (Slurm matches GPU types exactly); its nodes: {has}."),
                where=where,
                count=count,
                kind=kind,
                has=has,
            ),
            max_gpu_count=most,
        )

    def state(self, run: Run) -> Observation:
        """The job's state, from one listing of all jobs per supervisor tick, else accounting."""
        job_id = run.executor_state["job_id"]
        record = engine.job_record(job_id, fresh=False)
        if record is None:
            return Observation(
                ProcessState.LOST, reason=f"Slurm no longer knows job {job_id} (purged, and no accounting answers)."
            )
        return engine.observation_for(job_id, record["JobState"], record.get("ExitCode", ""), record["Reason"])

    def signal(self, run: Run, sig: signal.Signals) -> None:
        """SIGTERM reaches the batch step's processes (`--full`; a plain `--signal` skips it); a
        pending job has none, and SIGKILL is a plain `scancel`."""
        job_id = run.executor_state["job_id"]
        if sig is signal.SIGTERM and self._job_state(run) in engine.RUNNING_STATES:
            engine.slurm("scancel", "--full", "--signal=TERM", job_id)
        else:
            engine.slurm("scancel", job_id)

    def alive(self, run: Run) -> bool:
        """Pending or running (COMPLETING included: processes remain)."""
        return self._job_state(run) in engine.PENDING_STATES | engine.RUNNING_STATES

    def cpu_seconds(self, run: Run) -> float | None:
        """The batch step's CPU time as slurmd accounts it (sstat): whole seconds, hence `cpu_resolution`."""
        return engine.step_cpu_seconds(run.executor_state["job_id"])

    def stack_dump(self, run: Run) -> str:
        """py-spy's dump of the batch step's Python processes, taken on the job's node through srun."""
        return engine.stack_dump(run.executor_state["job_id"])

    def _job_state(self, run: Run) -> str:
        record = engine.job_record(run.executor_state["job_id"])
        return engine.base_state(record["JobState"]) if record else ""
