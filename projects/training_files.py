"""Paths of training files (datasets, YAML configs) named by users.

Users name files *relative to the training directory* (`HOST_TRAINING_DIR`); such
a name must never reach outside it: no absolute paths, no `..`, no NUL bytes or
other control characters, and no symlink that resolves elsewhere.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError


class UnsafePath(ValueError):
    """A user-given path that could escape its root; `str()` says why."""


def check_relative_path(value: str, *, root_name: str = "the training directory") -> str:
    """Return `value` normalised (no `./`, no doubled slashes) or raise UnsafePath naming `root_name`."""
    if not value or not value.strip():
        raise UnsafePath("must not be empty")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise UnsafePath("must not contain NUL or other control characters")
    if "\\" in value:
        raise UnsafePath("must use forward slashes")
    path = PurePosixPath(value)
    if path.is_absolute():
        raise UnsafePath(f"must be relative to {root_name}, not absolute")
    if ".." in path.parts:
        raise UnsafePath("must not contain '..' segments")
    return str(path)


def clean_training_path(value: str) -> str:
    """A project's or run's file name as typed: normalised, blank kept, unsafe refused.

    The one check the API, the console and the admin run (a field validator too:
    Django ignores what a validator returns).
    """
    if value == "":
        return value
    try:
        return check_relative_path(value)
    except UnsafePath as exc:
        raise ValidationError(f"{value!r} {exc}", code="unsafe_path") from None


def resolve_training_file(
    relative: str, *, root: Path | None = None, root_name: str = "the training directory"
) -> Path:
    """The absolute path of a checked relative name, refusing symlinks out of the root (called `root_name`)."""
    base = Path(root or settings.HOST_TRAINING_DIR).resolve()
    resolved = (base / check_relative_path(relative, root_name=root_name)).resolve()
    if not resolved.is_relative_to(base):
        raise UnsafePath(f"resolves outside {root_name}")
    return resolved
