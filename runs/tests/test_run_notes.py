"""PATCH /projects/{ref}/runs/{id}: a run's notes and tags, and who launched it, in the API."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from runs.models import MAX_RUN_TAGS, Run, RunStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(project, owner) -> Run:
    return Run.objects.create(project=project, name="run-001", status=RunStatus.RUNNING, created_by=owner)


def url(run: Run) -> str:
    return f"/projects/{run.project.name}/runs/{run.pk}"


@pytest.mark.parametrize("who", ["owner_client", "member_client", "staff_client"])
def test_it_lets_those_who_operate_the_run_change_its_notes_and_tags(request, run, who):
    client = request.getfixturevalue(who)
    response = client.patch(url(run), {"notes": "lr too high?", "tags": [" sweep ", "基线", "sweep"]}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["notes"], body["tags"]) == ("lr too high?", ["sweep", "基线"])
    assert body["status"] == "running" and body["created_by"] == "alice"
    run.refresh_from_db()
    assert (run.notes, run.tags) == ("lr too high?", ["sweep", "基线"])


def test_it_records_what_changed_in_the_audit_log(member_client, member, run):
    member_client.patch(url(run), {"tags": ["sweep"]}, format="json")
    member_client.patch(url(run), {"tags": ["sweep"]}, format="json")  # no change: no event
    events = AuditEvent.objects.filter(object_id=str(run.pk), action="update")
    assert [(event.actor, event.changes) for event in events] == [(member, {"tags": [[], ["sweep"]]})]


def test_it_leaves_an_absent_field_as_it_was(owner_client, run):
    owner_client.patch(url(run), {"notes": "keep me", "tags": ["a"]}, format="json")
    assert owner_client.patch(url(run), {"tags": []}, format="json").json()["notes"] == "keep me"


def test_it_gives_outsiders_404_and_anonymous_callers_401(outsider_client, anonymous_client, run):
    assert outsider_client.patch(url(run), {"notes": "mine now"}, format="json").status_code == 404
    assert anonymous_client.patch(url(run), {"notes": "mine now"}, format="json").status_code == 401
    run.refresh_from_db()
    assert run.notes == ""


@pytest.mark.parametrize(
    "body",
    [
        {"tags": "sweep"},
        {"tags": ["x" * 65]},
        {"tags": [f"t{number}" for number in range(MAX_RUN_TAGS + 1)]},
        {"notes": "x" * 10_001},
    ],
)
def test_it_refuses_malformed_notes_and_tags(owner_client, run, body):
    response = owner_client.patch(url(run), body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_it_refuses_tags_that_are_blank_once_trimmed_only_by_leaving_them_out(owner_client, run):
    assert owner_client.patch(url(run), {"tags": ["  ", "ok"]}, format="json").json()["tags"] == ["ok"]


def test_it_lists_runs_with_their_creator_notes_and_tags(member_client, run, project, django_assert_num_queries):
    Run.objects.create(project=project, name="retry", tags=["retry"])  # launched by the platform
    # token, project, count, runs with their creators
    with django_assert_num_queries(4):
        items = member_client.get(f"/projects/{project.name}/runs").json()
    assert [(item["name"], item["created_by"], item["tags"]) for item in items] == [
        ("retry", None, ["retry"]),
        ("run-001", "alice", []),
    ]


def listed(client, project, **query) -> list[str]:
    return [item["name"] for item in client.get(f"/projects/{project.name}/runs", query).json()]


def test_it_filters_the_list_by_tag_and_creator(owner_client, run, project, member):
    Run.objects.create(project=project, name="bobs", created_by=member, tags=["sweep"])
    Run.objects.filter(pk=run.pk).update(tags=["sweep", "best"])
    assert listed(owner_client, project, tag="sweep") == ["bobs", "run-001"]
    assert listed(owner_client, project, tag="best") == ["run-001"]
    assert listed(owner_client, project, tag="sweep", created_by="bob") == ["bobs"]
    assert listed(owner_client, project, created_by="nobody") == []
