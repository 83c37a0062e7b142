"""Concurrent POST /deployments never share a GPU or a port (PostgreSQL, real concurrent transactions).

Run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/llmp_deployments; skipped on SQLite,
which serialises writers anyway.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from conftest import client_for
from deployments.tests.conftest import fake_behaviour

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL) for truly concurrent transactions")


def post_concurrently(user, bodies: list[dict]) -> list:
    barrier = threading.Barrier(len(bodies))
    responses: list = [None] * len(bodies)

    def post(index: int) -> None:
        client = client_for(user)
        try:
            barrier.wait()
            responses[index] = client.post("/deployments", bodies[index], format="json")
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=post, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_it_gives_each_gpu_to_one_request_only(owner, fake_vllm, tiny_model, settings):
    settings.GPU_IDS = "0,1,2"
    fake_behaviour(settings, "--fake-load-seconds 60")
    body = {"model_path": tiny_model}

    responses = post_concurrently(owner, [body] * 8)

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 3, 409: 5}, [response.json() for response in responses]
    granted = [response.json() for response in responses if response.status_code == 201]
    assert sorted(info["gpu_id"] for info in granted) == [0, 1, 2]
    assert len({info["port"] for info in granted}) == 3


def test_it_gives_a_preferred_gpu_to_one_request_only(owner, fake_vllm, tiny_model):
    fake_behaviour(fake_vllm, "--fake-load-seconds 60")
    body = {"model_path": tiny_model, "preferred_gpu": 1}

    responses = post_concurrently(owner, [body] * 6)

    assert Counter(response.status_code for response in responses) == {201: 1, 409: 5}
