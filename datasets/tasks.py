"""django-q2 tasks: fetch by id, call the domain."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from datasets import services


def validate_dataset_file(upload_id: str) -> str | None:
    dataset_file = services.validate_dataset_file(upload_id=upload_id)
    return dataset_file.status if dataset_file else None


def validate_received_bytes(upload_id: str) -> int:
    return services.validate_received_bytes(upload_id=upload_id)


def purge_abandoned_uploads() -> int:
    """Hourly (see migration 0002): uploads idle longer than UPLOAD_SESSION_MAX_IDLE_HOURS."""
    return services.purge_abandoned_uploads(older_than=timedelta(hours=settings.UPLOAD_SESSION_MAX_IDLE_HOURS))


def measure_token_lengths(lengths_id: str) -> str | None:
    lengths = services.run_token_lengths(lengths_id=lengths_id)
    return lengths.status if lengths else None
