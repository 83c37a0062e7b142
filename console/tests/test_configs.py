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


def test_it_lists_configs(member_session, owner_session):
    owner_session.post(UPLOAD, {"file": SimpleUploadedFile("sft.yaml", SFT_YAML)})
    assert "sft.yaml" in member_session.get(reverse("console:config-list")).content.decode()
