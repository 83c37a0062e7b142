"""A run's notes and tags on its page: shown to its team, changed by those who operate it, audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def notes_url(run) -> str:
    return reverse("console:run-notes", args=[run.project_id, run.pk])


def test_it_saves_notes_and_tags_typed_with_commas_and_shows_them(member_session, member, run):
    response = member_session.post(notes_url(run), {"notes": "loss spikes at 30", "tags": "sweep, 基线, , sweep"})
    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.notes, run.tags) == ("loss spikes at 30", ["sweep", "基线"])
    page = member_session.get(reverse("console:run-detail", args=[run.project_id, run.pk])).content.decode()
    assert "loss spikes at 30" in page and '<span class="badge">基线</span>' in page
    event = AuditEvent.objects.get(object_id=str(run.pk), action="update")
    assert event.actor == member and event.changes["tags"] == [[], ["sweep", "基线"]]


def test_it_says_why_notes_are_refused(owner_session, run):
    response = owner_session.post(notes_url(run), {"notes": "", "tags": "x" * 65}, follow=True)
    assert "each tag is 1 to 64 characters" in response.content.decode()
    run.refresh_from_db()
    assert run.tags == []


def test_it_keeps_outsiders_out(outsider_session, run):
    assert outsider_session.post(notes_url(run), {"notes": "mine"}).status_code == 404
    run.refresh_from_db()
    assert run.notes == ""
