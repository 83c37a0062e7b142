from __future__ import annotations

import json

import pytest
from django.urls import reverse

from projects.models import Project
from runs.models import MetricPoint, Run

pytestmark = pytest.mark.django_db
URL = reverse("console:compare")


def series_of(response) -> dict:
    page = response.content.decode()
    start = page.index('type="application/json">', page.index('id="compare-series"')) + len('type="application/json">')
    return json.loads(page[start : page.index("</script>", start)])


def test_it_overlays_the_metrics_of_the_chosen_runs(owner_session, project, run):
    other = Run.objects.create(project=project, name="run-002")
    MetricPoint.objects.create(run=other, name="loss", step=10, value=2.5)
    series = series_of(owner_session.get(URL, {"runs": [run.pk, other.pk]}))
    assert series["loss"] == {
        "qwen-finetune / run-001": [[10, 1.9], [20, 1.8], [30, 1.7], [40, 1.6]],
        "qwen-finetune / run-002": [[10, 2.5]],
    }
    assert set(series["eval_loss"]) == {"qwen-finetune / run-001"}


def test_it_leaves_out_runs_the_user_cannot_see_and_ignores_bad_ids(member_session, run, outsider):
    hidden_project = Project.objects.create(name="secret", created_by=outsider)
    hidden = Run.objects.create(project=hidden_project, name="hidden-run")
    MetricPoint.objects.create(run=hidden, name="loss", step=1, value=9.0)
    response = member_session.get(URL, {"runs": [run.pk, hidden.pk, "not-a-uuid"]})
    assert response.status_code == 200
    assert list(series_of(response)["loss"]) == ["qwen-finetune / run-001"]
    assert "hidden-run" not in response.content.decode()


def test_it_asks_for_two_runs_when_given_fewer(owner_session, run):
    assert "Pick two or more runs" in owner_session.get(URL, {"runs": [run.pk]}).content.decode()
