"""What a run's process is handed: its effective config, its argv and its environment.

The effective config is the project's YAML with the run's hyperparameter overrides,
`output_dir` set to the run's own output folder and, when resuming,
`resume_from_checkpoint`. No other key is added: those two are Hugging Face
`TrainingArguments` names every HF-based trainer accepts, and LLaMA-Factory refuses
keys it does not know. For LLaMA-Factory, a run whose dataset is an uploaded file gets
the file's entry in a dataset_info.json of its own folder (format and column mapping
as the upload's validation found them), and `dataset`/`dataset_dir` naming it, in
place of the YAML's; the run's own hyperparameters still win.

The command template (`TRAINING_COMMAND`, or the project's) is split with shlex once;
placeholders are replaced inside single arguments, so a value with spaces or quotes
stays one argument and no shell ever sees user text (projects.training_command says
what a template may hold).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from datasets.models import DatasetFile, FileStatus
from llmplatform.training_yaml import TrainingYamlError, read_training_yaml
from projects.training_command import PLACEHOLDER, check_command_template
from projects.training_files import UnsafePath, resolve_training_file

if TYPE_CHECKING:
    from runs.models import Run


def effective_config(
    base: Mapping[str, Any],
    *,
    overrides: Mapping[str, Any],
    output_dir: Path,
    resume_from_checkpoint: Path | None,
) -> dict[str, Any]:
    config = {**base, **overrides, "output_dir": str(output_dir)}
    if resume_from_checkpoint is not None:
        config["resume_from_checkpoint"] = str(resume_from_checkpoint)
    return config


# Keys the launch points at the run's own folder: they differ between any two runs and say nothing of their training.
RUN_FOLDER_KEYS = ("output_dir", "dataset_dir")


def training_yaml_config(training_yaml_name: str) -> dict[str, Any]:
    """The training YAML of that name under the training directory; empty when it is gone or unusable."""
    if not training_yaml_name:
        return {}
    try:
        return read_training_yaml(resolve_training_file(training_yaml_name))
    except (UnsafePath, OSError, TrainingYamlError):
        return {}


def launched_parameters(run: Run) -> dict[str, Any]:
    """What `run` trains with: the effective config its launch wrote (its training YAML merged with its
    overrides), or where that file is gone, the same merge made again from the YAML as it is now; less the
    keys naming the run's own folder."""
    try:
        config = read_config(run.config_path) if run.run_dir else None
    except (OSError, yaml.YAMLError):
        config = None
    if config is None:
        config = effective_config(
            training_yaml_config(run.training_yaml_name),
            overrides=run.hyperparameters or {},
            output_dir=Path(run.output_dir),
            resume_from_checkpoint=None,
        )
    return {key: value for key, value in config.items() if key not in RUN_FOLDER_KEYS}


DATASET_INFO = "dataset_info.json"


def dataset_info_entry(dataset_file: DatasetFile) -> tuple[str, dict[str, Any]] | None:
    """LLaMA-Factory's dataset_info.json entry of a validated upload, under a name its `dataset` key can
    hold (it splits the key at commas), or None when its validation found no one format for the whole file."""
    trainer_format = dataset_file.stats.get("llamafactory") if dataset_file.status == FileStatus.READY else None
    if not trainer_format:
        return None
    name = re.sub(r"[^\w.-]+", "_", dataset_file.dataset.name).strip("_") or "dataset"
    return name, {"file_name": str(dataset_file.absolute_path), **trainer_format}


def write_dataset_info(entries: Mapping[str, Mapping[str, Any]], run_dir: Path) -> Path:
    path = run_dir / DATASET_INFO
    path.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_config(config: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def read_config(path: Path) -> dict[str, Any]:
    """An effective config written by `write_config`."""
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def build_argv(template: str, values: Mapping[str, str]) -> list[str]:
    """Split once, then substitute `{name}` inside each argument (each stays one argument)."""
    return [PLACEHOLDER.sub(lambda match: values[match.group(1)], token) for token in check_command_template(template)]


def process_env(
    *, run_id: str, run_dir: Path, output_dir: Path, resume_from: str, gpu_indices: list[int]
) -> dict[str, str]:
    """The variables the platform sets for the trainer (executors add them to the host's own)."""
    env = {
        "LLMP_RUN_ID": run_id,
        "LLMP_RUN_DIR": str(run_dir),
        "LLMP_OUTPUT_DIR": str(output_dir),
        "LLMP_RESUME_FROM": resume_from,
        # Python trainers print through a block buffer when writing to a file; the
        # platform promises their lines within seconds.
        "PYTHONUNBUFFERED": "1",
    }
    if gpu_indices:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(index) for index in gpu_indices)
    return env
