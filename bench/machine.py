"""Where a benchmark figure comes from, printed by every script in bench/ at its start and end."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    """CPU model, cores, load average now, and the commit measured."""
    cpu_lines = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpu_lines if "model name" in line), "unknown CPU")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return f"machine: {model}, {os.cpu_count()} cores, load average {load}; commit {commit.stdout.strip() or '?'}"
