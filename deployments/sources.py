"""What a deployment serves: a model folder under MODELS_DIR, or a run's released artifact.

- `model_path` is relative to MODELS_DIR; absolute paths, `..` segments and symlinks
  that lead outside it are refused, and it must exist.
- `artifact_id` names an artifact of a run the user can see, tagged `release`. A
  checkpoint or model artifact is served as it is; a LoRA adapter is served on its
  run's base model (the run's `model`, else its project's `base_model`, under
  MODELS_DIR) through `--enable-lora --lora-modules name=path`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.utils.text import format_lazy, slugify
from django.utils.translation import gettext_lazy as _

from deployments.vllm import LoraModule
from deployments.vllm_policy import ModelFolders
from llmplatform.errors import ConflictingState, InvalidInput, NotFound
from llmplatform.users import Visitor
from projects.models import Project
from runs.models import Artifact, ArtifactTagValue, ArtifactType

SERVED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
SERVABLE_AS_IS = frozenset({ArtifactType.CHECKPOINT, ArtifactType.MODEL})


@dataclass(frozen=True)
class ModelSource:
    model_path: str  # what the deployment reports: the relative path, or the artifact's path
    serve_path: Path  # what the server loads (the base model, for an adapter)
    served_model_name: str  # the name clients ask for (the adapter's, for an adapter)
    base_model_name: str  # --served-model-name: the base model's name when serving an adapter
    artifact: Artifact | None = None
    lora: LoraModule | None = None

    def folders(self) -> ModelFolders:
        """Where the server's path-valued options may point: its model's folders, then MODELS_DIR."""
        own = [self.serve_path, *([Path(self.lora.path)] if self.lora else [])]
        return ModelFolders(own=tuple(path for path in own if path.is_dir()), models_dir=Path(settings.MODELS_DIR))


def resolve_under_models_dir(relative: str, *, field: str = "model_path") -> Path:
    """The existing path `relative` names inside MODELS_DIR; InvalidInput otherwise."""
    if not relative or not relative.strip():
        raise InvalidInput(
            format_lazy(_("{field} is empty; give a path relative to the models directory."), field=field),
            missing=[field],
        )
    if "\x00" in relative:
        raise InvalidInput(format_lazy(_("{field} contains a NUL byte."), field=field))
    pure = PurePosixPath(relative)
    if pure.is_absolute() or relative.startswith("~"):
        raise InvalidInput(
            format_lazy(
                _("{field} {relative!r} must be relative to the models directory, not absolute."),
                field=field,
                relative=relative,
            )
        )
    if ".." in pure.parts:
        raise InvalidInput(
            format_lazy(_("{field} {relative!r} may not contain '..' segments."), field=field, relative=relative)
        )
    root = Path(settings.MODELS_DIR).resolve()
    try:
        resolved = (root / pure).resolve()
        exists = resolved.exists()
    except (OSError, ValueError, RuntimeError) as exc:  # name too long, undecodable, symlink loop
        raise InvalidInput(
            format_lazy(
                _("{field} {relative!r} cannot be used as a path: {exc}."), field=field, relative=relative, exc=exc
            )
        ) from exc
    if not resolved.is_relative_to(root):
        raise InvalidInput(
            format_lazy(
                _("{field} {relative!r} leads outside the models directory (through a symlink)."),
                field=field,
                relative=relative,
            )
        )
    if not exists:
        raise InvalidInput(
            format_lazy(
                _("{field} {relative!r} does not exist in the models directory."), field=field, relative=relative
            ),
            missing=[relative],
        )
    return resolved


def check_served_name(name: str) -> str:
    if not SERVED_NAME.match(name):
        raise InvalidInput(
            format_lazy(
                _(
                    "served_model_name {name!r} must start with a letter or digit and hold only "
                    "letters, digits and . _ : / - (at most 128 characters)."
                ),
                name=name,
            ),
        )
    return name


def _default_name(*parts: str) -> str:
    return "-".join(slugify(part) for part in parts if slugify(part))[:128] or "model"


def from_models_dir(model_path: str, *, served_model_name: str = "") -> ModelSource:
    resolved = resolve_under_models_dir(model_path)
    name = check_served_name(served_model_name or _default_name(PurePosixPath(model_path).name))
    return ModelSource(model_path=model_path, serve_path=resolved, served_model_name=name, base_model_name=name)


def _visible_artifact(artifact_id: uuid.UUID, user: Visitor) -> Artifact:
    artifact = (
        Artifact.objects.select_related("run__project")
        .filter(pk=artifact_id, run__project__in=Project.objects.visible_to(user))
        .first()
    )
    if artifact is None:
        raise NotFound(format_lazy(_("No artifact {artifact_id} in a project you can see."), artifact_id=artifact_id))
    return artifact


def from_artifact(artifact_id: uuid.UUID, *, user: Visitor, served_model_name: str = "") -> ModelSource:
    artifact = _visible_artifact(artifact_id, user)
    if not artifact.tags.filter(value=ArtifactTagValue.RELEASE).exists():
        raise ConflictingState(
            format_lazy(
                _(
                    "Artifact {artifact_name} ({artifact_id}) is not tagged 'release'; tag it as a "
                    "release before deploying it."
                ),
                artifact_name=artifact.name,
                artifact_id=artifact.id,
            ),
        )
    if artifact.type not in SERVABLE_AS_IS and artifact.type != ArtifactType.ADAPTER:
        raise InvalidInput(
            format_lazy(
                _("Artifact {artifact_name} is a {type}; only checkpoints, models and adapters can be served."),
                artifact_name=artifact.name,
                type=artifact.type,
            )
        )
    path = Path(artifact.path)
    if not path.exists():
        raise InvalidInput(
            format_lazy(
                _("Artifact {artifact_name}'s files are gone from {artifact_path}."),
                artifact_name=artifact.name,
                artifact_path=artifact.path,
            ),
            missing=[artifact.path],
        )
    run = artifact.run
    name = check_served_name(served_model_name or _default_name(run.name or str(run.id)[:8], artifact.name))
    if artifact.type in SERVABLE_AS_IS:
        return ModelSource(
            model_path=artifact.path, serve_path=path, served_model_name=name, base_model_name=name, artifact=artifact
        )
    base = run.model or run.project.base_model
    if not base:
        raise InvalidInput(
            format_lazy(
                _("Adapter {artifact_name} cannot be served: neither its run nor its project names a base model."),
                artifact_name=artifact.name,
            )
        )
    base_path = resolve_under_models_dir(base, field="base model")
    base_name = _default_name(PurePosixPath(base).name)
    if base_name == name:
        base_name = f"{base_name}-base"
    return ModelSource(
        model_path=artifact.path,
        serve_path=base_path,
        served_model_name=name,
        base_model_name=base_name,
        artifact=artifact,
        lora=LoraModule(name=name, path=str(path)),
    )
