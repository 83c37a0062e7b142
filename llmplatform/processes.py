"""Child processes that outlive the web server and the workers.

Trainers and model servers are started as argv lists in their own session (so a
restart of the platform never takes them down), with their output going to a file
(so a slow or stopped platform never blocks them on a full pipe). A tiny `sh`
wrapper records the exit code in a file, because once the platform restarts it is
no longer the parent and cannot `wait()` for it. A process is identified by its pid
*and* its start time, so a recycled pid is never mistaken for it.

Linux only: identities and process groups are read from /proc.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

COMMAND_NOT_FOUND = "command not found"
COMMAND_NOT_FOUND_EXIT_CODE = 127  # the shell's own code for it


def program_check(argument: str) -> str:
    """A shell condition: the program named by `argument` ("$1") can be run, as exec would find it: a name
    with a slash is an executable file, a bare name is on PATH (or a builtin)."""
    return (
        f"case {argument} in */*) [ -f {argument} ] && [ -x {argument} ];; "
        f"*) command -v {argument} >/dev/null 2>&1;; esac"
    )


# $0 = exit-code file; "$@" = the program's argv. User text only ever arrives as
# positional arguments, never inside this script. A TERM handler (not an ignore,
# which children would inherit) keeps the wrapper alive until the program has
# exited, so its exit code is still recorded when the group is sent SIGTERM. A
# program that cannot be run is said so in one ERROR line, not in the shell's words
# (which start with this script's name, the exit-code file's path).
EXIT_CODE_WRAPPER = (
    'trap "" HUP; trap ":" TERM INT; '
    "if " + program_check('"$1"') + '; then "$@"; code=$?; '
    f'else echo "ERROR: {COMMAND_NOT_FOUND}: $1"; code={COMMAND_NOT_FOUND_EXIT_CODE}; fi; '
    'echo "$code" > "$0.tmp" && mv "$0.tmp" "$0"'
)


def program_problem(program: str, *, cwd: Path, env: Mapping[str, str]) -> str | None:
    """Why `program` (argv[0]) cannot be started from `cwd` with `env`'s PATH, as the wrapper would say, or None."""
    if "/" in program:
        path = cwd / program
        runnable = path.is_file() and os.access(path, os.X_OK)
    else:
        runnable = shutil.which(program, path=env.get("PATH", os.defpath)) is not None
    return None if runnable else f"{COMMAND_NOT_FOUND}: {program}"


# The platform's own secrets stay out of the environment of every program it starts.
WITHHELD_VARIABLES = frozenset({"SECRET_KEY", "DATABASE_URL", "REDIS_URL"})


def inherited_environment(variables: Mapping[str, str]) -> dict[str, str]:
    """This process's environment less the platform's secrets, with `variables` set over it."""
    return {**{key: value for key, value in os.environ.items() if key not in WITHHELD_VARIABLES}, **variables}


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as the kernel knows it: pid plus start time (clock ticks since boot)."""

    pid: int
    start_time: int

    def as_dict(self) -> dict[str, int]:
        return {"pid": self.pid, "start_time": self.start_time}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessIdentity:
        return cls(pid=int(data["pid"]), start_time=int(data["start_time"]))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after it.
    return raw[raw.rindex(")") + 2 :].split()


def read_start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None  # field 22 of stat


def identify(pid: int) -> ProcessIdentity | None:
    start_time = read_start_time(pid)
    return ProcessIdentity(pid, start_time) if start_time is not None else None


def is_running(identity: ProcessIdentity) -> bool:
    """True while that very process exists and is not a zombie."""
    fields = _stat_fields(identity.pid)
    if fields is None:
        return False
    return int(fields[19]) == identity.start_time and fields[0] not in {"Z", "X"}


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids whose process group is `pgid`."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            members.append(int(entry.name))
    return members


CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU time the live processes among `pids` have used so far."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return ticks / CLOCK_TICKS_PER_SECOND


def is_python(pid: int) -> bool:
    """Whether the process runs a Python interpreter (what a stack dumper can read)."""
    try:
        program = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return is_python_program(program)


def is_python_program(path: str) -> bool:
    """Whether the program at `path` (a process's /proc/<pid>/exe) is a Python interpreter."""
    return Path(path).name.startswith("python")


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    exit_code_path: Path,
) -> ProcessIdentity:
    """Start `argv` in a new session, output appended to `log_path`.

    The returned identity is the wrapper's, which leads the new process group; its
    pgid equals its pid. Raises OSError when the program cannot be started at all
    (missing working directory, say); a missing executable shows up as exit code 127.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab", buffering=0) as log, open(os.devnull, "rb") as devnull:
        child = subprocess.Popen(
            ["/bin/sh", "-c", EXIT_CODE_WRAPPER, str(exit_code_path), *argv],
            cwd=cwd,
            env=dict(env),
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    identity = identify(child.pid)
    # A child that exited within microseconds: its start time is gone with it, but
    # its exit code file tells the rest.
    return identity or ProcessIdentity(child.pid, -1)


def read_exit_code(exit_code_path: Path) -> int | None:
    try:
        return int(exit_code_path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_until(condition: Callable[[], bool], timeout: float, poll_interval: float = 0.05) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_interval)


def stop_gracefully(
    send: Callable[[signal.Signals], object],
    gone: Callable[[], bool],
    *,
    grace: float,
    force: bool = True,
    kill_wait: float = 5.0,
    poll_interval: float = 0.05,
) -> bool:
    """SIGTERM, `grace` seconds to save and exit, then SIGKILL if `force`, `kill_wait` more.

    `send` delivers a signal to every process of the thing being stopped; `gone()` says
    whether none is left. Returns True only once `gone()` does: a parent's exit proves
    nothing, children (vLLM's engine, dataloader workers) keep GPU memory until they
    are gone too.
    """
    send(signal.SIGTERM)
    if wait_until(gone, grace, poll_interval):
        return True
    if not force:
        return False
    send(signal.SIGKILL)
    return wait_until(gone, kill_wait, poll_interval)


def terminate_group(pgid: int, *, grace: float, force: bool = True) -> bool:
    """Stop the whole process group gracefully; True once none of it is left (verified in /proc)."""
    return stop_gracefully(partial(signal_group, pgid), lambda: not group_members(pgid), grace=grace, force=force)
