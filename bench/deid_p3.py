"""P3: de-identification speed and quality, the platform vs Microsoft Presidio, side by side.

    python bench/deid_p3.py [--lines 20000] [--seed 0] [--presidio-python /work/venv-presidio/bin/python]

Both read the same labelled zh+en corpus (`deid.corpus`). The platform runs in this
process: the full pipeline of the `default` policy (detection, validation, context,
format-preserving pseudonyms, the scrubbed text and its mapping), fresh pseudonym cache
per run, best of three, each line's output consumed as it comes. Presidio
runs in its own virtualenv (`pip install -r bench/requirements-presidio.txt`) as a
subprocess (bench/deid_presidio_runner.py): analyse + anonymise every line, once.

Throughput is bytes of UTF-8 text per second of this process's CPU time, so other
work on a shared machine does not skew the ratio (wall-clock figures are printed too).
Quality: a finding counts only with the exact span and type. Presidio's types are
mapped to the corpus's (CREDIT_CARD → BANK_CARD, the CN patterns → PHONE_NUMBER and
ID_CARD, its phone recogniser's PHONE_NUMBER → whichever phone type the span is);
findings of types the corpus does not label (US_*, DATE_TIME...) are not counted
against it, and a finding inside a longer one is dropped as its anonymizer would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deid.corpus import LabelledLine, Score, generate, score
from deid.engine import Deidentifier, PolicyConfig
from deid.recognizers import EntityType

PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": EntityType.EMAIL_ADDRESS,
    "CREDIT_CARD": EntityType.BANK_CARD,
    "IP_ADDRESS": EntityType.IP_ADDRESS,
    "URL": EntityType.URL,
    "CN_MOBILE": EntityType.PHONE_NUMBER,
    "CN_ID_CARD": EntityType.ID_CARD,
    "PHONE_NUMBER": EntityType.PHONE_NUMBER,
}
PRESIDIO_MIN_SCORE = 0.4


def run_platform(corpus: list[LabelledLine]) -> tuple[float, float, list[list[tuple[str, int, int]]]]:
    """Best of three timed runs that consume each line's output as the dataset job does
    (nothing kept); the findings for scoring come from one more, untimed run."""
    texts = [line.text for line in corpus]
    best_cpu = best_wall = float("inf")
    for _ in range(3):
        deidentifier = Deidentifier(config=PolicyConfig.default(), secret=os.urandom(32), seed=0)
        wall, cpu = time.perf_counter(), time.process_time()
        for text in texts:
            deidentifier.deidentify(text)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    deidentifier = Deidentifier(config=PolicyConfig.default(), secret=os.urandom(32), seed=0)
    found = [[(r.type, r.start, r.end) for r in deidentifier.deidentify(text)[1]] for text in texts]
    return best_cpu, best_wall, found


def run_presidio(python: str, corpus_path: Path) -> tuple[float, float, list[list[tuple[str, int, int, float]]]]:
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    runner = Path(__file__).with_name("deid_presidio_runner.py")
    completed = subprocess.run([python, str(runner), str(corpus_path)], capture_output=True, env=env, check=True)
    data = json.loads(completed.stdout)
    return data["cpu_seconds"], data["seconds"], data["findings"]


def map_presidio(corpus: list[LabelledLine], findings: list) -> list[list[tuple[str, int, int]]]:
    mapped_lines = []
    for line, results in zip(corpus, findings, strict=True):
        gold = {(start, end): entity_type for entity_type, start, end in line.entities}
        mapped = []
        for entity_type, start, end, result_score in results:
            if entity_type not in PRESIDIO_TYPES or result_score < PRESIDIO_MIN_SCORE:
                continue
            ours = PRESIDIO_TYPES[entity_type]
            if ours == EntityType.PHONE_NUMBER and gold.get((start, end)) == EntityType.LANDLINE_NUMBER:
                ours = EntityType.LANDLINE_NUMBER
            mapped.append((ours, start, end))
        outermost = {
            span
            for span in mapped
            if not any(
                o != span and o[1] <= span[1] and span[2] <= o[2] and o[2] - o[1] > span[2] - span[1] for o in mapped
            )
        }
        mapped_lines.append(sorted(outermost, key=lambda s: s[1]))
    return mapped_lines


def _precision(result: Score) -> str:
    """ "n/a" where nothing of the type was reported at all."""
    return f"{result.precision:.4f}" if result.true_positives + result.false_positives else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--presidio-python", default="/work/venv-presidio/bin/python")
    args = parser.parse_args()

    corpus = generate(args.lines, args.seed)
    megabytes = sum(len(line.text.encode("utf-8")) for line in corpus) / 1e6
    with tempfile.TemporaryDirectory() as folder:
        corpus_path = Path(folder) / "corpus.jsonl"
        corpus_path.write_text("".join(line.to_json() + "\n" for line in corpus), encoding="utf-8")
        platform_cpu, platform_wall, platform_found = run_platform(corpus)
        presidio_cpu, presidio_wall, presidio_raw = run_presidio(args.presidio_python, corpus_path)

    platform_scores = score(corpus, platform_found)
    presidio_scores = score(corpus, map_presidio(corpus, presidio_raw))
    print(f"corpus: {args.lines} lines, {megabytes:.2f} MB of UTF-8 text, seed {args.seed}")
    print(f"{'':10s} {'MB/s (CPU)':>11s} {'MB/s (wall)':>12s}")
    print(f"{'platform':10s} {megabytes / platform_cpu:11.2f} {megabytes / platform_wall:12.2f}")
    print(f"{'presidio':10s} {megabytes / presidio_cpu:11.3f} {megabytes / presidio_wall:12.3f}")
    print(f"speed-up (CPU): {presidio_cpu / platform_cpu:.0f}x   (wall: {presidio_wall / platform_wall:.0f}x)")
    print()
    print(f"{'type':16s} {'gold':>6s} {'platform P':>11s} {'R':>6s} {'presidio P':>11s} {'R':>6s}")
    for entity_type in sorted(set(platform_scores) | set(presidio_scores)):
        ours = platform_scores.get(entity_type, Score())
        theirs = presidio_scores.get(entity_type, Score())
        gold = ours.true_positives + ours.false_negatives
        print(
            f"{entity_type:16s} {gold:6d} {_precision(ours):>11s} {ours.recall:6.4f}"
            f" {_precision(theirs):>11s} {theirs.recall:6.4f}"
        )
    totals = {name: Score() for name in ("platform", "presidio")}
    for name, scores in (("platform", platform_scores), ("presidio", presidio_scores)):
        for result in scores.values():
            totals[name].true_positives += result.true_positives
            totals[name].false_positives += result.false_positives
            totals[name].false_negatives += result.false_negatives
    for name, total in totals.items():
        print(f"{name} overall: precision {total.precision:.4f}, recall {total.recall:.4f}")


if __name__ == "__main__":
    main()
