"""The streaming file transformer, on real files."""

import json

from deid.engine import Deidentifier, PolicyConfig
from deid.transform import deidentify_file

SECRET = b"t" * 32


def deidentifier() -> Deidentifier:
    return Deidentifier(config=PolicyConfig.default(), secret=SECRET, seed=1)


def test_it_scrubs_every_string_value_of_json_lines_and_keeps_keys(tmp_path):
    source = tmp_path / "train.jsonl"
    records = [
        {"messages": [{"role": "user", "content": "我的手机号13812345678"}, {"role": "assistant", "content": "好的"}]},
        {"13812345678": ["邮箱bob@example.com", 13812345678, None]},
        {"text": "nothing here"},
    ]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    destination = tmp_path / "out.jsonl"
    report = deidentify_file(source=source, destination=destination, deidentifier=deidentifier())
    out = [json.loads(line) for line in destination.read_text(encoding="utf-8").splitlines()]
    assert "13812345678" not in out[0]["messages"][0]["content"] and out[0]["messages"][1]["content"] == "好的"
    assert list(out[1]) == ["13812345678"] and out[1]["13812345678"][1:] == [13812345678, None]
    assert "bob@example.com" not in out[1]["13812345678"][0]
    assert out[2] == records[2]
    assert report.lines == 3 and report.counts == {"PHONE_NUMBER": 1, "EMAIL_ADDRESS": 1} and report.errors == []


def test_it_scrubs_every_line_of_text_files_keeping_line_endings(tmp_path):
    source = tmp_path / "corpus.txt"
    source.write_bytes("手机13812345678\r\n\n身份证11010519491231002X".encode())
    destination = tmp_path / "out.txt"
    report = deidentify_file(source=source, destination=destination, deidentifier=deidentifier())
    lines = destination.read_bytes().decode().split("\r\n")
    assert len(lines) == 2 and lines[0].startswith("手机") and "13812345678" not in lines[0]
    assert lines[1].startswith("\n身份证") and "11010519491231002X" not in lines[1]
    assert report.lines == 3 and report.counts == {"PHONE_NUMBER": 1, "ID_CARD": 1}


def test_it_reports_invalid_utf8_and_broken_json_with_line_numbers_without_crashing(tmp_path):
    source = tmp_path / "bad.jsonl"
    source.write_bytes(b'{"a": "ok"}\n{"a": "\xff\xfe 13812345678"}\nnot json 13812345678\n')
    destination = tmp_path / "out.jsonl"
    report = deidentify_file(source=source, destination=destination, deidentifier=deidentifier())
    assert [e["line"] for e in report.errors] == [2, 3] and report.error_count == 2
    assert "UTF-8" in report.errors[0]["reason"] and "JSON" in report.errors[1]["reason"]
    assert "13812345678" not in destination.read_text(encoding="utf-8")
    assert report.counts == {"PHONE_NUMBER": 2}


def test_it_leaves_the_source_untouched_and_gives_one_person_one_pseudonym_across_files(tmp_path):
    scrubber = deidentifier()
    outputs = []
    for name in ("a.txt", "b.txt"):
        source = tmp_path / name
        source.write_text("客户13812345678来电\n", encoding="utf-8")
        destination = tmp_path / f"out-{name}"
        deidentify_file(source=source, destination=destination, deidentifier=scrubber)
        assert source.read_text(encoding="utf-8") == "客户13812345678来电\n"
        outputs.append(destination.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1] != "客户13812345678来电\n"


def test_it_reports_progress_in_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr("deid.transform.PROGRESS_EVERY_BYTES", 100)
    source = tmp_path / "big.txt"
    source.write_text("第一行 13812345678\n" * 50, encoding="utf-8")
    seen: list[int] = []
    deidentify_file(source=source, destination=tmp_path / "o.txt", deidentifier=deidentifier(), progress=seen.append)
    assert len(seen) > 5 and seen == sorted(seen) and seen[-1] == source.stat().st_size
