"""Token lengths of a 1 GiB JSONL file (datasets.token_lengths.measure) vs the tokenizer's own batch speed.

A file of alpaca records (instruction, input, output: English and Chinese words in varying
numbers) is written, a byte-level BPE tokenizer (32,000 tokens, like GPT-2's or Qwen's kind) is
trained on its first megabytes, then:

- `measure` over the whole file, streamed, parsed, tokenized per field and counted: bytes per
  second, and the process' peak memory (it must stay bounded whatever the file's size);
- then, on the file's first `--sample-mb` megabytes, in alternating rounds (a change of load on a
  shared machine hits both alike): the tokenizer alone, `encode_batch_fast` over the sample's
  texts already in memory in batches as `measure` makes them, and `measure` over the sample file.

Both use the same cores (the tokenizers library's threads: all of them).

    python bench/token_lengths_1gib.py [--megabytes 1024] [--sample-mb 16] [--rounds 3]

Goal: measure runs at ≥ 0.5x the tokenizer's own speed.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from machine import REPO, machine

sys.path.insert(0, str(REPO))


def vocabulary(seed: int = 3) -> list[str]:
    """20,000 made-up words of Latin syllables and 5,000 of two or three common Chinese characters: enough for
    a byte-level BPE to learn a vocabulary of real size."""
    chooser = random.Random(seed)
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["the", "and", "ing", "tion", "er"]
    latin = ["".join(chooser.choices(syllables, k=chooser.randint(1, 4))) for _ in range(20000)]
    hanzi = ["".join(chr(chooser.randint(0x4E00, 0x62FF)) for _ in range(chooser.randint(2, 3))) for _ in range(5000)]
    return latin + hanzi


def write_file(path: Path, size: int, seed: int = 7) -> int:
    """Alpaca records until `size` bytes; returns how many."""
    chooser = random.Random(seed)
    words = vocabulary()
    written = records = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < size:
            record = {
                "instruction": " ".join(chooser.choices(words, k=chooser.randint(5, 60))),
                "input": " ".join(chooser.choices(words, k=chooser.randint(0, 40))),
                "output": " ".join(chooser.choices(words, k=chooser.randint(10, 400))),
            }
            line = json.dumps(record, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
            records += 1
    return records


def train_tokenizer(path: Path, folder: Path, sample_bytes: int = 16 * 1024 * 1024) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    def texts():
        read = 0
        with open(path, encoding="utf-8") as source:
            for line in source:
                read += len(line)
                if read > sample_bytes:
                    return
                record = json.loads(line)
                yield from (record["instruction"], record["input"], record["output"])

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=32000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(texts(), trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder / "tokenizer.json"


def sample_of(path: Path, size: int, sample: Path) -> Path:
    """The whole lines of `path`'s first `size` bytes, as a file of their own."""
    with open(path, "rb") as source, open(sample, "wb") as out:
        written = 0
        for line in source:
            out.write(line)
            written += len(line)
            if written >= size:
                break
    return sample


def texts_in_batches(path: Path, batch_records: int) -> list[list[str]]:
    """The texts of `path`'s records, in memory, in batches as `measure` makes them."""
    batches, batch = [], []
    with open(path, encoding="utf-8") as source:
        for line in source:
            record = json.loads(line)
            batch += [record["instruction"], record["input"], record["output"]]
            if len(batch) >= 3 * batch_records:
                batches.append(batch)
                batch = []
    return [*batches, batch]


def side_by_side(sample: Path, tokenizer, rounds: int) -> tuple[list[float], list[float]]:
    """Seconds of the tokenizer alone over the sample's texts in memory, and of `measure` over the sample
    file, in alternating rounds: a change of load on a shared machine hits both alike."""
    from datasets import token_lengths

    batches = texts_in_batches(sample, token_lengths.BATCH_RECORDS)
    alone, measuring = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for texts in batches:
            tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        alone.append(time.perf_counter() - started)
        started = time.perf_counter()
        token_lengths.measure(sample, "sft", tokenizer)
        measuring.append(time.perf_counter() - started)
    return alone, measuring


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--megabytes", type=int, default=1024, help="size of the file (MiB)")
    arguments.add_argument("--sample-mb", type=int, default=16, help="MiB of the file both sides read, in rounds")
    arguments.add_argument("--rounds", type=int, default=3)
    options = arguments.parse_args()
    print(f"at the start, {machine()}", flush=True)
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmplatform.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from datasets import token_lengths

    scratch = Path(tempfile.mkdtemp(prefix="llmp-bench-lengths-"))
    data = scratch / "records.jsonl"
    started = time.perf_counter()
    records = write_file(data, options.megabytes * 1024 * 1024)
    size = data.stat().st_size
    print(f"file: {size / 2**20:.0f} MiB, {records:,} records, written in {time.perf_counter() - started:.0f} s")
    tokenizer_path = train_tokenizer(data, scratch / "model")
    tokenizer = token_lengths.load_tokenizer(tokenizer_path)
    print(f"tokenizer: byte-level BPE, {tokenizer.get_vocab_size():,} tokens")

    started = time.perf_counter()
    measured = token_lengths.measure(data, "sft", tokenizer)
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the sample is loaded below
    total = token_lengths.summary(measured.lengths["total"])
    print(
        f"measure, whole file streamed: {size / took / 2**20:.2f} MiB/s, {took:.0f} s, {measured.records:,} records; "
        f"peak memory of this process {peak:.0f} MiB"
    )
    print(f"tokens per record: median {total['p50']}, 99% {total['p99']}, longest {total['max']}")
    sample = sample_of(data, options.sample_mb * 1024 * 1024, scratch / "sample.jsonl")
    alone, measuring = side_by_side(sample, tokenizer, options.rounds)
    sample_size = sample.stat().st_size / 2**20
    for number, (by_itself, by_measure) in enumerate(zip(alone, measuring, strict=True), 1):
        print(
            f"  round {number}: tokenizer alone {sample_size / by_itself:.2f} MiB/s, "
            f"measure {sample_size / by_measure:.2f} MiB/s"
        )
    ratio = statistics.median(alone) / statistics.median(measuring)
    print(f"measure runs at {ratio:.2f}x the tokenizer alone (medians over {options.rounds} rounds; goal >= 0.5x)")
    print(f"at the end,   {machine()}")
    data.unlink()
    sample.unlink()


if __name__ == "__main__":
    main()
