"""django-q2 tasks: fetch by id, call the domain."""

from __future__ import annotations

from datasets import services


def validate_dataset_file(upload_id: str) -> str | None:
    dataset_file = services.validate_dataset_file(upload_id=upload_id)
    return dataset_file.status if dataset_file else None
