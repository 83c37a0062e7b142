"""runs/trainer_path_keys.json: the path-valued keys, as scripts/derive_trainer_path_keys.py derives them.

The file is shipped, not derived at run time (LLaMA-Factory is not installed); these
tests hold it to the generator's rule and to the transformers that is installed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings

from runs.config_paths import KEYS_FILE, PATH, PATH_OR_INLINE, path_keys


def generator() -> ModuleType:
    path = Path(settings.BASE_DIR) / "scripts" / "derive_trainer_path_keys.py"
    spec = importlib.util.spec_from_file_location("derive_trainer_path_keys", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining a class
    spec.loader.exec_module(module)
    return module


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
    derive = generator()
    fields = list(derive.dataclass_fields_in_source(HPARAMS_SOURCE, "llamafactory"))

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


@pytest.mark.trainer
def test_the_shipped_file_holds_what_the_installed_transformers_defines():
    pytest.importorskip("transformers", reason="transformers is not installed: pip install -r requirements-trainer.txt")
    derive = generator()
    version, fields = derive.transformers_fields()
    shipped = json.loads(KEYS_FILE.read_text(encoding="utf-8"))

    derived = derive.path_keys(fields)

    assert shipped["trainers"]["transformers"] == version, "transformers moved: run scripts/derive_trainer_path_keys.py"
    from_transformers = {
        name: entry["kind"]
        for name, entry in shipped["keys"].items()
        if any(source.startswith("transformers ") for source in entry["from"])
    }
    assert from_transformers == {name: entry["kind"] for name, entry in derived.items() if entry["from"] != ["review"]}
    assert shipped["name_suffixes"] == list(derive.NAME_SUFFIXES)


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
