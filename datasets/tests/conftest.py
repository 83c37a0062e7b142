"""Shared pieces for the datasets tests: real records, real files, real uploads."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from datasets import services, storage
from datasets.models import Dataset

SFT_RECORD: dict[str, Any] = {
    "conversation_id": "demo-001",
    "messages": [{"role": "user", "content": "指令"}, {"role": "assistant", "content": "回答"}],
    "task_tags": ["qa"],
    "metadata": {"language": "zh"},
}


def jsonl(*records: object) -> bytes:
    return b"".join(json.dumps(record, ensure_ascii=False).encode() + b"\n" for record in records)


def upload(client: APIClient, dataset_id: object, name: str, content: bytes):
    return client.put(
        f"/v1/datasets/{dataset_id}/files",
        {"file": SimpleUploadedFile(name, content, content_type="application/octet-stream")},
        format="multipart",
    )


def upload_raw(client: APIClient, dataset_id: object, client_name: str, content: bytes):
    """A multipart body built by hand, so the file name goes on the wire exactly as given."""
    boundary = "----llmp-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{client_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.generic(
        "PUT",
        f"/v1/datasets/{dataset_id}/files",
        body,  # type: ignore[arg-type]  # the stubs say str; Django sends bytes as they are
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def stored_files(training_dir: Path) -> list[str]:
    """Every file under the training directory, temporary ones included."""
    return sorted(str(path.relative_to(training_dir)) for path in training_dir.rglob("*") if path.is_file())


@pytest.fixture
def make_dataset(owner) -> Callable[..., Dataset]:
    """`owner`'s dataset; shared with `project` when one is given (its member then sees it)."""

    def make(task_type: str = "sft", *, name: str = "chatglm_pairs_v1", created_by=None, project=None) -> Dataset:
        return services.create_dataset(name=name, task_type=task_type, created_by=created_by or owner, project=project)

    return make


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """A process umask that would make new files private: published ones must not follow it."""
    previous = os.umask(0o077)
    yield
    os.umask(previous)


@pytest.fixture
def without_openssl_sha256(monkeypatch) -> None:
    """A Python whose hashlib does not expose OpenSSL's SHA-256 functions."""
    monkeypatch.setattr(storage, "_openssl_sha256", lambda: None)
