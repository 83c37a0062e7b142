from __future__ import annotations

import pytest

from projects.models import Project
from projects.services import create_project


@pytest.fixture
def project(owner, member) -> Project:
    return create_project(
        actor=owner,
        fields={
            "name": "qwen-finetune",
            "description": "Fine-tune Qwen on support chats",
            "tags": ["demo", "候选"],
            "dataset_name": "datasets/qwen_demo.jsonl",
            "training_yaml_name": "configs/qwen_demo.yaml",
            "task_type": "sft",
            "base_model": "llama-2-13b",
            "default_hyperparameters": {"learning_rate": 3e-5},
        },
        members=[member],
    )
