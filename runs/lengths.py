"""The length check of a launch: how many of the dataset's records the trainer would cut.

A trainer cuts every record longer than its config's `cutoff_len` tokens, silently. So a
launch of a run whose dataset is an uploaded, validated file looks up the file's token
lengths by the base model's own tokenizer (the folder the effective config's
`model_name_or_path` names, else the run's `model`; datasets.services measures them once
per file and tokenizer) and, when more than the project's `max_truncated_share` of the
records hold more than `cutoff_len` tokens, warns (the run's `warnings`, and its log) or,
with the project's `refuse_truncation`, refuses the launch naming the figures.

What is not checked says so as a warning: no tokenizer.json in the model folder, lengths
still being measured by a worker (a refusing project's launch is then a 409 to send again).
Pretraining (`stage: pt`, or a pretraining dataset) is left alone: LLaMA-Factory packs texts
into blocks of `cutoff_len` and cuts nothing.
"""

from __future__ import annotations

from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from datasets.models import DatasetFile, FileStatus, TaskType, TokenLengthsStatus
from datasets.services import measure_token_lengths
from llmplatform.errors import ConflictingState, InvalidInput
from llmplatform.sentences import gettext_noop
from llmplatform.users import Actor
from projects.models import Project, TrainerKind

# LLaMA-Factory 0.9.5's DataArguments.cutoff_len, for a config that does not set it.
LLAMAFACTORY_CUTOFF_LEN = 2048

Warning = dict[str, Any]
# The warning that the trainer will cut records; the others say what could not be checked.
TRUNCATION = "records_over_cutoff_len"
# Warnings are stored in English and shown in the reader's language (llmplatform.sentences).
UNCHECKED = gettext_noop("Token lengths were not checked: {why}")
MEASURING_FAILED = gettext_noop("measuring them with {folder!r}'s tokenizer failed: {error}")
MEASURING_UNCHECKED = gettext_noop(
    "The token lengths of {dataset!r} by {folder!r}'s tokenizer are being measured ({done} done); "
    "this launch was not checked."
)
MEASURING_REFUSED = gettext_noop(
    "The token lengths of {dataset!r} by {folder!r}'s tokenizer are being measured ({done} done); "
    "project {name!r} launches only checked runs: launch again once they are."
)
TRUNCATION_WARNED = gettext_noop(
    "{over} of {records} records of {dataset!r} ({share}) are longer than cutoff_len {cutoff} tokens by "
    "{folder!r}'s tokenizer, more than project {name!r} allows ({allowed}): the trainer cuts them."
)
TRUNCATION_REFUSED = gettext_noop(
    "{over} of {records} records of {dataset!r} ({share}) are longer than cutoff_len {cutoff} tokens by "
    "{folder!r}'s tokenizer, more than project {name!r} allows ({allowed}): the trainer cuts them. "
    "Raise cutoff_len or shorten the records."
)


def cutoff_len_of(config: dict[str, Any], *, project: Project) -> int | None:
    """The cutoff_len the run's trainer will use, or None where it has none (another trainer, pretraining)."""
    if config.get("stage") == "pt":
        return None
    cutoff = config.get("cutoff_len")
    if cutoff is None:
        return LLAMAFACTORY_CUTOFF_LEN if project.trainer_in_effect == TrainerKind.LLAMAFACTORY else None
    return cutoff if isinstance(cutoff, int) and not isinstance(cutoff, bool) and cutoff > 0 else None


def length_warnings(
    *, project: Project, dataset: str, config: dict[str, Any], model: str, actor: Actor
) -> list[Warning]:
    """The warnings of the length check (see the module's docstring); InvalidInput or ConflictingState
    where the project refuses."""
    upload = (
        DatasetFile.objects.filter(relative_path=dataset, status=FileStatus.READY)
        .select_related("dataset")
        .order_by("-created_at")
        .first()
    )
    cutoff = cutoff_len_of(config, project=project)
    if upload is None or cutoff is None or upload.dataset.task_type == TaskType.PRETRAIN:
        return []
    folder = str(config.get("model_name_or_path") or model)
    try:
        lengths = measure_token_lengths(dataset_file=upload, model=folder, actor=actor)
    except InvalidInput as exc:
        return [{"code": "token_lengths_unchecked", "message": UNCHECKED.format(why=exc.detail)}]
    if lengths.status == TokenLengthsStatus.FAILED:
        failed = MEASURING_FAILED.format(folder=folder, error=lengths.error)
        return [{"code": "token_lengths_unchecked", "message": UNCHECKED.format(why=failed)}]
    if lengths.status == TokenLengthsStatus.MEASURING:
        done = f"{lengths.progress:.0%}"
        if project.refuse_truncation:
            raise ConflictingState(
                format_lazy(_(MEASURING_REFUSED), dataset=dataset, folder=folder, done=done, name=project.name),
                progress=lengths.progress,
            )
        message = MEASURING_UNCHECKED.format(dataset=dataset, folder=folder, done=done)
        return [{"code": "token_lengths_measuring", "message": message}]
    records = lengths.records or 0
    over = lengths.records_over(cutoff)
    share = over / records if records else 0.0
    if share <= project.max_truncated_share:
        return []
    figures = {
        "records": records,
        "records_over_cutoff_len": over,
        "cutoff_len": cutoff,
        "share": round(share, 4),
        "max_truncated_share": project.max_truncated_share,
        "model": folder,
    }
    values = {
        "over": over,
        "records": records,
        "dataset": dataset,
        "share": f"{share:.1%}",
        "cutoff": cutoff,
        "folder": folder,
        "name": project.name,
        "allowed": f"{project.max_truncated_share:.1%}",
    }
    if project.refuse_truncation:
        raise InvalidInput(format_lazy(_(TRUNCATION_REFUSED), **values), **figures)
    return [{"code": TRUNCATION, "message": TRUNCATION_WARNED.format(**values), **figures}]
