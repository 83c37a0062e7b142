"""django-q2 tasks: thin, they call the domain."""

from __future__ import annotations

from llmplatform import supervision
from runs import scheduling


def dispatch_queued_runs() -> int:
    """Start what can start now, and make sure a loop watches the runs (see llmplatform.supervision)."""
    started = scheduling.dispatch_queued_runs()
    supervision.wake("runs")
    return len(started)
