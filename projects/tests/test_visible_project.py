"""`visible_project`: the lookup behind every `/projects/{project_reference}/…` path."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from llmplatform.errors import NotFound
from projects.models import Project, visible_project
from projects.services import create_project


@pytest.fixture
def project(owner, member) -> Project:
    created = create_project(actor=owner, fields={"name": "vision"})
    created.members.add(member)
    return created


@pytest.mark.parametrize("who", ["owner", "member", "staff"])
def test_it_finds_a_project_by_name_and_by_id_for_those_who_may_see_it(request, project, who):
    user = request.getfixturevalue(who)
    assert visible_project(user, "vision") == project
    assert visible_project(user, str(project.pk)) == project
    assert visible_project(user, str(project.pk).upper().replace("-", "")) == project  # any UUID spelling


def test_it_hides_a_project_from_an_outsider_as_if_it_did_not_exist(project, outsider):
    for reference in ("vision", str(project.pk)):
        with pytest.raises(NotFound, match="No project"):
            visible_project(outsider, reference)
    with pytest.raises(NotFound, match="No project 'nothing-here'"):
        visible_project(outsider, "nothing-here")


def test_it_finds_nothing_for_someone_signed_out_or_a_name_with_a_nul(project, owner):
    with pytest.raises(NotFound):
        visible_project(AnonymousUser(), "vision")
    with pytest.raises(NotFound):
        visible_project(owner, "vision\x00")


def test_it_sees_a_project_once_however_many_ways_someone_belongs_to_it(owner):
    """Creator and member at once: the membership join must not make the lookup ambiguous."""
    created = create_project(actor=owner, fields={"name": "both-ways"})
    created.members.add(owner)
    assert visible_project(owner, "both-ways") == created
