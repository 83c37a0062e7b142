"""The audit log: who did what to which object, readable by staff over the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from audit.services import record_event
from gpus.models import GpuClaim


@pytest.fixture
def claim(db) -> GpuClaim:
    return GpuClaim.objects.create(gpu_index=0, holder_kind="run", holder_id="run-1", holder_label="run-001")


@pytest.fixture
def events(owner, staff, claim) -> list[AuditEvent]:
    created = [
        record_event(actor=owner, action=AuditAction.CREATE, target=claim, changes={"gpu_index": 0}),
        record_event(actor=staff, action=AuditAction.ACTION, target=claim, verb="release"),
        record_event(actor=owner, action=AuditAction.UPDATE, target=owner, changes={"email": ["a", "b"]}),
    ]
    AuditEvent.objects.filter(pk=created[0].pk).update(created_at=timezone.now() - timedelta(days=2))
    return created


def listed(client, **query) -> list[dict]:
    response = client.get("/v1/audit-events", query)
    assert response.status_code == 200, response.json()
    return response.json()


def test_it_shows_the_log_to_staff_only(staff_client, owner_client, anonymous_client, events):
    assert owner_client.get("/v1/audit-events").status_code == 403
    assert owner_client.get("/v1/audit-events").json()["detail"]
    assert anonymous_client.get("/v1/audit-events").status_code == 401
    events = listed(staff_client)
    assert len(events) == 3
    newest = events[0]
    assert newest["actor"] == "alice"
    assert newest["action"] == "update"
    assert newest["object_type"] == "auth.user"
    assert newest["changes"] == {"email": ["a", "b"]}


def test_it_filters_by_actor_object_type_action_and_time(staff_client, events, claim):
    assert [item["verb"] for item in listed(staff_client, actor="operator")] == ["release"]
    by_type = listed(staff_client, object_type="gpus.gpuclaim", object_id=str(claim.pk))
    assert [item["action"] for item in by_type] == ["action", "create"]
    assert len(listed(staff_client, action="create")) == 1
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert len(listed(staff_client, since=since)) == 2


def test_it_pages_newest_first(staff_client, events):
    first = staff_client.get("/v1/audit-events", {"limit": 2})
    second = staff_client.get("/v1/audit-events", {"limit": 2, "offset": 2})
    assert (first["X-Total-Count"], len(first.json()), len(second.json())) == ("3", 2, 1)
    assert 'rel="next"' in first["Link"] and 'rel="next"' not in second["Link"]
    assert second.json()[0]["id"] == events[0].pk


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"offset": -1}, "offset"),
        ({"offset": 2**63 - 1}, "offset"),
        ({"limit": 501}, "limit"),
        ({"limit": 2**63}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"action": "x"}, "action"),
    ],
)
def test_it_refuses_bad_filters_naming_them(staff_client, query, field):
    response = staff_client.get("/v1/audit-events", query)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{field}: ")


def test_it_pages_by_limit_and_offset_and_leaves_a_huge_page_number_alone(staff_client, events):
    """`page` is no parameter of this list, so even a page past 64 bits reads the first page."""
    response = staff_client.get("/v1/audit-events", {"page": 2**63 - 1, "limit": 2})

    assert response.status_code == 200
    assert [event["id"] for event in response.json()] == [events[2].pk, events[1].pk]


def test_it_records_who_changed_what_through_the_admin(admin_client, claim):
    response = admin_client.post(f"/admin/gpus/gpuclaim/{claim.pk}/delete/", {"post": "yes"}, REMOTE_ADDR="127.0.0.7")
    assert response.status_code == 302
    assert not GpuClaim.objects.exists()
    event = AuditEvent.objects.get()
    assert (event.actor_name, event.action, event.object_type, event.via, event.client_address) == (
        "admin",
        "delete",
        "gpus.gpuclaim",
        "admin",
        "127.0.0.7",
    )


def test_it_keeps_the_audit_log_read_only_in_the_admin(admin_client, events):
    assert admin_client.get("/admin/audit/auditevent/").status_code == 200
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/auditevent/{events[0].pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.count() == 3
