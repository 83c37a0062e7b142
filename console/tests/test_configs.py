"""Training configs: upload (streamed through datasets.uploads), the YAML, its problems."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from datasets.models import TrainConfig
from datasets.tests.test_train_config_views import DEEP_YAML

pytestmark = pytest.mark.django_db
UPLOAD = reverse("console:config-upload")
SFT_YAML = b"""task_type: sft
model_name: qwen2.5-7b
dataset: datasets/train.jsonl
max_seq_length: 2048
per_device_train_batch_size: 4
learning_rate: 2.0e-5
num_train_epochs: 3
"""


def test_it_uploads_a_yaml_and_shows_it(owner_session):
    response = owner_session.post(UPLOAD, {"file": SimpleUploadedFile("sft.yaml", SFT_YAML), "current": "on"})
    config = TrainConfig.objects.get()
    assert response["Location"] == reverse("console:config-detail", args=[config.pk])
    assert config.is_current and config.task_type == "sft"
    page = owner_session.get(response["Location"]).content.decode()
    assert "max_seq_length: 2048" in page and config.relative_path in page


def test_it_lists_the_problems_of_a_refused_yaml_and_keeps_nothing(owner_session):
    broken = SFT_YAML.replace(b"learning_rate: 2.0e-5", b"learning_rate: -1").replace(b"model_name: qwen2.5-7b\n", b"")
    response = owner_session.post(UPLOAD, {"file": SimpleUploadedFile("sft.yaml", broken)})
    page = response.content.decode()
    assert response.status_code == 400
    assert "learning_rate: must be greater than 0" in page
    assert "model_name" in page
    assert not TrainConfig.objects.exists()


def test_it_refuses_a_yaml_nested_thousands_of_levels_deep(owner_session):
    response = owner_session.post(UPLOAD, {"file": SimpleUploadedFile("deep.yaml", DEEP_YAML)})

    assert response.status_code == 400
    assert "the document is nested more than 64 levels deep" in response.content.decode()
    assert not TrainConfig.objects.exists()


def test_it_refuses_a_file_over_the_limit(owner_session, settings):
    settings.MAX_YAML_BYTES = 64
    response = owner_session.post(UPLOAD, {"file": SimpleUploadedFile("sft.yaml", SFT_YAML)})
    assert response.status_code == 400
    assert not TrainConfig.objects.exists()


def test_it_still_checks_csrf(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(UPLOAD, {"file": SimpleUploadedFile("sft.yaml", SFT_YAML)})
    assert response.status_code == 403
    assert not TrainConfig.objects.exists()


def test_it_lists_configs_to_those_they_are_shared_with(member_session, outsider_session, owner_session, project):
    team_upload = {"file": SimpleUploadedFile("team.yaml", SFT_YAML), "project": project.pk, "current": "on"}
    owner_session.post(UPLOAD, team_upload)
    owner_session.post(UPLOAD, {"file": SimpleUploadedFile("mine.yaml", SFT_YAML)})
    team, mine = TrainConfig.objects.get(filename="team.yaml"), TrainConfig.objects.get(filename="mine.yaml")
    team_page = reverse("console:config-detail", args=[team.pk])

    listed = member_session.get(reverse("console:config-list")).content.decode()
    assert "team.yaml" in listed and "mine.yaml" not in listed
    assert "badge-release" not in member_session.get(team_page).content.decode()  # alice's current, not bob's
    assert "badge-release" in owner_session.get(team_page).content.decode()
    assert member_session.get(reverse("console:config-detail", args=[mine.pk])).status_code == 404
    assert "team.yaml" not in outsider_session.get(reverse("console:config-list")).content.decode()
    assert outsider_session.get(reverse("console:config-detail", args=[team.pk])).status_code == 404


def test_it_offers_only_the_users_own_projects_to_share_with(owner_session, outsider_session, project, training_dir):
    assert project.name in owner_session.get(reverse("console:config-list")).content.decode()
    assert project.name not in outsider_session.get(reverse("console:config-list")).content.decode()
    project_files = sorted(str(path) for path in training_dir.rglob("*"))

    response = outsider_session.post(UPLOAD, {"file": SimpleUploadedFile("x.yaml", SFT_YAML), "project": project.pk})

    assert response.status_code == 400
    assert not TrainConfig.objects.exists()
    assert sorted(str(path) for path in training_dir.rglob("*")) == project_files  # the staged file went too


def test_it_shows_configs_as_a_section_of_their_own_not_under_datasets(owner_session):
    page = owner_session.get(reverse("console:config-list")).content.decode()
    main = page.split('<main id="main"')[1]
    assert reverse("console:dataset-list") + '">Datasets</a> /' not in main
