"""manage.py install_demo: the demo training directory and the "demo" project."""

from __future__ import annotations

import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from projects.models import Project

pytestmark = pytest.mark.django_db


def install(*args: str) -> str:
    out = StringIO()
    call_command("install_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_installs_the_training_directory_and_a_project_owned_by_the_given_user(settings, owner):
    install("--owner", owner.username)

    target = Path(settings.HOST_TRAINING_DIR)
    for name in ("run_train_full_sft.sh", "train_sft.py", "datasets/demo_sft.jsonl", "configs/demo_sft.yaml"):
        assert (target / name).is_file(), name
    assert (target / ".python").read_text().strip() == sys.executable
    project = Project.objects.get(name="demo")
    assert (project.owner, project.created_by, project.task_type) == (owner.username, owner, "sft")
    assert (target / project.dataset_name).is_file() and (target / project.training_yaml_name).is_file()
    assert project.versions.count() == 1


def test_it_changes_nothing_when_run_again(owner):
    install("--owner", owner.username)
    second = install("--owner", owner.username)

    assert "0 file(s) copied" in second
    assert Project.objects.filter(name="demo").count() == 1
    assert Project.objects.get(name="demo").versions.count() == 1


def test_it_leaves_a_differing_file_alone_unless_forced(settings, owner):
    script = Path(settings.HOST_TRAINING_DIR) / "run_train_full_sft.sh"
    script.write_text("# the team's own entry point\n")

    install("--owner", owner.username)
    assert script.read_text() == "# the team's own entry point\n"
    install("--owner", owner.username, "--force")
    assert "train_sft.py" in script.read_text()


def test_it_restores_the_demo_settings_of_an_edited_demo_project(owner):
    install("--owner", owner.username)
    Project.objects.filter(name="demo").update(training_yaml_name="configs/other.yaml")

    install("--owner", owner.username)

    project = Project.objects.get(name="demo")
    assert project.training_yaml_name == "configs/demo_sft.yaml"
    assert project.versions.count() == 2


def test_it_refuses_an_unknown_owner():
    with pytest.raises(CommandError, match="No user 'nobody'"):
        install("--owner", "nobody")
