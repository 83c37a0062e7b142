"""`manage.py install_demo [--owner USERNAME] [--force]`: a demo project whose runs train for real.

Copies the repository's `demo/training/` (a tiny Hugging Face SFT trainer, its
dataset and configs) into HOST_TRAINING_DIR, then creates or updates the project
"demo" pointing at them. Running it again changes nothing. A file of the same name
that differs (a real training directory's own `run_train_full_sft.sh`, say) is left
alone unless `--force`.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from projects.models import Project
from projects.services import create_project, update_project

DEMO_SOURCE = Path(settings.BASE_DIR) / "demo" / "training"
NOT_COPIED = {".gitignore", ".python", "output", "saves", "__pycache__"}
# Read by run_train_full_sft.sh: the interpreter that has torch and transformers.
PYTHON_FILE = ".python"
DEMO_PROJECT = {
    "name": "demo",
    "description": "A 2-layer Llama (hidden size 32) fine-tuned on 64 chat records, on CPU, in seconds.",
    "objective": "Try the platform: launch a run, watch its loss, cancel it, resume it from a checkpoint.",
    "dataset_name": "datasets/demo_sft.jsonl",
    "training_yaml_name": "configs/demo_sft.yaml",
    "task_type": "sft",
    "base_model": "tiny-llama-2x32",
    # train_sft.py reads TrainingArguments' names and a few of its own (model_name, max_seq_length...).
    "trainer": "hf-trainer",
}


@dataclass
class CopyReport:
    copied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # differing files left alone


def copy_training_files(source: Path, target: Path, *, force: bool) -> CopyReport:
    report = CopyReport()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if NOT_COPIED & set(relative.parts) or not path.is_file():
            continue
        destination = target / relative
        if destination.exists() and filecmp.cmp(path, destination, shallow=False):
            report.unchanged.append(str(relative))
            continue
        if destination.exists() and not force:
            report.kept.append(str(relative))
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        report.copied.append(str(relative))
    (target / PYTHON_FILE).write_text(sys.executable + "\n")
    return report


def ensure_demo_project(owner: User | None) -> tuple[Project, bool]:
    """The "demo" project, created or brought back to the demo's settings; (project, created)."""
    fields = {**DEMO_PROJECT, "owner": owner.get_username() if owner else ""}
    project = Project.objects.filter(name=DEMO_PROJECT["name"]).first()
    if project is None:
        return create_project(actor=owner, fields=fields), True
    project = update_project(project=project, actor=owner, fields=fields)
    if owner is not None and project.created_by_id != owner.pk:
        Project.objects.filter(pk=project.pk).update(created_by=owner)
        project.created_by = owner
    return project, False


class Command(BaseCommand):
    help = "Install the demo training directory into HOST_TRAINING_DIR and create the 'demo' project."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--owner", help="Username owning the demo project (default: the first superuser).")
        parser.add_argument("--force", action="store_true", help="Overwrite differing files of the same name.")

    def handle(self, *args, owner: str | None = None, force: bool = False, **options) -> None:
        users = get_user_model().objects
        if owner:
            user = users.filter(username=owner).first()
            if user is None:
                raise CommandError(f"No user {owner!r}: create it first (manage.py createsuperuser).")
        else:
            user = users.filter(is_superuser=True).order_by("pk").first()

        target = Path(settings.HOST_TRAINING_DIR)
        try:
            target.mkdir(parents=True, exist_ok=True)
            report = copy_training_files(DEMO_SOURCE, target, force=force)
        except OSError as exc:
            raise CommandError(f"Cannot write the demo into HOST_TRAINING_DIR ({target}): {exc}") from exc
        for name in report.kept:
            self.stderr.write(f"Kept {target / name}: it differs from the demo's (use --force to overwrite).")
        self.stdout.write(
            f"Demo training directory {target}: {len(report.copied)} file(s) copied, "
            f"{len(report.unchanged)} already up to date."
        )
        project, created = ensure_demo_project(user)
        owner_text = f"owned by {user.get_username()}" if user else "with no owner (staff see it)"
        self.stdout.write(f"Project {project.name!r} {'created' if created else 'up to date'}, {owner_text}.")
