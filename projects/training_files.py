"""Paths of training files (datasets, YAML configs) named by users.

Users name files *relative to the training directory* (`HOST_TRAINING_DIR`); such
a name must never reach outside it: no absolute paths, no `..`, no NUL bytes or
other control characters, and no symlink that resolves elsewhere. Neither may it
only look like a relative path while a trainer's loader reads it as something else:
`~/.ssh/id_rsa` (a home directory to whatever expands `~`), `file:///etc/passwd` or
`s3://bucket/x` (URLs, which fsspec-based loaders such as Hugging Face datasets
open), percent escapes (`%2e%2e/`, `..` to whatever decodes them). A part longer
than the file system allows (NAME_MAX, PATH_MAX) is refused too, so that no later
file operation fails on it.

A name is stored exactly as submitted or refused; it is never rewritten.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError

from llmplatform.sentences import gettext_noop

# Linux's limits on one path component and on a whole path (with its closing NUL).
NAME_MAX_BYTES = 255
PATH_MAX_BYTES = 4095
# `scheme:` at the start (file:, s3:, hf:, data:), `scheme://` anywhere, and fsspec's `::` chaining.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|://|::")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


class UnsafePath(ValueError):
    """A user-given path that could escape its root; `str()` says why."""


TRAINING_DIRECTORY = gettext_noop("the training directory")


def path_problem(value: str) -> str | None:
    """Why `value` cannot be used as a path by the platform or a trainer, or None.

    The rules every user-given path obeys, relative or absolute: no control
    characters, backslashes, `~`, URL, percent escape or `..` segment, and parts
    within the file system's limits.
    """
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return gettext_noop("must not contain NUL or other control characters")
    if "\\" in value:
        return gettext_noop("must use forward slashes")
    if value.startswith("~"):
        return gettext_noop("must not start with '~' (a home directory)")
    if _URL.search(value):
        return gettext_noop("must be a path, not a URL (no 'scheme:', '://' or '::')")
    if _PERCENT_ESCAPE.search(value):
        return gettext_noop("must not contain percent-encoded characters (such as %2e)")
    path = PurePosixPath(value)
    if ".." in path.parts:
        return gettext_noop("must not contain '..' segments")
    if len(value.encode("utf-8")) > PATH_MAX_BYTES:
        return gettext_noop("must not be longer than {limit} bytes").format(limit=PATH_MAX_BYTES)
    if any(len(part.encode("utf-8")) > NAME_MAX_BYTES for part in path.parts):
        return gettext_noop("must not have a part longer than {limit} bytes").format(limit=NAME_MAX_BYTES)
    return None


def check_relative_path(value: str, *, root_name: str = TRAINING_DIRECTORY) -> str:
    """Return `value` unchanged when it is a safe name relative to `root_name`; else UnsafePath."""
    if not value or not value.strip():
        raise UnsafePath(gettext_noop("must not be empty"))
    if PurePosixPath(value).is_absolute():
        raise UnsafePath(gettext_noop("must be relative to {root}, not absolute").format(root=root_name))
    problem = path_problem(value)
    if problem:
        raise UnsafePath(problem)
    return value


def clean_training_path(value: str) -> str:
    """A project's or run's file name as typed: blank kept, unsafe refused, nothing rewritten.

    The one check the API, the console and the admin run (a field validator too:
    Django ignores what a validator returns).
    """
    if value == "":
        return value
    try:
        return check_relative_path(value)
    except UnsafePath as exc:
        raise ValidationError(f"{value!r} {exc}", code="unsafe_path") from None


def resolve_training_file(relative: str, *, root: Path | None = None, root_name: str = TRAINING_DIRECTORY) -> Path:
    """The absolute path of a checked relative name, refusing symlinks out of the root (called `root_name`)."""
    base = Path(root or settings.HOST_TRAINING_DIR).resolve()
    resolved = (base / check_relative_path(relative, root_name=root_name)).resolve()
    if not resolved.is_relative_to(base):
        raise UnsafePath(gettext_noop("resolves outside {root}").format(root=root_name))
    return resolved
