"""Supervised fine-tuning with a Hugging Face `transformers.Trainer`, small enough for a CPU.

The demo project's trainer: `bash run_train_full_sft.sh configs/demo_sft.yaml`. It is
a real training run, not a stand-in: a randomly initialised 2-layer Llama (hidden
size 32) and a byte-level BPE tokenizer trained on the spot on the dataset's text
(nothing is downloaded), trained on the platform's SFT records (`{"messages": [...]}`)
in seconds. It writes what every HF trainer writes — `checkpoint-N/` folders with
`trainer_state.json`, the printed log dicts, the tqdm bar, the final weights — and
honours the config keys the platform sets (`output_dir`, `resume_from_checkpoint`)
plus `num_train_epochs`/`max_steps`, `learning_rate`, `logging_steps`, `save_steps`,
`eval_steps`, `per_device_train_batch_size`, `max_seq_length`, `seed`, and
`cpu_threads` (default 1: a model this small trains fastest on one thread, and
oversubscribed cores make it crawl).

`model_name` may name a local model folder (with `config.json`) to fine-tune
instead; anything else builds the tiny model.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# This folder holds a `datasets/` directory, which would shadow the `datasets` library
# transformers probes for: take the script's own folder off the import path.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the Hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import yaml  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
    set_seed,
)

ROLE_TOKENS = {"pad_token": "<pad>", "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}
SPECIAL_TOKENS = [*ROLE_TOKENS.values(), "<|system|>", "<|user|>", "<|assistant|>"]
EVAL_RECORDS = 8  # held out of the dataset for eval/loss


def load_config(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def resolve(path: str) -> Path:
    """A relative path from the working directory, else from this folder."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return HERE / candidate


def chat_text(record: dict) -> str:
    turns = []
    if record.get("system_prompt"):
        turns.append(f"<|system|>{record['system_prompt']}")
    turns += [f"<|{message['role']}|>{message['content']}" for message in record["messages"]]
    return "".join(turns) + "</s>"


def load_texts(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [chat_text(json.loads(line)) for line in handle if line.strip()]


def train_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE(unk_token=ROLE_TOKENS["unk_token"]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **ROLE_TOKENS)


def tiny_llama(tokenizer: PreTrainedTokenizerFast, max_length: int) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_length,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config)


class Encoded(torch.utils.data.Dataset):
    def __init__(self, texts: list[str], tokenizer, max_length: int) -> None:
        self.items = [tokenizer(text, truncation=True, max_length=max_length) for text in texts]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: train_sft.py CONFIG.yaml", file=sys.stderr)
        return 2
    config = load_config(argv[1])
    seed = int(config.get("seed", 42))
    set_seed(seed)
    torch.set_num_threads(int(config.get("cpu_threads", 1)))
    max_length = int(config.get("max_seq_length", 128))
    texts = load_texts(resolve(config["dataset"]))

    local_model = Path(str(config.get("model_name", "")))
    if (local_model / "config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(local_model)
        model = AutoModelForCausalLM.from_pretrained(local_model)
    else:
        tokenizer = train_tokenizer(texts)
        model = tiny_llama(tokenizer, max_length)

    save_steps = int(config.get("save_steps", 8))
    args = TrainingArguments(
        output_dir=str(config.get("output_dir", "output")),
        num_train_epochs=float(config.get("num_train_epochs", 3)),
        max_steps=int(config.get("max_steps", -1)),
        per_device_train_batch_size=int(config.get("per_device_train_batch_size", 8)),
        per_device_eval_batch_size=int(config.get("per_device_train_batch_size", 8)),
        learning_rate=float(config.get("learning_rate", 1e-3)),
        logging_steps=int(config.get("logging_steps", 2)),
        save_strategy="steps",
        save_steps=save_steps,
        eval_strategy="steps",
        eval_steps=int(config.get("eval_steps", save_steps)),
        report_to="none",
        use_cpu=True,
        seed=seed,
        dataloader_num_workers=int(config.get("dataloader_num_workers", 0)),
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Encoded(texts[EVAL_RECORDS:], tokenizer, max_length),
        eval_dataset=Encoded(texts[:EVAL_RECORDS], tokenizer, max_length),
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
        processing_class=tokenizer,
    )
    trainer.train(resume_from_checkpoint=config.get("resume_from_checkpoint") or None)
    trainer.save_model()  # final weights + tokenizer in output_dir
    trainer.save_state()  # output_dir/trainer_state.json
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
