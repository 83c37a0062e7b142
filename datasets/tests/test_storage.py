"""File names made safe, and staged files that are published whole or not at all."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from datasets.storage import (
    FileTooLarge,
    ResumableSha256,
    StagedFile,
    UnusableFileName,
    clean_file_name,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("train.jsonl", "train.jsonl"),
        ("../../etc/passwd", "passwd"),
        ("a\\b\\c.yaml", "c.yaml"),
        ("nul\x00byte.jsonl", "nulbyte.jsonl"),
        ("\u202eevil.jsonl", "evil.jsonl"),  # right-to-left override is a format character
        (".hidden.jsonl", "hidden.jsonl"),
        ("what?.jsonl", "what_.jsonl"),
        ("数据.jsonl", "数据.jsonl"),
    ],
)
def test_it_cleans_file_names(raw, clean):
    assert clean_file_name(raw) == clean


@pytest.mark.parametrize("raw", ["", ".", "..", "a/..", "\x00", "///", " . "])
def test_it_refuses_names_with_nothing_left(raw):
    with pytest.raises(UnusableFileName):
        clean_file_name(raw)


def test_it_shortens_long_names_keeping_the_extension():
    name = clean_file_name("数" * 300 + ".jsonl")

    assert len(name.encode()) <= 200
    assert name.endswith(".jsonl")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "staging"
    folder.mkdir()
    return folder


def test_it_publishes_a_staged_file_with_its_hash_and_size(folder: Path, strict_umask):
    tmp_path = folder
    destination = tmp_path / "out" / "file.bin"
    with StagedFile(tmp_path) as staged:
        staged.write(b"hello ")
        staged.write(b"world")
        staged.publish(destination)

    assert destination.read_bytes() == b"hello world"
    assert destination.stat().st_mode & 0o777 == 0o644  # readable by a trainer, whatever the umask
    assert staged.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert staged.size == 11
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_it_discards_the_temporary_file_on_error(folder: Path):
    tmp_path = folder
    with pytest.raises(RuntimeError), StagedFile(tmp_path) as staged:
        staged.write(b"partial")
        raise RuntimeError("connection lost")

    assert list(tmp_path.iterdir()) == []


def test_it_stops_at_the_limit(folder: Path):
    tmp_path = folder
    with pytest.raises(FileTooLarge), StagedFile(tmp_path, limit=10) as staged:
        staged.write(b"x" * 10)
        staged.write(b"y")

    assert list(tmp_path.iterdir()) == []


def test_it_goes_on_hashing_from_a_saved_state_as_if_never_stopped():
    content = bytes(range(256)) * 1000 + b"tail"
    expected = hashlib.sha256(content).hexdigest()

    for cut in (0, 1, 63, 64, 65, 4096, len(content) - 1, len(content)):
        first = ResumableSha256()
        first.update(content[:cut])
        assert first.hexdigest() == hashlib.sha256(content[:cut]).hexdigest()  # and it can go on after that
        resumed = ResumableSha256(first.state())
        resumed.update(content[cut:])
        assert resumed.hexdigest() == expected, cut


def test_it_refuses_a_state_of_the_wrong_size():
    with pytest.raises(ValueError, match="112 bytes"):
        ResumableSha256(b"\x00" * 10)


def test_it_hashes_without_a_state_where_openssls_functions_are_missing(without_openssl_sha256):
    hasher = ResumableSha256()
    hasher.update(b"hello ")
    hasher.update(b"world")

    assert not ResumableSha256.available()
    assert hasher.hexdigest() == hashlib.sha256(b"hello world").hexdigest()
    with pytest.raises(RuntimeError, match="cannot save"):
        hasher.state()
    with pytest.raises(ValueError, match="cannot resume"):
        ResumableSha256(b"\x00" * 112)


def test_it_imports_and_hashes_in_a_python_whose_hashlib_has_no_openssl():
    probe = (
        "import sys; sys.modules['_hashlib'] = None\n"  # as in a Python built without OpenSSL
        "from datasets.storage import ResumableSha256\n"
        "hasher = ResumableSha256(); hasher.update(b'abc')\n"
        "print(ResumableSha256.available(), hasher.hexdigest())"
    )
    root = Path(__file__).resolve().parents[2]

    result = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", hashlib.sha256(b"abc").hexdigest()]
