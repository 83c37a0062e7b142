"""The django-q2 schedule that keeps deployments probed wherever `manage.py qcluster` runs.

Migration 0002 creates it; `ensure_supervise_schedule` is also safe to call again
(it updates the one row by name).
"""

from __future__ import annotations

SUPERVISE_SCHEDULE_NAME = "deployments: supervise"


def ensure_supervise_schedule(schedule_model=None) -> None:
    """Create or update the every-minute schedule of `deployments.tasks.supervise_deployments`.

    `schedule_model` is django-q2's Schedule, or its historical version in a migration.
    """
    if schedule_model is None:
        from django_q.models import Schedule as schedule_model
    schedule_model.objects.update_or_create(
        name=SUPERVISE_SCHEDULE_NAME,
        defaults={
            "func": "deployments.tasks.supervise_deployments",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
        },
    )
