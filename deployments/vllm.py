"""vLLM's command line: the configured template, and the user's `extra_args` checked.

The template (setting VLLM_COMMAND) is split with shlex once; its `{placeholders}`
are filled inside single argv elements, so a model path with spaces or quotes stays
one argument and user text is never parsed by a shell. `extra_args` is split with
shlex too, then checked option by option: the options the platform owns (where the
server listens, under which name, which files it loads code from) are refused.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from llmplatform.errors import InvalidInput

TEMPLATE_PLACEHOLDERS = frozenset({"model_path", "port", "name", "gpu_id"})

# Option → why a user may not set it. Underscore spellings (`--served_model_name`,
# which vLLM accepts) and abbreviations (argparse expands `--po` to `--port`) are
# refused as well.
PLATFORM_OPTIONS = {
    "--host": "the platform binds servers to 127.0.0.1",
    "--port": "the platform allocates ports",
    "--uds": "the platform serves over TCP on its own port",
    "--api-key": "access control is the platform's",
    "--served-model-name": "set `served_model_name` instead",
    "--model": "set `model_path` or `artifact_id` instead",
    "--lora-modules": "deploy an adapter artifact instead",
    "--config": "a config file could override the options the platform owns",
    "--middleware": "it imports arbitrary code into the server",
    "--tool-parser-plugin": "it imports arbitrary code into the server",
    "--ssl-keyfile": "health probes speak plain HTTP on loopback",
    "--ssl-certfile": "health probes speak plain HTTP on loopback",
    "--ssl-ca-certs": "health probes speak plain HTTP on loopback",
    "--root-path": "health probes use the server's own paths",
    "--headless": "a headless server has no API to probe",
}
NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


class BadExtraArgs(InvalidInput):
    """`extra_args` cannot be used; `str()` says why, naming the argument."""


def _is_option(word: str) -> bool:
    return word.startswith("-") and not NUMBER.match(word) and word != "-"


def _refusal(option: str) -> str | None:
    name = option.split("=", 1)[0].replace("_", "-")
    if name in PLATFORM_OPTIONS:
        return f"`{name}` is set by the platform ({PLATFORM_OPTIONS[name]})."
    if name.startswith("--") and len(name) > 2:
        for owned in PLATFORM_OPTIONS:
            if owned.startswith(name):
                return f"`{name}` abbreviates `{owned}`, which is set by the platform ({PLATFORM_OPTIONS[owned]})."
    return None


def parse_extra_args(text: str) -> list[str]:
    """Split `extra_args` into argv words; each option may carry one value.

    Accepted: `--flag`, `--option value`, `--option=value`, short options (`-tp 1`).
    Refused: unbalanced quotes, a word that is neither an option nor the value of
    the option before it, and the options the platform owns.
    """
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise BadExtraArgs(f"extra_args cannot be split like a shell command line: {exc}.") from exc
    previous_takes_value = False
    for token in tokens:
        if _is_option(token):
            refusal = _refusal(token)
            if refusal:
                raise BadExtraArgs(f"extra_args: {refusal}")
            previous_takes_value = "=" not in token
        elif previous_takes_value:
            previous_takes_value = False
        else:
            raise BadExtraArgs(
                f"extra_args: {token!r} is not an option and does not follow one as its value; "
                "give options as `--name value` or `--name=value`."
            )
    return tokens


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


def quoted(argv: Sequence[str]) -> str:
    """The argv as one shell-quoted line, for people to read and copy."""
    return shlex.join(argv)
