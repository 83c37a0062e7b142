"""GET /projects: a plain array with filters, limit/offset, X-Total-Count and Link."""

from __future__ import annotations

from projects.services import create_project


def make(actor, name, **fields):
    return create_project(actor=actor, fields={"name": name, **fields})


def test_it_lists_only_the_projects_a_user_may_see(
    owner, member, outsider, staff, owner_client, outsider_client, staff_client, member_client
):
    shared = create_project(actor=owner, fields={"name": "shared"}, members=[member])
    make(owner, "private")
    make(outsider, "theirs")

    assert {p["name"] for p in owner_client.get("/projects").json()} == {"shared", "private"}
    assert {p["name"] for p in member_client.get("/projects").json()} == {"shared"}
    assert {p["name"] for p in outsider_client.get("/projects").json()} == {"theirs"}
    assert {p["name"] for p in staff_client.get("/projects").json()} == {"shared", "private", "theirs"}
    listed = member_client.get("/projects").json()[0]
    assert listed["id"] == str(shared.pk)
    assert "runs" not in listed and "versions" not in listed


def test_it_filters_by_owner_status_tag_and_text(owner, owner_client):
    make(owner, "a", owner="alice", tags=["demo", "发布"], status="active")
    make(owner, "b", owner="carol", tags=["prod"], status="archived", description="The Qwen run")
    make(owner, "c", owner="carol", tags=["demo-2"], objective="qwen chat")

    def names(query):
        response = owner_client.get(f"/projects?{query}")
        assert response.status_code == 200, response.content
        return sorted(p["name"] for p in response.json())

    assert names("owner=carol") == ["b", "c"]
    assert names("status=archived") == ["b"]
    assert names("tag=demo") == ["a"]
    assert names("tag=发布") == ["a"]
    assert names("q=QWEN") == ["b", "c"]
    assert names("owner=carol&tag=prod") == ["b"]
    assert owner_client.get("/projects?status=gone").status_code == 400


def test_it_pages_with_limit_offset_total_count_and_link(owner, owner_client):
    for index in range(5):
        make(owner, f"p{index}")

    first = owner_client.get("/projects?limit=2")
    assert first.status_code == 200
    assert len(first.json()) == 2
    assert first["X-Total-Count"] == "5"
    assert 'rel="next"' in first["Link"] and "offset=2" in first["Link"]

    last = owner_client.get("/projects?limit=2&offset=4")
    assert len(last.json()) == 1
    assert 'rel="next"' not in last["Link"] and 'rel="prev"' in last["Link"]

    seen = [p["name"] for offset in (0, 2, 4) for p in owner_client.get(f"/projects?limit=2&offset={offset}").json()]
    assert sorted(seen) == [f"p{index}" for index in range(5)]


def test_it_refuses_out_of_range_paging(owner_client):
    for query in ("limit=0", "limit=501", "offset=-1", "limit=x"):
        response = owner_client.get(f"/projects?{query}")
        assert response.status_code == 400, query
        assert response.json()["detail"]
