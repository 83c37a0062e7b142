"""vLLM's command line: the configured template, and the user's `extra_args` checked.

The template (setting VLLM_COMMAND) is split with shlex once; its `{placeholders}`
are filled inside single argv elements, so a model path with spaces or quotes stays
one argument and user text is never parsed by a shell. `extra_args` is split with
shlex too, then checked option by option against what `vllm serve` accepts
(vllm_options.py) and what users may pass (vllm_policy.py): an allowlist of options,
each with the shape of its values.
"""

from __future__ import annotations

import difflib
import re
import shlex
import shutil
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from deployments.vllm_options import VllmOption, vllm_options
from deployments.vllm_policy import ALLOWED, PLATFORM_OPTIONS, REFUSED_BECAUSE, AsVllmReads, ModelFolders, Shape
from llmplatform.errors import ConflictingState, InvalidInput

TEMPLATE_PLACEHOLDERS = frozenset({"model_path", "port", "name", "gpu_id"})
NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
STAFF_ALLOWED = AsVllmReads()


class VllmNotInstalled(ConflictingState):
    """The program VLLM_COMMAND starts is not on this host: a server would only exit with 127."""


class BadExtraArgs(InvalidInput):
    """`extra_args` cannot be used; `str()` says why, naming the argument."""


def _is_option(word: str) -> bool:
    return word.startswith("-") and not NUMBER.match(word) and word != "-"


def _spelling(word: str) -> str:
    """An option as vLLM reads it: `--max_num_seqs` is `--max-num-seqs`."""
    return "--" + word[2:].replace("_", "-") if word.startswith("--") else word


def allowed_options() -> list[str]:
    return sorted(ALLOWED)


def _unknown(spelling: str) -> BadExtraArgs:
    options = vllm_options()
    spellings = list(options.spellings())
    near = [name for name in spellings if name.startswith(spelling)] or difflib.get_close_matches(
        spelling, spellings, cutoff=0.8
    )
    if near:
        unknown = _("extra_args: `{spelling}` is not an option of vllm serve {version}; did you mean {near}?")
    else:
        unknown = _("extra_args: `{spelling}` is not an option of vllm serve {version}")
    near_names = ", ".join(f"`{name}`" for name in sorted(near)[:3])
    return BadExtraArgs(format_lazy(unknown, spelling=spelling, version=options.version, near=near_names))


def _refused(option: VllmOption) -> BadExtraArgs:
    because = f" ({REFUSED_BECAUSE[option.name]})" if option.name in REFUSED_BECAUSE else ""
    return BadExtraArgs(
        format_lazy(
            _(
                "extra_args: `{option_name}` is not among the vLLM options users may "
                "pass{because}. Allowed: {choices}; staff may allow more for one deployment in "
                "the admin."
            ),
            option_name=option.name,
            because=because,
            choices=", ".join(allowed_options()),
        ),
        allowed=allowed_options(),
    )


def _option(spelling: str, staff_allowed: Collection[str]) -> tuple[VllmOption, Shape]:
    option = vllm_options().lookup(spelling)
    if option is None:
        raise _unknown(spelling)
    if option.name in PLATFORM_OPTIONS:
        raise BadExtraArgs(
            format_lazy(
                _("extra_args: `{option_name}` is set by the platform ({setting})."),
                option_name=option.name,
                setting=PLATFORM_OPTIONS[option.name],
            )
        )
    if option.name in staff_allowed:
        return option, STAFF_ALLOWED
    if option.name not in ALLOWED:
        raise _refused(option)
    return option, ALLOWED[option.name]


