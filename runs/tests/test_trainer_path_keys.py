"""runs/trainer_path_keys.json: the path-valued keys, as scripts/derive_trainer_path_keys.py derives them.

The file is shipped, not derived at run time (LLaMA-Factory is not installed); these
tests hold it to the generator's rule and to what the generator makes of the trainers'
wheels (TRAINER_WHEELS, which scripts/test fills).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from llmplatform.testing import load_script, trainer_wheels
from runs.config_paths import KEYS_FILE, PATH, PATH_OR_INLINE, path_keys

GENERATOR = Path(settings.BASE_DIR) / "scripts" / "derive_trainer_path_keys.py"


HPARAMS_SOURCE = """
from dataclasses import dataclass, field

@dataclass
class DataArguments:
    dataset_dir: str = field(default="data", metadata={"help": "Path to the folder containing the datasets."})
    cache_dir: str | None = field(default=None, metadata={"help": "Where to store downloaded models."})
    template: str | None = field(default=None, metadata={"help": "Which template to use for prompts."})
    export_legacy_format: bool = field(default=False, metadata={"help": "Save `.bin` files instead."})
    deepspeed: dict | str | None = field(default=None, metadata={"help": "A path to a JSON config file or a dict."})
    dataset: str | None = field(default=None, metadata={"help": "The name of dataset(s) to use."})

class NotADataclass:
    log_dir: str = "logs"
"""


def test_it_reads_path_valued_fields_by_type_name_and_help_text():
    derive = load_script("derive_trainer_path_keys")
    classes, _enums = load_script("trainer_wheels").read_source_classes([HPARAMS_SOURCE])
    fields = derive.fields_of_every_dataclass(classes, "llamafactory")

    keys = derive.path_keys(fields)

    assert {name: (entry["kind"], entry["why"]) for name, entry in keys.items()} == {
        "dataset_dir": ("path", "name"),
        "cache_dir": ("path", "name"),
        "deepspeed": ("path_or_inline", "help"),
        "dataset": ("path", f"review: {derive.REVIEWED_IN['dataset']}"),
        "eval_dataset": ("path", f"review: {derive.REVIEWED_IN['eval_dataset']}"),
        "model_name": ("path", f"review: {derive.REVIEWED_IN['model_name']}"),
    }
    assert keys["dataset_dir"]["from"] == ["llamafactory DataArguments"]


def test_the_shipped_file_is_what_the_generator_makes_of_the_trainers_wheels(tmp_path):
    wheels = trainer_wheels()
    output = tmp_path / "trainer_path_keys.json"

    result = subprocess.run(
        [
            sys.executable,
            str(GENERATOR),
            wheels["llamafactory"],
            wheels["llamafactory_transformers"],
            "--output",
            output,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert output.read_text(encoding="utf-8") == KEYS_FILE.read_text(encoding="utf-8")


def test_the_shipped_file_ends_path_keys_as_the_generator_does():
    shipped = json.loads(KEYS_FILE.read_text(encoding="utf-8"))

    assert shipped["name_suffixes"] == list(load_script("derive_trainer_path_keys").NAME_SUFFIXES)


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("dataset", PATH),
        ("dataset_dir", PATH),
        ("eval_dataset", PATH),
        ("tokenized_path", PATH),
        ("deepspeed", PATH_OR_INLINE),
        ("adapter_name_or_path", PATH),
        ("model_name_or_path", PATH),
        ("resume_from_checkpoint", PATH),
        ("cache_dir", PATH),
        ("logging_dir", PATH),  # transformers 5 dropped it; older trainers still read it, and its ending says path
        ("learning_rate", None),
        ("template", None),
    ],
)
def test_it_knows_the_keys_that_name_files(key, kind):
    assert path_keys().kind_of(key) == kind
