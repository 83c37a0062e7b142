"""Stack dumps of a run's Python processes with py-spy, for the stall watch (runs.healing).

py-spy runs here for the processes this host sees (`dump_here`), or wherever an engine runs
it (`dump_pythons` with the argv that reaches them, such as a Slurm step on the job's node).
Each dump, or the reason a process could not be read, is one section of the text.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from django.conf import settings

from llmplatform.processes import is_python


def py_spy() -> str | None:
    """The py-spy program (installed beside this interpreter by requirements.txt), or None."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.is_file() else shutil.which("py-spy")


def dump_here(pids: Collection[int]) -> str:
    """The dump of the Python processes among `pids`, read in this host's /proc, or why there is none."""
    program = py_spy()
    if program is None:
        return "No stack dump: py-spy is not installed (requirements.txt).\n"
    return dump_pythons([pid for pid in sorted(pids) if is_python(pid)], [program])


def dump_pythons(pids: Sequence[int], py_spy_argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> str:
    """The dump of each of `pids` (Python processes) by `py_spy_argv` (py-spy, or a command that runs it where the
    processes are, with `env`), each within STACK_DUMP_TIMEOUT_SECONDS, or why there is none."""
    if not pids:
        return "No stack dump: none of the run's processes runs Python.\n"
    parts = []
    for pid in pids:
        try:
            done = subprocess.run(
                [*py_spy_argv, "dump", "--pid", str(pid)],
                capture_output=True,
                text=True,
                env=env,
                timeout=settings.STACK_DUMP_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            parts.append(f"--- pid {pid}: py-spy took over {settings.STACK_DUMP_TIMEOUT_SECONDS:g} s\n")
            continue
        if done.returncode == 0:
            parts.append(f"--- pid {pid}\n{done.stdout}")
        else:
            # Most often ptrace is not allowed (a container without CAP_SYS_PTRACE, Yama ptrace_scope).
            parts.append(f"--- pid {pid}: py-spy could not read it (exit {done.returncode}): {done.stderr.strip()}\n")
    return "\n".join(parts)
