"""Remove resumable uploads nobody finished, and temporary files a killed server left."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from datasets.services import purge_abandoned_uploads


class Command(BaseCommand):
    help = "Remove upload sessions idle longer than UPLOAD_SESSION_MAX_IDLE_HOURS and stray temporary files."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--hours", type=float, default=settings.UPLOAD_SESSION_MAX_IDLE_HOURS)

    def handle(self, *args, hours: float, **options) -> None:
        removed = purge_abandoned_uploads(older_than=timedelta(hours=hours))
        self.stdout.write(f"removed {removed} abandoned upload(s)")
