from __future__ import annotations

import pytest
from django.urls import reverse

from audit.context import RequestContext, current_request
from audit.models import AuditEvent
from audit.services import record_event
from datasets import services as dataset_services
from projects.models import Project

pytestmark = pytest.mark.django_db
URL = reverse("console:audit")


def test_it_shows_staff_who_did_what(staff_session, owner, project):
    record_event(actor=owner, action="update", target=project, changes={"owner": ["a", "b"]}, verb="update")
    page = staff_session.get(URL).content.decode()
    assert "alice" in page and "Project" in page and "qwen-finetune" in page


def test_it_filters_by_user(staff_session, owner, member, project):
    record_event(actor=owner, action="update", target=project, verb="rename")
    record_event(actor=member, action="action", target=project, verb="archive")
    page = staff_session.get(URL, {"actor": "bob"}).content.decode()
    assert "archive" in page and "rename" not in page


def test_it_is_forbidden_to_everyone_but_staff(owner_session, member_session):
    assert owner_session.get(URL).status_code == 403
    assert member_session.get(URL).status_code == 403


def test_it_shows_the_nav_link_to_staff_only(staff_session, owner_session):
    dashboard = reverse("console:dashboard")
    assert URL in staff_session.get(dashboard).content.decode()
    assert URL not in owner_session.get(dashboard).content.decode()


def test_it_names_objects_as_people_do_and_links_to_them(staff_session, owner, project, tmp_path):
    dataset = dataset_services.create_dataset(name="qwen-sft", task_type="sft", created_by=owner)
    source = tmp_path / "train.jsonl"
    source.write_text('{"text": "x"}\n', encoding="utf-8")
    stored = dataset_services.add_file_from_path(
        dataset=dataset, source_path=source, filename="train.jsonl", created_by=None
    )
    record_event(actor=owner, action="create", target=stored)
    record_event(actor=owner, action="update", target=project)
    page = staff_session.get(URL).content.decode()
    file_link = reverse("console:dataset-file", args=[dataset.pk, stored.pk])
    assert (
        f'<span class="muted" title="datasets.datasetfile">Dataset file</span> <a href="{file_link}">train.jsonl</a>'
        in page
    )
    project_link = reverse("console:project-detail", args=[project.pk])
    assert f'title="projects.project">Project</span> <a href="{project_link}">qwen-finetune</a>' in page
    assert f"{stored.pk}_train.jsonl" not in page


def test_it_names_no_link_for_an_object_that_is_gone(staff_session, owner, project):
    record_event(actor=owner, action="delete", target=project)
    Project.objects.filter(pk=project.pk).delete()
    page = staff_session.get(URL).content.decode()
    assert 'title="projects.project">Project</span> qwen-finetune' in page


def test_it_records_logins_logouts_and_failed_logins_without_the_password(client, owner):
    login = reverse("console:login")
    client.post(login, {"username": "alice", "password": "wrong-secret"}, REMOTE_ADDR="10.0.0.9")
    client.post(login, {"username": "alice", "password": "pw-alice"}, REMOTE_ADDR="10.0.0.9")
    client.post(reverse("console:logout"), REMOTE_ADDR="10.0.0.9")
    events = AuditEvent.objects.filter(object_type="auth.user").order_by("id")
    assert [(event.verb, event.actor_name, event.via, event.client_address) for event in events] == [
        ("login failed", "alice", "console", "10.0.0.9"),
        ("login", "alice", "console", "10.0.0.9"),
        ("logout", "alice", "console", "10.0.0.9"),
    ]
    assert events[0].actor is None and events[1].actor == owner
    assert "wrong-secret" not in str(list(AuditEvent.objects.values()))


def test_it_shows_login_events_and_the_platforms_own_actions_as_system(staff_session, client, owner, project):
    client.post(reverse("console:login"), {"username": "alice", "password": "pw-alice"})
    record_event(actor=None, action="action", target=project, verb="archive")
    page = staff_session.get(URL).content.decode()
    assert "Action · logged in" in page
    system_row = page.split("archive")[0].rsplit("<tr>", 1)[1] + page.split("archive")[1].split("</tr>")[0]
    assert "<td>system</td>" in system_row and "<td>console</td>" not in system_row


def test_it_records_the_platforms_own_work_as_system_even_inside_a_request(project):
    token = current_request.set(RequestContext(via="console", client_address="127.0.0.1"))
    try:
        event = record_event(actor=None, action="action", target=project, verb="finish")
    finally:
        current_request.reset(token)
    assert (event.via, event.client_address) == ("system", None)