def check_extra_args(text: str, *, folders: ModelFolders, staff_allowed: Collection[str] = ()) -> list[str]:
    """The argv words `extra_args` stands for, each option allowed and each value of its shape; else BadExtraArgs.

    Accepted: `--option`, `--option value`, `--option=value`, vLLM's short spellings
    (`-tp 1`), for the options of vllm_policy.ALLOWED and those in `staff_allowed`.
    Option names are written out as vLLM reads them, and path values as the absolute
    path that was checked.
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise BadExtraArgs(
            format_lazy(_("extra_args cannot be split like a shell command line: {exc}."), exc=exc)
        ) from exc
    argv: list[str] = []
    given: set[str] = set()
    position = 0
    while position < len(words):
        word = words[position]
        if not _is_option(word):
            raise BadExtraArgs(
                format_lazy(
                    _(
                        "extra_args: {word!r} is not an option and does not follow one as its value; "
                        "give options as `--name value` or `--name=value`."
                    ),
                    word=word[:80],
                )
            )
        spelling, equals, inline = word.partition("=")
        spelling = _spelling(spelling)
        option, shape = _option(spelling, staff_allowed)
        if option.name in given:
            raise BadExtraArgs(format_lazy(_("extra_args: `{option_name}` is given twice."), option_name=option.name))
        given.add(option.name)
        position += 1
        following: list[str] = []
        while position < len(words) and not _is_option(words[position]) and _takes_more(option, following, equals):
            following.append(words[position])
            position += 1
        values = [inline, *following] if equals else following
        argv += _checked(spelling, option, shape, values, folders, joined=bool(equals))
    return argv


def _takes_more(option: VllmOption, taken: list[str], equals: str) -> bool:
    """Whether the next word, not an option itself, is one more value of `option` (as argparse would take it)."""
    if equals or option.values == 0:
        return False
    if option.values in (1, "?"):
        return not taken
    return option.values in ("+", "*") or (isinstance(option.values, int) and len(taken) < option.values)


def _checked(
    spelling: str, option: VllmOption, shape: Shape, values: list[str], folders: ModelFolders, *, joined: bool
) -> list[str]:
    if option.values == 0:
        if values:
            raise BadExtraArgs(format_lazy(_("extra_args: `{spelling}` takes no value."), spelling=spelling))
        return [spelling]
    if not values and option.values not in ("?", "*"):
        raise BadExtraArgs(
            format_lazy(
                _("extra_args: `{spelling}` needs a value: {describe}."),
                spelling=spelling,
                describe=shape.describe(option),
            )
        )
    checked = []
    for value in values:
        try:
            checked.append(shape.check(value, option, folders))
        except ValueError as exc:
            raise BadExtraArgs(
                format_lazy(
                    _("extra_args: `{spelling}` {value!r} {exc}; it takes {describe}."),
                    spelling=spelling,
                    value=value[:80],
                    exc=exc,
                    describe=shape.describe(option),
                )
            ) from None
    # One word as given, and always for a value starting with -, which argparse could take for an option.
    if len(checked) == 1 and (joined or checked[0].startswith("-")):
        return [f"{spelling}={checked[0]}"]
    return [spelling, *checked]


def policy_problems() -> list[str]:
    """Where vllm_policy disagrees with the vLLM options of vllm_options.json (after a vLLM upgrade, say)."""
    options = vllm_options()
    problems = []
    for name, shape in ALLOWED.items():
        option = options.lookup(name)
        if option is None or option.name != name:
            problems.append(f"{name} is allowed but vllm serve {options.version} has no option of that first spelling")
        elif not shape.fits(option):
            problems.append(f"{name} is allowed as {type(shape).__name__}, which cannot check its {option.type} values")
    for name in [*PLATFORM_OPTIONS, *REFUSED_BECAUSE]:
        if options.lookup(name) is None:
            problems.append(f"{name} is refused but vllm serve {options.version} has no such option")
    problems += [f"{name} is both allowed and set by the platform" for name in set(ALLOWED) & set(PLATFORM_OPTIONS)]
    return problems


def check_staff_allowed(names: Sequence[str]) -> list[str]:
    """The vLLM options staff allow on a deployment, by their first spelling; BadExtraArgs for unknown or owned ones."""
    allowed = []
    for name in names:
        option = vllm_options().lookup(_spelling(name))
        if option is None:
            raise _unknown(_spelling(name))
        if option.name in PLATFORM_OPTIONS:
            raise BadExtraArgs(
                format_lazy(
                    _("`{option_name}` is set by the platform ({setting})."),
                    option_name=option.name,
                    setting=PLATFORM_OPTIONS[option.name],
                )
            )
        allowed.append(option.name)
    return list(dict.fromkeys(allowed))


@dataclass(frozen=True)
class LoraModule:
    name: str
    path: str


def build_argv(
    *,
    model_path: str,
    port: int,
    served_model_name: str,
    gpu_id: int,
    extra_args: Sequence[str] = (),
    lora: LoraModule | None = None,
    template: str | None = None,
) -> list[str]:
    """The server's argv: the template filled in, then LoRA options, then extra_args."""
    values = {"model_path": model_path, "port": str(port), "name": served_model_name, "gpu_id": str(gpu_id)}
    template = template if template is not None else settings.VLLM_COMMAND
    try:
        argv = [word.format_map(values) for word in shlex.split(template)]
    except (KeyError, ValueError, IndexError) as exc:
        raise ImproperlyConfigured(
            f"VLLM_COMMAND {template!r} is not a valid template ({exc!r}); "
            f"placeholders are {sorted(TEMPLATE_PLACEHOLDERS)}."
        ) from exc
    if not argv:
        raise ImproperlyConfigured("VLLM_COMMAND is empty.")
    if lora is not None:
        argv += ["--enable-lora", "--lora-modules", f"{lora.name}={lora.path}"]
    return argv + list(extra_args)


def missing_program(template: str | None = None) -> str | None:
    """The program VLLM_COMMAND starts when this host has no executable of that name (on PATH, or
    at that path), else None. A template that does not split is the system check's to report."""
    try:
        words = shlex.split(template if template is not None else settings.VLLM_COMMAND)
    except ValueError:
        return None
    if words and shutil.which(words[0]) is None:
        return words[0]
    return None


def check_installed(template: str | None = None) -> None:
    """Refuse to start a server whose program is missing, in the sentence API, console and admin show."""
    if program := missing_program(template):
        raise VllmNotInstalled(
            format_lazy(
                _(
                    "vLLM is not installed on this host: {program!r} is no executable program here. "
                    "An operator installs vLLM or sets VLLM_COMMAND."
                ),
                program=program,
            ),
            program=program,
        )


def quoted(argv: Sequence[str]) -> str:
    """The argv as one shell-quoted line, for people to read and copy."""
    return shlex.join(argv)
