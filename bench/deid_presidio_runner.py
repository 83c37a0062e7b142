"""Microsoft Presidio over a labelled corpus, for bench/deid_p3.py (run with the
Presidio venv's python: presidio-analyzer and -anonymizer are not platform dependencies).

Presidio as a team would set it up offline: its predefined recognisers (pattern ones,
plus the `phonenumbers`-based phone recogniser), a blank spaCy pipeline so no model is
downloaded, and the obvious `\\b`-anchored patterns for Chinese mobiles and ID numbers.
Reads the corpus JSONL on stdin's path argument, prints one JSON object: seconds for the
full analyse + anonymise pipeline and the findings per line.
"""

import json
import os
import sys
import time

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # keep the e-mail check offline

import spacy
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_anonymizer import AnonymizerEngine


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """spaCy's blank English pipeline: tokens only, no model download."""

    def load(self) -> None:
        self.nlp = {"en": spacy.blank("en")}


def build_analyzer() -> AnalyzerEngine:
    nlp_engine = BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp_engine.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=["en"])
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
    with open(sys.argv[1], encoding="utf-8") as corpus:
        texts = [json.loads(line)["text"] for line in corpus]
    analyzer = build_analyzer()
    anonymizer = AnonymizerEngine()
    analyzer.analyze(texts[0], language="en")  # warm-up: lazy initialisation is not throughput
    findings = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for text in texts:
        results = analyzer.analyze(text, language="en")
        anonymizer.anonymize(text=text, analyzer_results=results)
        findings.append([(r.entity_type, r.start, r.end, r.score) for r in results])
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    json.dump({"seconds": seconds, "cpu_seconds": cpu_seconds, "findings": findings}, sys.stdout)


if __name__ == "__main__":
    main()
