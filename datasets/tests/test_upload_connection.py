"""Uploads over a real connection: a client that disconnects mid-body leaves nothing
behind, and a file over the limit is answered 413 before the rest of its body is read."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from datasets import services
from datasets.models import DatasetFile
from datasets.tests.conftest import SFT_RECORD, jsonl, stored_files
from llmplatform.testing import wait_for

BOUNDARY = "connection-test-boundary"
PART_HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="train.jsonl"\r\n'
    "Content-Type: application/octet-stream\r\n\r\n"
).encode()


def request_head(live_server, owner, dataset, content_length: int) -> tuple[str, int, bytes]:
    host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
    head = (
        f"PUT /v1/datasets/{dataset.pk}/files HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Token {owner.auth_token.key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()
    return host, port, head


@pytest.mark.django_db(transaction=True)
def test_it_removes_the_partial_file_when_the_client_disconnects(live_server, owner, training_dir: Path):
    dataset = services.create_dataset(name="d", task_type="sft", created_by=owner)
    first_part = PART_HEAD + jsonl(*[SFT_RECORD] * 20000)  # ~3 MB: several 1 MiB handler chunks
    declared_length = len(first_part) + 10 * 1024 * 1024  # promises 10 MiB more than it sends
    host, port, head = request_head(live_server, owner, dataset, declared_length)

    with socket.create_connection((host, port)) as connection:
        connection.sendall(head + first_part)
        # The server has started writing the file to a temporary name...
        wait_for(lambda: any(name.endswith(".part") for name in stored_files(training_dir)), timeout=10)
        connection.shutdown(socket.SHUT_WR)
    # ...and once the connection is gone, nothing of it is left, and nothing was recorded.
    wait_for(lambda: stored_files(training_dir) == [], timeout=10)
    assert not DatasetFile.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_answers_413_as_soon_as_the_limit_is_passed(live_server, owner, training_dir: Path, settings):
    """The client declares a body within the multipart slack, sends just past the limit
    and then waits: the 413 must come without the server waiting for the rest."""
    settings.MAX_SMALL_FILE_BYTES = 3 * 1024 * 1024
    dataset = services.create_dataset(name="d", task_type="sft", created_by=owner)
    sent = PART_HEAD + b"x" * (settings.MAX_SMALL_FILE_BYTES + 1024 * 1024)
    host, port, head = request_head(live_server, owner, dataset, len(sent) + 32 * 1024)

    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(head + sent)  # ...and never the remaining 32 KiB
        answer = connection.recv(4096)

    assert answer.startswith(b"HTTP/1.1 413"), answer
    wait_for(lambda: stored_files(training_dir) == [], timeout=10)
    assert not DatasetFile.objects.exists()
