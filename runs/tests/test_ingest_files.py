"""runs.ingest.files: tailing JSON-lines files and re-reading changed JSON files."""

from __future__ import annotations

import json
import os

from runs.ingest.files import read_json_if_changed, tail_jsonl


def test_it_returns_only_new_complete_records(tmp_path):
    path = tmp_path / "trainer_log.jsonl"
    position: dict = {}
    path.write_text('{"current_steps": 1}\n{"current_steps": 2}\n{"current_st')

    assert tail_jsonl(path, position) == [{"current_steps": 1}, {"current_steps": 2}]
    assert tail_jsonl(path, position) == []
    with open(path, "a") as handle:
        handle.write('eps": 3}\nnot json\n[1]\n')
    assert tail_jsonl(path, position) == [{"current_steps": 3}]


def test_a_rewritten_file_is_read_from_the_start(tmp_path):
    path = tmp_path / "metrics.jsonl"
    position: dict = {}
    path.write_text('{"step": 1}\n{"step": 2}\n')
    tail_jsonl(path, position)

    path.write_text('{"step": 9}\n')

    assert tail_jsonl(path, position) == [{"step": 9}]


def test_a_missing_file_gives_nothing(tmp_path):
    assert tail_jsonl(tmp_path / "absent.jsonl", {}) == []


def test_it_rereads_a_json_file_only_when_it_changed(tmp_path):
    path = tmp_path / "trainer_state.json"
    seen: dict = {}
    path.write_text(json.dumps({"global_step": 1}))

    assert read_json_if_changed(path, seen) == {"global_step": 1}
    assert read_json_if_changed(path, seen) is None
    path.write_text(json.dumps({"global_step": 22}))
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000))
    assert read_json_if_changed(path, seen) == {"global_step": 22}


def test_a_half_written_json_file_is_tried_again(tmp_path):
    path = tmp_path / "trainer_state.json"
    seen: dict = {}
    path.write_text('{"global_step": ')
    assert read_json_if_changed(path, seen) is None
    path.write_text('{"global_step": 5}')
    assert read_json_if_changed(path, seen) == {"global_step": 5}


def test_a_record_with_a_value_python_writes_as_nan_is_still_read(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"step": 1, "loss": float("nan"), "accuracy": 0.5}) + "\n")

    [record] = tail_jsonl(path, {})

    assert record["step"] == 1 and record["accuracy"] == 0.5
