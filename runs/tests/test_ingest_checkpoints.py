"""runs.ingest.checkpoints: complete checkpoints only, weights, events; cheap rescans."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from runs.ingest import ingest_run, latest_complete_checkpoint
from runs.ingest.checkpoints import scan_output_dir, weights_file_complete
from runs.models import Artifact
from runs.tests.ingest_support import make_run, write_checkpoint, write_safetensors


def found(result) -> set[tuple[str, str, int | None]]:
    return {(item.type, item.name, item.step) for item in result.found}


def test_a_checkpoint_counts_once_its_state_and_whole_weights_are_there(tmp_path):
    state: dict = {}
    folder = write_checkpoint(tmp_path, 10, with_state=False)
    assert found(scan_output_dir(tmp_path, state, final=False)) == set()
    assert state["pending"] == ["checkpoint-10"]

    write_checkpoint(tmp_path, 10)  # trainer_state.json arrives after the weights, as in Trainer._save_checkpoint

    result = scan_output_dir(tmp_path, state, final=False)
    assert found(result) == {("checkpoint", "checkpoint-10", 10)}
    assert result.found[0].size_bytes == sum(path.stat().st_size for path in folder.iterdir())
    assert state["pending"] == []


def test_weights_caught_mid_write_are_not_complete(tmp_path):
    write_checkpoint(tmp_path, 5, truncate_by=10)
    assert found(scan_output_dir(tmp_path, {}, final=True)) == set()
    assert not weights_file_complete(tmp_path / "checkpoint-5" / "model.safetensors")


def test_a_torch_zip_is_complete_only_with_its_central_directory(tmp_path):
    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"x" * 1000)
    assert weights_file_complete(path)
    path.write_bytes(path.read_bytes()[:600])
    assert not weights_file_complete(path)


def test_sharded_weights_need_every_shard(tmp_path):
    folder = tmp_path / "checkpoint-3"
    write_safetensors(folder / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 3}))
    assert found(scan_output_dir(tmp_path, {}, final=False)) == set()

    write_safetensors(folder / "model-00002-of-00002.safetensors")
    assert found(scan_output_dir(tmp_path, {}, final=False)) == {("checkpoint", "checkpoint-3", 3)}


def test_it_finds_adapters_full_weights_states_results_and_event_folders(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    write_safetensors(tmp_path / "adapter_model.safetensors")
    (tmp_path / "trainer_state.json").write_text("{}")
    (tmp_path / "all_results.json").write_text("{}")
    write_safetensors(tmp_path / "model_final" / "model.safetensors")
    events = tmp_path / "runs" / "Nov23_12-00-00_host"
    events.mkdir(parents=True)
    (events / "events.out.tfevents.1700000000.host.1.0").write_bytes(b"e" * 40)

    result = scan_output_dir(tmp_path, {}, final=False)

    assert found(result) == {
        ("adapter", "adapter", None),
        ("log", "trainer_state.json", None),
        ("evaluation", "all_results.json", None),
        ("model", "model_final", None),
        ("event", "runs/Nov23_12-00-00_host", None),
    }
    assert next(item for item in result.found if item.type == "event").size_bytes == 40


def test_an_unchanged_folder_is_not_listed_again(tmp_path, monkeypatch):
    write_checkpoint(tmp_path, 10)
    state: dict = {}
    scan_output_dir(tmp_path, state, final=False)

    def no_listing(path):
        raise AssertionError("listed an unchanged folder")

    monkeypatch.setattr(os, "scandir", no_listing)
    assert scan_output_dir(tmp_path, state, final=False).found == []


def test_it_reports_rotated_checkpoints_as_vanished(tmp_path):
    state: dict = {}
    write_checkpoint(tmp_path, 10)
    write_checkpoint(tmp_path, 20)
    scan_output_dir(tmp_path, state, final=False)

    shutil.rmtree(tmp_path / "checkpoint-10")
    result = scan_output_dir(tmp_path, state, final=False)

    assert result.vanished == [str(tmp_path / "checkpoint-10")]


@pytest.mark.django_db
def test_ingest_run_offers_the_latest_complete_checkpoint_and_forgets_rotated_ones():
    run = make_run()
    output_dir = Path(run.output_dir)
    write_checkpoint(output_dir, 10)
    write_checkpoint(output_dir, 20)
    write_checkpoint(output_dir, 30, with_state=False)  # mid-save
    ingest_run(run)

    latest = latest_complete_checkpoint(run)

    assert latest is not None and latest.name == "checkpoint-20"
    assert run.current_step == 20, "trainer_state.json of the newest complete checkpoint gives the step"

    shutil.rmtree(output_dir / "checkpoint-10")
    write_checkpoint(output_dir, 30)
    ingest_run(run)

    names = set(Artifact.objects.filter(run=run, type="checkpoint").values_list("name", flat=True))
    assert names == {"checkpoint-20", "checkpoint-30"}
    latest = latest_complete_checkpoint(run)
    assert latest is not None and latest.step == 30


@pytest.mark.django_db
def test_latest_complete_checkpoint_skips_a_folder_deleted_behind_its_back():
    run = make_run()
    output_dir = Path(run.output_dir)
    write_checkpoint(output_dir, 10)
    write_checkpoint(output_dir, 20)
    ingest_run(run)

    shutil.rmtree(output_dir / "checkpoint-20")

    latest = latest_complete_checkpoint(run)

    assert latest is not None and latest.step == 10
    assert latest_complete_checkpoint(make_run()) is None
