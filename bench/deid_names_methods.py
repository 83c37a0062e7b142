"""P3c: two ways of finding Chinese names, addresses and organisations, measured alike.

    pip install --target /tmp/jieba jieba==0.42.1      # the analyser is not a platform dependency
    PYTHONPATH=/tmp/jieba python bench/deid_names_methods.py [--lines 5000]

Lexicon + context (`deid.names`, what the platform ships) against a lexical analyser
whose model ships inside its package: jieba's part-of-speech tags (`nr` person, `nt`
organisation, `ns` place; an address is a run of tokens that opens with a place and goes
on over places, numbers and tokens ending in a level of the hierarchy, two at least).
Both read the Chinese texts of the realistic-density evaluation set (`deid.evaluation`)
and of the dense generated corpus; only PERSON, ADDRESS and ORGANIZATION are scored,
with exact spans. Speed is MB of UTF-8 per CPU second of this process, best of three.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from machine import machine

from deid import names
from deid.corpus import LabelledLine, Score, generate, score
from deid.entities import EntityType, Locale
from deid.evaluation import evaluation_sets
from deid.recognizers import resolve_overlaps

TYPES = frozenset({EntityType.PERSON, EntityType.ADDRESS, EntityType.ORGANIZATION})
ADDRESS_LEVEL_ENDINGS = tuple("省市区县旗镇乡村路街道巷弄号院楼栋幢座单元层室")
Spans = list[tuple[str, int, int]]


def lexicon_method(text: str) -> Spans:
    """As the pipeline resolves them: of overlapping findings (a district inside a hospital's name), the longest."""
    return [(f.type, f.start, f.end) for f in resolve_overlaps(names.find_names(text, TYPES, Locale.ZH_CN))]


def jieba_method(text: str) -> Spans:
    import jieba.posseg

    spans: Spans = []
    tokens = []
    position = 0
    for word, flag in jieba.posseg.cut(text):
        tokens.append((word, flag, position))
        position += len(word)
    index = 0
    while index < len(tokens):
        word, flag, start = tokens[index]
        if flag == "nr" and len(word) >= 2:
            spans.append((EntityType.PERSON, start, start + len(word)))
        elif flag == "nt":
            spans.append((EntityType.ORGANIZATION, start, start + len(word)))
        elif flag == "ns":
            end = index + 1
            while end < len(tokens) and (
                tokens[end][1] in ("ns", "m") or tokens[end][0].endswith(ADDRESS_LEVEL_ENDINGS)
            ):
                end += 1
            if end - index >= 2:
                last_word, _, last_start = tokens[end - 1]
                spans.append((EntityType.ADDRESS, start, last_start + len(last_word)))
                index = end
                continue
        index += 1
    return spans


def only_name_types(lines: list[LabelledLine]) -> list[LabelledLine]:
    return [LabelledLine(line.text, [e for e in line.entities if e[0] in TYPES]) for line in lines]


def measure(method: Callable[[str], Spans], lines: list[LabelledLine]) -> tuple[float, dict[str, Score]]:
    texts = [line.text for line in lines]
    megabytes = sum(len(text.encode("utf-8")) for text in texts) / 1e6
    method(texts[0])  # loads a dictionary or compiles patterns: not throughput
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for text in texts:
            method(text)
        best = min(best, time.process_time() - start)
    return megabytes / best, score(lines, [method(text) for text in texts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5000)
    args = parser.parse_args()
    realistic = [
        document for name, documents in evaluation_sets().items() if name.startswith("zh") for document in documents
    ]
    dense = [line for line in generate(args.lines, seed=0) if any("\u4e00" <= c <= "\u9fff" for c in line.text[:3])]
    for set_name, lines in (("realistic-density evaluation set, Chinese", realistic), ("dense corpus, Chinese", dense)):
        lines = only_name_types(lines)
        gold = sum(len(line.entities) for line in lines)
        print(f"== {set_name}: {len(lines)} texts, {gold} names, addresses and organisations")
        for method_name, method in (("lexicon+context", lexicon_method), ("jieba posseg", jieba_method)):
            rate, scores = measure(method, lines)
            print(f"{method_name:16s} {rate:7.2f} MB/s (CPU)")
            for entity_type in sorted(TYPES):
                result = scores.get(entity_type, Score())
                found = result.true_positives + result.false_positives
                precision = f"{result.precision:.4f}" if found else "n/a"
                print(f"  {entity_type:14s} precision {precision:>6s}  recall {result.recall:.4f}")
        print()


if __name__ == "__main__":
    print(f"at the start, {machine()}", flush=True)
    main()
    print(f"at the end,   {machine()}")
