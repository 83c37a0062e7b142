"""What a run's output folder holds that is worth keeping: checkpoints, weights, events.

- `checkpoint-N/`: a `checkpoint` artifact at step N once it is complete — its
  `trainer_state.json` parses and its weights (`model.safetensors`,
  `pytorch_model.bin`, `adapter_model.safetensors`, or every shard of a sharded
  index) are whole. Weight files are checked against their own structure (a
  safetensors header says how long the file must be; a torch zip ends with its
  directory), so a folder caught mid-save is never offered for resume.
- the output folder itself or a subfolder (`model_final/`) with weights: `adapter`
  (with `adapter_config.json`) or `model`;
- `trainer_state.json` → `log`; `all_results.json`/`eval_results.json` → `evaluation`;
- a folder holding `events.out.tfevents*` files (TensorBoard) → `event`.

Scanning is cheap: the folder is listed again only when its mtime changed, and
between listings only the entries still being written are looked at.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runs.models import ArtifactType

CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE = "trainer_state.json"
_SINGLE_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
_SHARD_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_RESULT_FILES = ("all_results.json", "eval_results.json", "train_results.json", "predict_results.json")
_EVENT_PREFIX = "events.out.tfevents"
# Folders TensorBoard writers use; watched until their event files appear.
_EVENT_ROOTS = ("runs", "logs", "tensorboard")
_EVENT_SEARCH_DEPTH = 3
ROOT = "."


@dataclass(frozen=True)
class FoundArtifact:
    name: str
    type: str
    path: str
    size_bytes: int
    step: int | None = None


@dataclass(frozen=True)
class ScanResult:
    found: list[FoundArtifact]
    vanished: list[str]  # paths recorded before that are gone (rotated checkpoints)


# --- completeness -----------------------------------------------------------
def safetensors_complete(path: Path) -> bool:
    """The file is as long as its header says: 8-byte length, JSON header, tensor data."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            if header_len > size:
                return False
            header = json.loads(handle.read(header_len))
    except (OSError, struct.error, ValueError):
        return False
    data_end = max(
        (entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"),
        default=0,
    )
    return size == 8 + header_len + data_end


def weights_file_complete(path: Path) -> bool:
    if path.name.endswith(".safetensors"):
        return safetensors_complete(path)
    try:
        if path.stat().st_size == 0:
            return False
    except OSError:
        return False
    # torch.save writes a zip; its central directory comes last. Older pickles: non-empty.
    with open(path, "rb") as handle:
        is_zip_start = handle.read(2) == b"PK"
    return zipfile.is_zipfile(path) if is_zip_start else True


def weights_complete(folder: Path, names: tuple[str, ...]) -> bool | None:
    """True/False for the first of `names` (or a shard index) present; None when none is."""
    for name in names:
        candidate = folder / name
        if candidate.is_file():
            return weights_file_complete(candidate)
    if names is _SINGLE_WEIGHTS:
        for index_name in _SHARD_INDEXES:
            index = folder / index_name
            if index.is_file():
                try:
                    shards = set(json.loads(index.read_bytes())["weight_map"].values())
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    return False
                return bool(shards) and all(weights_file_complete(folder / shard) for shard in shards)
    return None


def json_complete(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


# --- scanning ---------------------------------------------------------------
def folder_size(path: Path) -> int:
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


def _weights_artifacts(folder: Path, name: str | None) -> tuple[list[FoundArtifact], bool]:
    """Adapter or full weights in `folder` (named by their type when `name` is None); (found, being written)."""
    adapter = weights_complete(folder, _ADAPTER_WEIGHTS) if (folder / "adapter_config.json").is_file() else None
    model = weights_complete(folder, _SINGLE_WEIGHTS)
    if adapter is None and model is None:
        return [], False
    if adapter is False or model is False:
        return [], True
    kind = ArtifactType.ADAPTER if adapter else ArtifactType.MODEL
    size = sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())
    return [FoundArtifact(name=name or str(kind), type=kind, path=str(folder), size_bytes=size)], False


def _event_folders(root: Path, output_dir: Path) -> list[FoundArtifact]:
    found = []
    base_depth = len(root.parts)
    for directory, dirs, files in os.walk(root):
        if len(Path(directory).parts) - base_depth >= _EVENT_SEARCH_DEPTH:
            dirs.clear()
        events = [name for name in files if name.startswith(_EVENT_PREFIX)]
        if events:
            folder = Path(directory)
            size = sum(os.lstat(folder / name).st_size for name in events)
            name = str(folder.relative_to(output_dir))
            found.append(FoundArtifact(name=name, type=ArtifactType.EVENT, path=str(folder), size_bytes=size))
    return found


def evaluate_entry(output_dir: Path, name: str) -> tuple[list[FoundArtifact], bool]:
    """The artifacts one entry of the output folder holds now; (found, look again later)."""
    if name == ROOT:
        found, pending = _weights_artifacts(output_dir, None)
        kinds = {TRAINER_STATE: ArtifactType.LOG} | dict.fromkeys(_RESULT_FILES, ArtifactType.EVALUATION)
        for file_name, kind in kinds.items():
            path = output_dir / file_name
            if path.is_file():
                if json_complete(path):
                    found.append(FoundArtifact(file_name, kind, str(path), path.stat().st_size))
                else:
                    pending = True
        return found, pending

    path = output_dir / name
    if not path.is_dir():
        return [], False
    if match := CHECKPOINT_DIR.match(name):
        state = path / TRAINER_STATE
        has_weights = weights_complete(path, _ADAPTER_WEIGHTS) or weights_complete(path, _SINGLE_WEIGHTS)
        if not (state.is_file() and json_complete(state) and has_weights):
            return [], True
        artifact = FoundArtifact(name, ArtifactType.CHECKPOINT, str(path), folder_size(path), step=int(match.group(1)))
        return [artifact], False
    events = _event_folders(path, output_dir)
    if name in _EVENT_ROOTS and not events:
        return [], True
    weights, pending = _weights_artifacts(path, name)
    return events + weights, pending


def scan_output_dir(output_dir: Path, state: dict[str, Any], *, final: bool) -> ScanResult:
    """New or changed artifacts since the last scan; `state` (mtime, pending, known sizes) is updated."""
    try:
        mtime = output_dir.stat().st_mtime_ns
    except FileNotFoundError:
        return ScanResult([], [])
    known: dict[str, int] = state.setdefault("known", {})
    full = final or state.get("mtime") != mtime
    if full:
        names = [ROOT, *sorted(entry.name for entry in os.scandir(output_dir) if entry.is_dir())]
    else:
        names = list(state.get("pending", []))
    if not names:
        return ScanResult([], [])
    state["mtime"] = mtime  # taken before listing: a change during the listing is seen next time

    found: list[FoundArtifact] = []
    pending: list[str] = []
    for name in names:
        artifacts, look_again = evaluate_entry(output_dir, name)
        found.extend(artifacts)
        if look_again:
            pending.append(name)
    state["pending"] = pending

    changed = [artifact for artifact in found if known.get(artifact.path) != artifact.size_bytes]
    for artifact in changed:
        known[artifact.path] = artifact.size_bytes
    vanished = []
    if full:
        vanished = [path for path in known if not os.path.exists(path)]
        for path in vanished:
            del known[path]
    return ScanResult(changed, vanished)
