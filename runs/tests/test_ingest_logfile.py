"""runs.ingest.logfile: new complete lines of a growing log, cut on \\n and \\r."""

from __future__ import annotations

from pathlib import Path

from runs.ingest.logfile import MAX_LINE_CHARS, read_chunk


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "train.log"
    path.write_bytes(data)
    return path


def texts(chunk) -> list[str]:
    return chunk.lines


def test_it_cuts_on_newline_and_carriage_return_and_keeps_the_partial_line(tmp_path):
    path = write(tmp_path, b"one\r\ntwo\rthree\nfour")

    chunk = read_chunk(path, 0, final=False, max_bytes=1 << 20)

    assert texts(chunk) == ["one", "two", "three"]
    assert chunk.end_offset == len(b"one\r\ntwo\rthree\n")
    assert chunk.tail == "four" and chunk.at_end


def test_it_continues_from_the_offset_and_takes_the_last_line_when_final(tmp_path):
    path = write(tmp_path, b"one\ntwo")
    first = read_chunk(path, 0, final=False, max_bytes=1 << 20)

    last = read_chunk(path, first.end_offset, final=True, max_bytes=1 << 20)

    assert texts(last) == ["two"] and last.end_offset == 7


def test_it_reads_at_most_max_bytes_and_says_more_is_left(tmp_path):
    path = write(tmp_path, b"".join(b"line %d\n" % n for n in range(100)))

    chunk = read_chunk(path, 0, final=False, max_bytes=50)

    assert not chunk.at_end
    assert texts(chunk)[0] == "line 0" and chunk.end_offset <= 50
    rest = read_chunk(path, chunk.end_offset, final=False, max_bytes=1 << 20)
    assert len(chunk.lines) + len(rest.lines) == 100


def test_it_cuts_a_line_longer_than_a_chunk_instead_of_waiting_forever(tmp_path):
    path = write(tmp_path, b"x" * 100 + b"\n")

    chunk = read_chunk(path, 0, final=False, max_bytes=40)

    assert chunk.end_offset == 40 and texts(chunk) == ["x" * 40]


def test_it_drops_blank_lines_escapes_and_nul_and_marks_nested_bars(tmp_path):
    path = write(tmp_path, b"\x1b[32mgreen\x1b[0m\n   \n\x00zero\n 50%|##| 1/2 [00:01<00:01]\x1b[A\r")

    chunk = read_chunk(path, 0, final=False, max_bytes=1 << 20)

    assert chunk.lines == ["green", "zero", " 50%|##| 1/2 [00:01<00:01]"]
    assert chunk.nested == {2}


def test_it_decodes_utf8_split_anywhere_but_at_a_line_end(tmp_path):
    path = write(tmp_path, "损失下降\n".encode() + b"\xff bad byte\n")

    chunk = read_chunk(path, 0, final=False, max_bytes=1 << 20)

    assert texts(chunk) == ["损失下降", "\ufffd bad byte"]


def test_it_truncates_an_enormous_line(tmp_path):
    path = write(tmp_path, b"y" * (MAX_LINE_CHARS + 10) + b"\n")

    (line,) = read_chunk(path, 0, final=False, max_bytes=1 << 20).lines

    assert line.endswith("…[truncated]") and len(line) < MAX_LINE_CHARS + 20


def test_a_missing_file_is_nothing_yet(tmp_path):
    chunk = read_chunk(tmp_path / "absent.log", 0, final=False, max_bytes=100)
    assert chunk.lines == [] and chunk.end_offset == 0 and chunk.at_end
