"""Shared by the deid tests: a real dataset with personal data in real files."""

import json

import pytest

from datasets import services as dataset_services
from datasets.models import Dataset

PII_RECORD = {
    "conversation_id": "c1",
    "messages": [
        {"role": "user", "content": "我的手机号13812345678，身份证11010519491231002X"},
        {"role": "assistant", "content": "已记录，稍后致电13812345678"},
    ],
}


@pytest.fixture
def source_dataset(owner, tmp_path) -> Dataset:
    """A dataset of two JSONL files with 8 mobiles and 4 ID numbers in them."""
    dataset = dataset_services.create_dataset(
        name="chats", task_type="sft", created_by=owner, metadata={"language": "zh", "contact": "owner 13912345678"}
    )
    for name, records in (("train.jsonl", [PII_RECORD] * 3), ("eval.jsonl", [PII_RECORD])):
        path = tmp_path / name
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        dataset_services.add_file_from_path(dataset=dataset, source_path=path, filename=name, created_by=owner)
    return dataset
