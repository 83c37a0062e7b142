"""django-q2 tasks of checkpoint retention."""

from __future__ import annotations

from retention import services
from runs.models import Run


def apply_retention(run_id: str) -> str:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return f"Run {run_id} no longer exists."
    deleted = services.apply_retention(run)
    return f"Run {run_id}: {len(deleted)} checkpoint(s) deleted by the retention policy."
