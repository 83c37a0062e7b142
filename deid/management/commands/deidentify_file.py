"""Scrub a local file with a policy, outside any dataset: for operators preparing data
on the server itself. Prints the report (counts, errors by line), never the data."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from deid.models import DeidPolicy
from deid.transform import deidentify_file, is_json_lines


class Command(BaseCommand):
    help = "Write a de-identified copy of a JSONL or text file (every string value / every line)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", type=Path)
        parser.add_argument("destination", type=Path, help="Must not exist yet.")
        parser.add_argument("--policy", default="default", help="policy_id (default: default)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--format",
            dest="text_format",
            choices=["auto", "jsonl", "text"],
            default="auto",
            help="auto: by the file name's suffix",
        )

    def handle(
        self, *args, source: Path, destination: Path, policy: str, seed: int, text_format: str, **options
    ) -> None:
        if not source.is_file():
            raise CommandError(f"{source} is not a file.")
        if destination.exists():
            raise CommandError(f"{destination} exists; choose a new path (the source is never overwritten).")
        found = DeidPolicy.objects.select_related("current_version").filter(name=policy).first()
        if found is None:
            raise CommandError(f"No de-identification policy {policy!r}.")
        json_lines = is_json_lines(source) if text_format == "auto" else text_format == "jsonl"
        report = deidentify_file(
            source=source, destination=destination, deidentifier=found.deidentifier(seed=seed), json_lines=json_lines
        )
        summary = {
            "policy_id": found.name,
            "policy_version": found.current.label,
            "lines": report.lines,
            "counts": report.counts,
            "error_count": report.error_count,
            "errors": report.errors,
        }
        self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
