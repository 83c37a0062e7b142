"""validate_file: each task type's record rules, line by line, with real files."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from datasets.tests.conftest import SFT_RECORD, jsonl
from datasets.validation import (
    MAX_ERRORS_KEPT,
    ValidationReport,
    check_range,
    complete_lines_end,
    finish_report,
    read_records,
    record_checker,
    validate_file,
)


def write(tmp_path: Path, content: bytes, name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def errors_of(report) -> list[tuple[int, str, str]]:
    return [(error["line"], error["field"], error["reason"]) for error in report.errors]


def test_it_accepts_the_seed_examples_of_every_task_type(tmp_path):
    examples = {
        "sft": jsonl(
            SFT_RECORD, {"messages": [{"role": "user", "content": "请总结"}, {"role": "assistant", "content": "总结"}]}
        ),
        "rl": jsonl(
            {"prompt": "请写一首短诗", "chosen": "春风拂面...", "rejected": "我不知道", "metadata": {"source": "beta"}},
            {
                "prompt": "翻译：Hello",
                "responses": [{"content": "你好", "score": 0.9}, {"content": "您好", "score": 0.7}],
            },
        ),
        "lora": jsonl({**SFT_RECORD, "target_modules": ["q_proj", "v_proj"], "rank": 8}),
        "pretrain": jsonl(
            {"doc_id": "pt-0001", "text": "大模型预训练语料第一段...", "metadata": {"domain": "finance"}}
        ),
    }
    for task_type, content in examples.items():
        report = validate_file(write(tmp_path, content), task_type)
        assert report.is_valid, (task_type, report.errors)
        assert report.records == content.count(b"\n")


def test_it_counts_roles_turns_and_lengths_for_conversations(tmp_path):
    system_turn = {"role": "system", "content": "be brief"}
    content = jsonl(SFT_RECORD, {"messages": [system_turn, *SFT_RECORD["messages"], *SFT_RECORD["messages"]]})

    stats = validate_file(write(tmp_path, content), "sft").stats

    assert stats["records"] == 2
    assert stats["roles"] == {"user": 3, "assistant": 3, "system": 1}
    assert stats["turns"] == {"count": 2, "min": 2, "max": 5, "mean": 3.5, "total": 7}
    assert stats["content_chars"]["user"]["max"] == 2
    assert stats["optional_fields"] == {"conversation_id": 1, "task_tags": 1, "metadata": 1}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"messages": "hi"}, ("messages", "must be a list of {role, content} turns, got a string")),
        ({"conversation_id": "x"}, ("messages", "is required: a list of {role, content} turns")),
        (
            {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "u"}]},
            ("messages[0].role", "'assistant' is out of order to open the conversation"),
        ),
        (
            {"messages": [{"role": "user", "content": "u"}, {"role": "robot", "content": "a"}]},
            ("messages[1].role", "must be one of system, user, assistant, tool, got 'robot'"),
        ),
        (
            {"messages": [{"role": ["user"], "content": "u"}, {"role": "assistant", "content": "a"}]},
            ("messages[0].role", "must be one of system, user, assistant, tool, got ['user']"),
        ),
        (
            {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]},
            ("messages[0].content", "must be a non-empty string"),
        ),
        ({**SFT_RECORD, "task_tags": "qa"}, ("task_tags", "must be a list of strings, got a string")),
    ],
)
def test_it_names_the_line_field_and_reason_of_a_bad_conversation(tmp_path, record, expected):
    report = validate_file(write(tmp_path, jsonl(SFT_RECORD, record)), "sft")

    assert errors_of(report)[0] == (2, *expected)
    assert not report.is_valid


def test_it_checks_lora_overrides(tmp_path):
    content = jsonl({**SFT_RECORD, "rank": 0}, {**SFT_RECORD, "target_modules": "q_proj"})

    report = validate_file(write(tmp_path, content), "lora")

    assert errors_of(report) == [
        (1, "rank", "must be a positive integer, got 0"),
        (2, "target_modules", "must be a non-empty list of module names"),
    ]


def test_it_checks_preference_records(tmp_path):
    content = jsonl(
        {"prompt": "p", "chosen": "a"},
        {"prompt": "p", "responses": [{"content": "only one", "score": 1}]},
        {"prompt": "p", "responses": [{"content": "a", "score": "high"}, {"content": "b", "score": 0.1}]},
        {"chosen": "a", "rejected": "b"},
    )

    report = validate_file(write(tmp_path, content), "rl")

    assert errors_of(report) == [
        (1, "rejected", "must be a non-empty string (a preference pair needs both chosen and rejected)"),
        (2, "responses", "must be a list of at least two {content, score} objects"),
        (3, "responses[0].score", "must be a number, got a string"),
        (4, "prompt", "is required: a non-empty string"),
    ]
    assert report.stats["kinds"] == {"pair": 2, "responses": 2}


def test_it_refuses_control_characters_in_pretraining_text(tmp_path):
    content = jsonl({"text": "clean\tand\nfine"}, {"text": "dirty\x07bell"})

    report = validate_file(write(tmp_path, content), "pretrain")

    assert errors_of(report) == [(2, "text", "holds control character U+0007 at character 6; clean the text")]


def test_it_takes_plain_text_for_pretraining(tmp_path):
    report = validate_file(write(tmp_path, "第一段\n\n第二段\n".encode(), "corpus.txt"), "pretrain")

    assert report.is_valid
    assert report.records == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json}\n", (1, "", "not valid JSON: Expecting property name enclosed in double quotes at column 2")),
        (b'[{"messages": []}]\n', (1, "", "each line must be a JSON object, got a list")),
        (b"\n", (1, "", "blank line; JSON Lines holds one JSON object on every line")),
        (b"", (0, "", "the file holds no records")),
        (b'{"text": "caf\xe9"}\n', (1, "", "not valid UTF-8 (byte 0xe9 at offset 13)")),
        (
            b"\xef\xbb\xbf" + jsonl(SFT_RECORD),
            (1, "", "the file starts with a UTF-8 byte order mark (BOM); save it without one"),
        ),
        (
            b'[{"a": 1},\n',
            (
                1,
                "",
                "not valid JSON: Expecting value at column 11; "
                "the file looks like one JSON array, convert it to JSON Lines",
            ),
        ),
    ],
)
def test_it_reports_bad_lines(tmp_path, content, expected):
    report = validate_file(write(tmp_path, content), "sft")

    assert errors_of(report)[0] == expected
    assert not report.is_valid


def test_it_keeps_the_first_errors_and_counts_them_all(tmp_path):
    report = validate_file(write(tmp_path, b"nope\n" * 250), "sft")

    assert report.error_count == 250
    assert len(report.errors) == MAX_ERRORS_KEPT
    assert report.errors[-1]["line"] == MAX_ERRORS_KEPT


def test_it_reports_progress_while_it_streams(tmp_path, monkeypatch):
    monkeypatch.setattr("datasets.validation.PROGRESS_EVERY_BYTES", 1000)
    content = jsonl(*[SFT_RECORD] * 100)
    seen: list[int] = []

    validate_file(write(tmp_path, content), "sft", progress=seen.append)

    # About every 1000 bytes (at line ends), never past the end.
    assert len(seen) >= 15
    assert all(later - earlier >= 1000 for earlier, later in itertools.pairwise(seen))
    assert seen[-1] <= len(content)


def test_it_reads_a_page_of_records(tmp_path):
    path = write(tmp_path, jsonl(*({"text": f"doc {n}"} for n in range(10))) + b"broken\n")

    items = read_records(path, "pretrain", offset=8, limit=5)

    assert [item["line"] for item in items] == [9, 10, 11]
    assert items[0]["record"] == {"text": "doc 8"}
    assert items[2]["record"] is None
    assert "Expecting value" in items[2]["error"]


def records_of_every_kind() -> dict[str, tuple[str, bytes]]:
    """Per task type: a file name and 400 lines, bad ones at lines 3, 150, 151, 299 and 400."""
    good: dict[str, dict[str, Any]] = {
        "sft": SFT_RECORD,
        "lora": {**SFT_RECORD, "rank": 8, "target_modules": ["q_proj"]},
        "rl": {"prompt": "p", "chosen": "a", "rejected": "b"},
        "pretrain": {"doc_id": "d", "text": "一段预训练文本"},
    }
    bad = {
        "sft": {"messages": [{"role": "assistant", "content": "a"}]},
        "lora": {**SFT_RECORD, "rank": 0},
        "rl": {"prompt": "p", "responses": []},
        "pretrain": {"text": "bell\x07"},
    }
    files = {}
    for task_type, record in good.items():
        lines = [jsonl({**record, "n": n}) if "messages" not in record else jsonl(record) for n in range(400)]
        for number in (3, 150, 151, 299, 400):
            lines[number - 1] = jsonl(bad[task_type])
        lines[199] = b"{broken\n"
        files[task_type] = ("data.jsonl", b"".join(lines))
    paragraphs = [f"第 {n} 段\n".encode() if n % 7 else b"\n" for n in range(400)]
    paragraphs[149] = b"\xff not utf-8\n"
    files["pretrain-txt"] = ("corpus.txt", b"\xef\xbb\xbf" + b"".join(paragraphs))
    return files


@pytest.mark.parametrize("kind", ["sft", "lora", "rl", "pretrain", "pretrain-txt"])
def test_it_gives_the_same_report_when_pieces_are_checked_in_processes(tmp_path, kind):
    name, content = records_of_every_kind()[kind]
    path = write(tmp_path, content, name)
    task_type = kind.removesuffix("-txt")
    pieces_done: list[int] = []

    one_pass = validate_file(path, task_type)
    in_pieces = validate_file(path, task_type, processes=3, piece_bytes=1024, progress=pieces_done.append)

    assert len(pieces_done) >= 4  # once per piece of about 1 KiB
    assert pieces_done[-1] == len(content)
    assert errors_of(in_pieces) == errors_of(one_pass)
    expected_lines = [1, 150] if kind == "pretrain-txt" else [3, 150, 151, 200, 299, 400]
    assert sorted({line for line, _, _ in errors_of(in_pieces)}) == expected_lines
    assert (in_pieces.records, in_pieces.error_count, in_pieces.stats) == (
        one_pass.records,
        one_pass.error_count,
        one_pass.stats,
    )


def test_it_keeps_the_first_errors_in_file_order_across_pieces(tmp_path):
    report = validate_file(write(tmp_path, b"nope\n" * 250), "sft", processes=2, piece_bytes=64)

    assert report.error_count == 250
    assert [error["line"] for error in report.errors] == list(range(1, MAX_ERRORS_KEPT + 1))


def test_it_cuts_pieces_only_at_line_starts_even_for_lines_longer_than_a_piece(tmp_path):
    long_turn = {"role": "assistant", "content": "长" * 3000}
    content = jsonl(*[{"messages": [SFT_RECORD["messages"][0], long_turn]}] * 5) + b'{"messages": 1}'

    report = validate_file(write(tmp_path, content), "sft", processes=2, piece_bytes=100)

    assert report.records == 6
    assert errors_of(report) == [(6, "messages", "must be a list of {role, content} turns, got a number")]
    assert report.stats["content_chars"]["assistant"]["max"] == 3000


def turn(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def test_it_tallies_conversations_the_same_however_often_it_folds(tmp_path, monkeypatch):
    monkeypatch.setattr("datasets.validation.FOLD_EVERY_RECORDS", 2)
    content = jsonl(
        SFT_RECORD,
        {"messages": [turn("system", "be brief"), turn("user", "hello"), turn("assistant", "hi there")]},
        {"messages": [turn("user", ""), turn("assistant", "x")]},
        {"messages": [turn("user", "abc"), turn("assistant", "de"), turn("user", "f"), turn("assistant", "ghij")]},
        SFT_RECORD,
    )
    path = write(tmp_path, content)

    for report in (validate_file(path, "sft"), validate_file(path, "sft", processes=2, piece_bytes=64)):
        assert errors_of(report) == [(3, "messages[0].content", "must be a non-empty string")]
        assert report.stats["roles"] == {"system": 1, "user": 6, "assistant": 6}
        assert report.stats["turns"] == {"count": 5, "min": 2, "max": 4, "mean": 2.6, "total": 13}
        assert report.stats["content_chars"] == {
            "system": {"count": 1, "min": 8, "max": 8, "mean": 8.0, "total": 8},
            "user": {"count": 6, "min": 0, "max": 5, "mean": 2.17, "total": 13},
            "assistant": {"count": 6, "min": 1, "max": 8, "mean": 3.17, "total": 19},
        }


@pytest.mark.parametrize("kind", ["sft", "lora", "rl", "pretrain", "pretrain-txt"])
def test_it_joins_ranges_checked_apart_and_kept_as_json_into_the_whole_files_report(tmp_path, kind):
    """What a resumable upload does: ranges checked as they arrived wait in the database as JSON."""
    name, content = records_of_every_kind()[kind]
    path = write(tmp_path, content, name)
    task_type = kind.removesuffix("-txt")
    cuts = [0, complete_lines_end(path, 0, len(content) // 3), complete_lines_end(path, 0, len(content) // 2)]

    report, checker = ValidationReport(), record_checker(task_type)
    for start, end in itertools.pairwise([*cuts, len(content)]):
        piece_report, piece_checker = check_range(path, task_type, start=start, end=end)
        saved = json.loads(json.dumps({"report": piece_report.state(), "tallies": piece_checker.state()}))
        restored = record_checker(task_type)
        restored.load(saved["tallies"])
        report.append(ValidationReport(**saved["report"]))
        checker.merge(restored)
    joined = finish_report(report, checker)

    whole = validate_file(path, task_type)
    assert errors_of(joined) == errors_of(whole)
    assert (joined.records, joined.error_count, joined.bytes_read, joined.stats) == (
        whole.records,
        whole.error_count,
        whole.bytes_read,
        whole.stats,
    )


def test_it_finds_where_the_last_whole_line_ends(tmp_path):
    path = write(tmp_path, b"one\n" + b"x" * 200_000 + b"\nthree")

    assert complete_lines_end(path, 0, 2) == 0  # no line is whole yet
    assert complete_lines_end(path, 0, 100) == 4
    assert complete_lines_end(path, 4, 150_000) == 4  # a long line, still arriving
    assert complete_lines_end(path, 4, 200_005) == 200_005
    assert complete_lines_end(path, 0, 200_010) == 200_005


ALPACA_RECORD = {
    "instruction": "Translate to French",
    "input": "good morning",
    "output": "bonjour",
    "system": "Be brief",
}


def test_it_says_how_llama_factory_reads_a_file_of_conversations(tmp_path):
    conversation = {**SFT_RECORD, "system_prompt": "You are helpful."}

    report = validate_file(write(tmp_path, jsonl(SFT_RECORD, conversation)), "sft")

    assert report.is_valid, report.errors
    assert report.stats["llamafactory"] == {
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "system": "system_prompt"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        },
    }


def test_it_takes_alpaca_instruction_records_and_says_which_field_maps_where(tmp_path):
    plain = {"instruction": "Say hi", "output": "hi"}

    report = validate_file(write(tmp_path, jsonl(ALPACA_RECORD, plain)), "lora")

    assert report.is_valid, report.errors
    assert report.stats["llamafactory"] == {
        "formatting": "alpaca",
        "columns": {"prompt": "instruction", "query": "input", "response": "output", "system": "system"},
    }
    assert report.stats["instruction_records"] == {"records": 2, "input": 1, "system": 1}
    assert report.stats["roles"] == {"user": 2, "assistant": 2}


def test_it_names_what_an_alpaca_record_lacks_and_maps_no_file_that_mixes_formats(tmp_path):
    broken = validate_file(write(tmp_path, jsonl({"instruction": "Say hi", "input": 3}), "a.jsonl"), "sft")
    mixed = validate_file(write(tmp_path, jsonl(ALPACA_RECORD, SFT_RECORD), "b.jsonl"), "sft")

    assert errors_of(broken) == [
        (1, "output", "must be a non-empty string (an instruction record has instruction and output)"),
        (1, "input", "must be a string, got a number"),
    ]
    assert "llamafactory" not in broken.stats
    assert mixed.is_valid
    assert "llamafactory" not in mixed.stats


@pytest.mark.parametrize(
    ("task_type", "records", "entry"),
    [
        ("pretrain", [{"text": "a document"}], {"formatting": "alpaca", "columns": {"prompt": "text"}}),
        (
            "rl",
            [{"prompt": "p", "chosen": "good", "rejected": "bad"}],
            {
                "formatting": "alpaca",
                "ranking": True,
                "columns": {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"},
            },
        ),
    ],
)
def test_it_maps_column_records_as_hugging_face_datasets_write_them(tmp_path, task_type, records, entry):
    report = validate_file(write(tmp_path, jsonl(*records)), task_type)

    assert report.stats["llamafactory"] == entry


def test_the_format_of_a_file_checked_in_pieces_is_that_of_the_whole(tmp_path):
    path = write(tmp_path, jsonl(*[ALPACA_RECORD] * 400))

    report = validate_file(path, "sft", processes=2, piece_bytes=4096)

    assert report.records == 400
    assert report.stats["llamafactory"]["formatting"] == "alpaca"
