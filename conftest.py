"""The small cast every test uses: an owner, a team member, an outsider, a staff operator.

`owner` created the project; `member` was added to it; `outsider` is a signed-in
user with no business there; `staff` operates the platform. Each comes with an
API client authenticated by its token, the way scripts call the API, and a
browser session signed in to the console (`owner_session`...). `project` is that
project, with the dataset and training YAML it names in `training_dir`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from llmplatform.testing import manage_py, running, subprocess_env
from projects.models import Project
from projects.services import create_project

PROJECT_DATASET = "datasets/qwen_demo.jsonl"
PROJECT_TRAINING_YAML = "configs/qwen_demo.yaml"
WORD_TOKENIZER_MODEL = "models/tiny-word-model"
# What the tiny model's tokenizer learnt: one token per word of these, [UNK] for any other word.
WORD_TOKENIZER_LINES = ["say hi to the user", "hi there how are you", "one two three four five six seven eight"]


def make_user(username: str, *, is_staff: bool = False) -> User:
    user = User.objects.create_user(username, f"{username}@example.test", "pw-" + username, is_staff=is_staff)
    Token.objects.create(user=user)
    return user


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    return client


@pytest.fixture
def owner(db) -> User:
    return make_user("alice")


@pytest.fixture
def member(db) -> User:
    return make_user("bob")


@pytest.fixture
def outsider(db) -> User:
    return make_user("mallory")


@pytest.fixture
def staff(db) -> User:
    return make_user("operator", is_staff=True)


@pytest.fixture
def owner_client(owner) -> APIClient:
    return client_for(owner)


@pytest.fixture
def member_client(member) -> APIClient:
    return client_for(member)


@pytest.fixture
def outsider_client(outsider) -> APIClient:
    return client_for(outsider)


@pytest.fixture
def staff_client(staff) -> APIClient:
    return client_for(staff)


def session_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_session(owner) -> Client:
    return session_client(owner)


@pytest.fixture
def member_session(member) -> Client:
    return session_client(member)


@pytest.fixture
def outsider_session(outsider) -> Client:
    return session_client(outsider)


@pytest.fixture
def staff_session(staff) -> Client:
    return session_client(staff)


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, settings) -> Path:
    """Every test gets its own DATA_DIR, training directory, runs, models, logs and cache."""
    settings.DATA_DIR = tmp_path / "data"
    settings.HOST_TRAINING_DIR = tmp_path / "training"
    settings.DOCKER_TRAINING_DIR = str(tmp_path / "training")
    settings.RUNS_DIR = tmp_path / "data" / "runs"
    settings.MODELS_DIR = tmp_path / "models"
    settings.DEPLOY_LOG_DIR = tmp_path / "data" / "deploy_logs"
    # django-q2 keeps cluster heartbeats in the cache: where `manage.py` subprocesses
    # given this DATA_DIR (llmplatform.testing.subprocess_env) will look too.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "data" / "cache"),
        }
    }
    for directory in (settings.DATA_DIR, settings.HOST_TRAINING_DIR, settings.RUNS_DIR, settings.MODELS_DIR):
        Path(directory).mkdir(parents=True, exist_ok=True)
    return tmp_path


@pytest.fixture
def training_dir(settings) -> Path:
    """This test's HOST_TRAINING_DIR: empty until a test, or `project`, writes there."""
    return Path(settings.HOST_TRAINING_DIR)


@pytest.fixture
def project(owner, member, training_dir: Path) -> Project:
    """`owner`'s project with `member` in it, created as people create one (version 1, an audit event).

    Its dataset and training YAML are in the training directory, so a run of it launches;
    the YAML's step settings are the stand-in trainer's (runs/tests/fixtures/fake_trainer.py),
    so its trainer is "unchecked": no known trainer's arguments describe them.
    """
    (training_dir / "datasets").mkdir(parents=True, exist_ok=True)
    (training_dir / "configs").mkdir(parents=True, exist_ok=True)
    (training_dir / PROJECT_DATASET).write_text('{"messages": []}\n')
    config = {"dataset": PROJECT_DATASET, "max_steps": 20, "save_steps": 10, "step_seconds": 0.01}
    (training_dir / PROJECT_TRAINING_YAML).write_text(yaml.safe_dump(config))
    return create_project(
        actor=owner,
        fields={
            "name": "qwen-finetune",
            "description": "Fine-tune Qwen on support chats",
            "tags": ["demo", "候选"],
            "task_type": "sft",
            "base_model": "llama-2-13b",
            "dataset_name": PROJECT_DATASET,
            "training_yaml_name": PROJECT_TRAINING_YAML,
            "default_hyperparameters": {"learning_rate": 3e-5},
            "trainer": "unchecked",
        },
        members=[member],
    )


@pytest.fixture
def qcluster(transactional_db, isolated_dirs: Path) -> Iterator[subprocess.Popen]:
    """A real `manage.py qcluster` on this test's database and cache (ORM broker).

    Data the worker must see has to be committed, hence `transactional_db`. Its
    output goes to `<tmp>/qcluster.log`.
    """
    with running(manage_py("qcluster"), env=subprocess_env(), log=isolated_dirs / "qcluster.log") as process:
        yield process


@pytest.fixture
def word_tokenizer_model(training_dir: Path) -> str:
    """A model folder in the training directory (named as a config's model_name_or_path names it) holding only
    a tokenizer.json: a word-level tokenizer trained here on WORD_TOKENIZER_LINES, so a text holds one token per
    word. It is saved with truncation at 4 tokens on, which counting must undo."""
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(WORD_TOKENIZER_LINES, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    tokenizer.enable_truncation(4)
    folder = training_dir / WORD_TOKENIZER_MODEL
    folder.mkdir(parents=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    return WORD_TOKENIZER_MODEL
