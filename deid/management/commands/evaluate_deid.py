"""Score the recognisers on the held-apart evaluation set (`deid.evaluation`): precision
and recall per entity type, per file and over all of them."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from deid.corpus import Score
from deid.entities import DEFAULT_LOCALE, LOCALES
from deid.evaluation import evaluate, evaluation_sets


def total(scores: dict[str, Score]) -> Score:
    result = Score()
    for entity_score in scores.values():
        result.true_positives += entity_score.true_positives
        result.false_positives += entity_score.false_positives
        result.false_negatives += entity_score.false_negatives
    return result


class Command(BaseCommand):
    help = "Precision and recall per entity type on the evaluation set written apart from the generated corpus."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--locale", choices=LOCALES, default=DEFAULT_LOCALE)

    def handle(self, *args, locale: str, **options) -> None:
        sets = evaluation_sets()
        everything = [document for documents in sets.values() for document in documents]
        for name, documents in [*sets.items(), ("all", everything)]:
            characters = sum(len(d.text) for d in documents)
            entities = sum(len(d.entities) for d in documents)
            scores = evaluate(documents, locale=locale)
            self.stdout.write(
                f"{name}: {len(documents)} documents, {characters} characters, {entities} entities "
                f"(one per {characters / max(entities, 1):.0f} characters), locale {locale}"
            )
            for entity_type, result in [*scores.items(), ("overall", total(scores))]:
                gold = result.true_positives + result.false_negatives
                self.stdout.write(
                    f"  {entity_type:16s} gold {gold:4d}  precision {result.precision:.4f}  recall {result.recall:.4f}"
                )
