"""A client that disconnects in the middle of a multipart body leaves nothing behind."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from datasets import services
from datasets.models import DatasetFile
from datasets.tests.conftest import SFT_RECORD, jsonl, stored_files


def wait_for(condition, *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_it_removes_the_partial_file_when_the_client_disconnects(live_server, owner, training_dir: Path):
    dataset = services.create_dataset(name="d", task_type="sft", created_by=owner)
    boundary = "interrupted-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="train.jsonl"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    first_part = head + jsonl(*[SFT_RECORD] * 20000)  # ~3 MB: several 1 MiB handler chunks
    declared_length = len(first_part) + 10 * 1024 * 1024  # promises 10 MiB more than it sends
    host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
    request_head = (
        f"PUT /v1/datasets/{dataset.pk}/files HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Token {owner.auth_token.key}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {declared_length}\r\n\r\n"
    ).encode()

    with socket.create_connection((host, port)) as connection:
        connection.sendall(request_head + first_part)
        # The server has started writing the file to a temporary name...
        wait_for(lambda: any(name.endswith(".part") for name in stored_files(training_dir)))
        connection.shutdown(socket.SHUT_WR)
    # ...and once the connection is gone, nothing of it is left, and nothing was recorded.
    wait_for(lambda: stored_files(training_dir) == [])
    assert not DatasetFile.objects.exists()
