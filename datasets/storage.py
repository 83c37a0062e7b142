"""Writing files under the training directory without ever showing half of one.

Bytes go to a temporary name in the destination's own filesystem (so publishing is
an atomic `rename`), are hashed and counted as they are written, and the temporary
file is removed whatever goes wrong before it is published.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import BinaryIO

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from llmplatform.errors import InvalidInput

READ_CHUNK_BYTES = 1024 * 1024
# Published files are readable by all, whatever the process's umask (and mkstemp's 0600):
# a trainer may run as another user (a container, a Slurm job).
PUBLISHED_FILE_MODE = 0o644
MAX_NAME_BYTES = 200
# Characters that mean something to some filesystem or shell; replaced, never kept.
_UNSAFE_CHARACTERS = re.compile(r'[<>:"|?*\\/]')


class UnusableFileName(InvalidInput):
    """A client's file name with nothing usable left once cleaned; `field` names the request's `filename`."""


class FileTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


def clean_file_name(raw: str) -> str:
    """A client's file name made safe to store: its last path component, without
    control characters, separators, leading dots or spaces, at most MAX_NAME_BYTES.

    Raises UnusableFileName when nothing usable is left (``..``, ``/``, ``"\\x00"``).
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE_CHARACTERS.sub("_", name).strip().lstrip(".").strip()
    if not name or set(name) <= {".", "_", " "}:
        raise UnusableFileName(
            format_lazy(_("The file name {raw!r} has nothing usable left after cleaning."), raw=raw), field="filename"
        )
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 16:
        stem, suffix = name, ""
    while len(name.encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
        name = f"{stem}.{suffix}" if suffix else stem
    return name


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagedFile:
    """A file being written to a temporary name beside its destination.

    `write` hashes and counts; past `limit` bytes it raises FileTooLarge (and the
    caller discards). `publish(path)` makes it appear at `path` in one step;
    `discard()` removes it. Use as a context manager to discard on any error.
    """

    def __init__(self, directory: Path, *, limit: int | None = None, prefix: str = ".upload-") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".part")
        os.fchmod(fd, PUBLISHED_FILE_MODE)
        self.path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        self.published = False

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, chunk: bytes) -> None:
        if self.limit is not None and self.size + len(chunk) > self.limit:
            raise FileTooLarge(self.limit)
        assert self._file is not None, "write after close"
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def copy_from(self, source: BinaryIO) -> None:
        while chunk := source.read(READ_CHUNK_BYTES):
            self.write(chunk)

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def publish(self, destination: Path) -> None:
        """Atomically move the finished file to `destination` (same filesystem)."""
        self.close()
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, destination)
        fsync_directory(destination.parent)
        self.published = True

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self.published:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self.published:
            self.discard()


@functools.cache
def _openssl_sha256() -> ctypes.CDLL | None:
    """OpenSSL's SHA-256 functions, found through hashlib's own module (so the same library),
    or None where this Python does not have them (hashlib built without OpenSSL, an OpenSSL
    that no longer exports them). Looked up on first use, so importing this module never fails."""
    try:
        import _hashlib

        openssl = ctypes.CDLL(_hashlib.__file__)
        openssl.SHA256_Init.argtypes = [ctypes.c_char_p]
        openssl.SHA256_Update.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
        openssl.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    except (ImportError, AttributeError, OSError):  # no such module, no __file__ or symbol, no library
        return None
    return openssl


class _OpenSslSha256:
    """An OpenSSL SHA256_CTX in a buffer: a plain 112-byte struct (openssl/sha.h), so it can be saved."""

    CONTEXT_BYTES = 112

    def __init__(self, openssl: ctypes.CDLL, state: bytes | None) -> None:
        self._openssl = openssl
        if state is None:
            self._context = ctypes.create_string_buffer(self.CONTEXT_BYTES)
            openssl.SHA256_Init(self._context)
        elif len(state) != self.CONTEXT_BYTES:
            raise ValueError(f"a SHA-256 state is {self.CONTEXT_BYTES} bytes, not {len(state)}")
        else:
            self._context = ctypes.create_string_buffer(bytes(state), self.CONTEXT_BYTES)

    def update(self, data: bytes) -> None:
        self._openssl.SHA256_Update(self._context, data, len(data))

    def state(self) -> bytes:
        return self._context.raw

    def hexdigest(self) -> str:
        finished = ctypes.create_string_buffer(self._context.raw, self.CONTEXT_BYTES)
        digest = ctypes.create_string_buffer(32)
        self._openssl.SHA256_Final(digest, finished)
        return digest.raw.hex()


class ResumableSha256:
    """SHA-256 whose running state can be kept between requests.

    A resumable upload's chunks arrive in separate requests, maybe to separate
    processes, and hashlib's objects cannot be saved; hashing the whole file again at
    `finish` took minutes for a 100 GB corpus. With OpenSSL's own SHA-256 functions the
    state is the bytes of its context, and they seed a new hasher later.

    Where this Python does not reach those functions (`available()` is False) it is
    hashlib's SHA-256: it hashes, but has no state to save or resume from, so its user
    hashes the whole file in one go instead.
    """

    @staticmethod
    def available() -> bool:
        """Whether states can be saved and resumed from in this Python."""
        return _openssl_sha256() is not None

    def __init__(self, state: bytes | None = None) -> None:
        openssl = _openssl_sha256()
        if openssl is None and state is not None:
            raise ValueError("this Python cannot resume a saved SHA-256 state (see ResumableSha256.available)")
        self._hash: _OpenSslSha256 | hashlib._Hash = (
            hashlib.sha256() if openssl is None else _OpenSslSha256(openssl, state)
        )

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def state(self) -> bytes:
        if not isinstance(self._hash, _OpenSslSha256):
            raise RuntimeError("this Python cannot save a SHA-256 state (see ResumableSha256.available)")
        return self._hash.state()

    def hexdigest(self) -> str:
        """The digest of everything so far (a copy is finished, so updating can go on)."""
        return self._hash.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(READ_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def remove_file(path: Path) -> None:
    """Remove a published file (absent is fine: the goal is that it is gone)."""
    path.unlink(missing_ok=True)
