"""A query compiled once (llmplatform.prepared) answers what the ORM answers, key after key."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from llmplatform.prepared import Prepared, Read, read_together, sends_together
from llmplatform.testing import counting_round_trips
from projects.models import Project
from projects.services import create_project
from runs.models import Artifact, ArtifactTag, LogLine, Run


@pytest.fixture
def two_runs(owner) -> list[Run]:
    """Two runs of one project with log lines, artifacts and a tag, so that each key changes the answer."""
    project = create_project(actor=owner, fields={"name": "prepared"})
    runs = []
    for number in range(2):
        run = Run.objects.create(
            project=project, name=f"run-{number}", created_by=owner, started_at=timezone.now() - timedelta(hours=1)
        )
        LogLine.objects.bulk_create(
            LogLine(run=run, seq=seq, timestamp=timezone.now(), message=f"run {number} line {seq}")
            for seq in range(1, 6 + number)
        )
        checkpoint = Artifact.objects.create(
            run=run, name="checkpoint-10", type="checkpoint", path=f"/r{number}", step=10
        )
        ArtifactTag.objects.create(artifact=checkpoint, value=["candidate", "release"][number], applied_by=owner)
        runs.append(run)
    return runs


def test_it_answers_values_rows_as_the_orm_does_for_each_key(two_runs):
    recent = Prepared(lambda run: LogLine.objects.filter(run_id=run).order_by("-seq").values("seq", "timestamp")[:3])
    for run in two_runs:
        assert recent.rows(run.pk) == list(run.log_lines.order_by("-seq").values("seq", "timestamp")[:3])


def test_it_answers_rows_across_a_join(two_runs):
    tagged = Prepared(lambda run: Artifact.objects.filter(run_id=run).values("name", "tags__value"))
    for run in two_runs:
        assert tagged.rows(run.pk) == list(run.artifacts.values("name", "tags__value"))


def test_it_answers_model_instances_with_every_field_converted(two_runs):
    lookup = Prepared(lambda project, run: Run.objects.filter(project_id=project, pk=run))
    for run in two_runs:
        [found] = lookup.objects(run.project_id, run.pk)
        expected = Run.objects.get(pk=run.pk)
        for field in Run._meta.concrete_fields:
            assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
        assert found._state.adding is False  # saved objects, as the ORM gives them


def test_it_binds_text_and_integer_keys(two_runs, owner):
    by_name = Prepared(lambda name, user: Project.objects.filter(name=name, created_by_id=user).values("name"))
    assert by_name.rows("prepared", owner.pk) == [{"name": "prepared"}]
    assert by_name.rows("prepared", owner.pk + 1) == []
    assert by_name.rows("no such project", owner.pk) == []


def test_it_finds_nothing_for_a_key_that_names_nothing(two_runs):
    lookup = Prepared(lambda project, run: Run.objects.filter(project_id=project, pk=run))
    assert lookup.objects(two_runs[0].project_id, uuid.uuid4()) == []


def test_it_refuses_a_queryset_whose_sql_ignores_a_key(db):
    ignoring = Prepared(lambda unused: User.objects.all())
    with pytest.raises(ValueError, match="does not reach the SQL"):
        ignoring.objects(uuid.uuid4())


def test_it_refuses_related_objects_it_cannot_build(two_runs):
    joined = Prepared(lambda run: Run.objects.select_related("project").filter(pk=run))
    with pytest.raises(ValueError, match="select_related"):
        joined.objects(two_runs[0].pk)


RECENT = Prepared(lambda run: LogLine.objects.filter(run_id=run).order_by("-seq").values("seq", "message")[:3])
RUN = Prepared(lambda run: Run.objects.filter(pk=run))


def fields_of(run: Run) -> dict[str, Any]:
    return {field.attname: getattr(run, field.attname) for field in Run._meta.concrete_fields}


def test_it_answers_reads_sent_together_as_it_answers_each_alone(two_runs):
    first, second = two_runs
    alone: list[Any] = [RUN.objects(first.pk), RECENT.rows(first.pk), RECENT.rows(second.pk)]
    reads: list[Read[Any]] = [RUN.read_objects(first.pk), RECENT.read_rows(first.pk), RECENT.read_rows(second.pk)]

    with counting_round_trips() as trips:
        read_together(*reads)
        answers = [read.answer() for read in reads]

    assert [fields_of(run) for run in answers[0]] == [fields_of(run) for run in alone[0]] != []
    assert answers[1:] == alone[1:]
    assert [line["message"] for line in answers[2]] == ["run 1 line 6", "run 1 line 5", "run 1 line 4"]
    # PostgreSQL: one round trip for the three; SQLite, which has no round trips to save: each read alone.
    assert len(trips) == (1 if sends_together(connection) else 3)
    assert sum(len(statements) for statements in trips) == 3


@pytest.mark.skipif(not sends_together(connection), reason="PostgreSQL prepares statements; SQLite has no server")
def test_it_has_postgresql_prepare_a_read_it_repeats_and_still_answers_each_key(two_runs):
    for _ in range(3):
        for run in two_runs:
            assert [fields_of(found) for found in RUN.objects(run.pk)] == [fields_of(Run.objects.get(pk=run.pk))]

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any('FROM "runs_run" WHERE "runs_run"."id" = $1' in statement for statement in prepared), prepared


@pytest.mark.skipif(sends_together(connection), reason="there every read goes at once")
def test_it_never_runs_a_read_whose_answer_nobody_asks_for(two_runs):
    reads: list[Read[Any]] = [RUN.read_objects(two_runs[0].pk), RECENT.read_rows(two_runs[0].pk)]

    with CaptureQueriesContext(connection) as sent:
        read_together(*reads)
        reads[0].answer()

    assert len(sent) == 1
