"""Helpers shared by the ingestion tests: a Run with real folders, written files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from django.conf import settings

from projects.models import Project
from runs.models import Run, RunStatus


def make_run(**fields: object) -> Run:
    """A running run with its own run folder and output folder under RUNS_DIR."""
    project, _ = Project.objects.get_or_create(name="ingest-tests", defaults={"task_type": "sft"})
    run = Run.objects.create(project=project, status=RunStatus.RUNNING, progress=0.05, **fields)
    run_dir = Path(settings.RUNS_DIR) / str(run.pk)
    output_dir = run_dir / "output"
    output_dir.mkdir(parents=True)
    Run.objects.filter(pk=run.pk).update(run_dir=str(run_dir), output_dir=str(output_dir))
    run.refresh_from_db()
    return run


def append(path: Path, data: str | bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)


def log_path(run: Run) -> Path:
    return Path(run.run_dir) / "train.log"


def write_safetensors(path: Path, floats: int = 16, *, truncate_by: int = 0) -> None:
    """A valid safetensors file (or one cut short by `truncate_by` bytes, as if mid-write)."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [floats], "data_offsets": [0, 4 * floats]}}).encode()
    data = struct.pack("<Q", len(header)) + header + b"\0" * (4 * floats)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) - truncate_by])


def write_checkpoint(output_dir: Path, step: int, *, with_state: bool = True, truncate_by: int = 0) -> Path:
    folder = output_dir / f"checkpoint-{step}"
    write_safetensors(folder / "model.safetensors", truncate_by=truncate_by)
    if with_state:
        state = {"global_step": step, "max_steps": 100, "log_history": [{"loss": 1.0 / step, "step": step}]}
        (folder / "trainer_state.json").write_text(json.dumps(state))
    return folder
