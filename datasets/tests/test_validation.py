"""validate_file: each task type's record rules, line by line, with real files."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from datasets.tests.conftest import SFT_RECORD, jsonl
from datasets.validation import MAX_ERRORS_KEPT, read_records, validate_file


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
