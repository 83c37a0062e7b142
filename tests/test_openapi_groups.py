"""/docs groups every endpoint under a named tag and says in a summary what it does."""

from __future__ import annotations

import pytest

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.mark.django_db
def test_it_puts_every_operation_in_a_named_group_with_a_summary(client):
    schema = client.get("/openapi.json").json()
    operations = [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    assert len(operations) > 50
    untagged = [(method, path) for method, path, operation in operations if operation.get("tags", ["v1"]) == ["v1"]]
    unsummarised = [(method, path) for method, path, operation in operations if not operation.get("summary")]
    assert untagged == [] and unsummarised == []
    deid = {operation["tags"][0] for method, path, operation in operations if "deid" in path}
    assert deid == {"de-identification"}
