"""Which vLLM options users may pass in a deployment's `extra_args`, and in which shapes.

Reviewed by hand against `vllm serve`'s options (vllm_options.json). Allowed are the
performance and serving knobs of a server on the one GPU a deployment holds; each
value has a shape (a number in a range, one of vLLM's own choices, a bounded string,
a small JSON object, a file in the deployment's model folder or the models
directory). Refused is everything else, among it what loads code into the server,
reads or writes files elsewhere on the host, talks to other hosts, or moves the
server off the port and GPU the platform gave it. Staff may allow more options for
one deployment in the admin (Deployment.allowed_extra_flags); the options the
platform sets itself stay refused even then.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from deployments.vllm_options import VllmOption
from projects.training_files import UnsafePath, resolve_training_file


@dataclass(frozen=True)
class ModelFolders:
    """Where path-valued options may point: the deployment's own model folders first, then the models directory."""

    own: tuple[Path, ...]
    models_dir: Path

    WHERE: ClassVar[str] = "the deployment's model folder or the models directory"

    def resolve(self, value: str, *, folder: bool) -> Path:
        """The existing file (or folder) `value` names relative to one of the roots; ValueError saying why not."""
        try:
            for root in (*self.own, self.models_dir):
                resolved = resolve_training_file(value, root=root, root_name=self.WHERE)
                if resolved.is_dir() if folder else resolved.is_file():
                    return resolved
        except UnsafePath as exc:
            raise ValueError(str(exc)) from None
        except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop
            raise ValueError(f"cannot be used as a path ({exc})") from None
        raise ValueError(f"names no {'folder' if folder else 'file'} in {self.WHERE}")


class Shape(ABC):
    """What values an allowed option takes; `check` returns the value to put on the command line."""

    # How vLLM reads the values this shape can check (vllm_options.json's `type`).
    vllm_types: ClassVar[frozenset[str]]

    def fits(self, option: VllmOption) -> bool:
        """Whether this shape can stand for `option`'s values: vLLM reads one value, of a type the shape knows."""
        return option.values == 1 and option.type in self.vllm_types

    @abstractmethod
    def describe(self, option: VllmOption) -> str: ...

    @abstractmethod
    def check(self, value: str, option: VllmOption, folders: ModelFolders) -> str: ...


class Flag(Shape):
    """An option without a value (`--enforce-eager`, and its `--no-` twin when vLLM has one)."""

    vllm_types = frozenset({""})

    def fits(self, option: VllmOption) -> bool:
        return option.values == 0

    def describe(self, option: VllmOption) -> str:
        return "no value"

    def check(self, value: str, option: VllmOption, folders: ModelFolders) -> str:
        raise ValueError("takes no value")


# vLLM's human-readable integers: 4k is 4,000, 4K is 4,096 (binary suffixes take whole numbers only).
HUMAN_INTEGER = re.compile(r"^(\d{1,12}(?:\.\d{1,6})?)([kmgtKMGT])$")
DECIMAL_SUFFIX = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
BINARY_SUFFIX = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
WHOLE_NUMBER = re.compile(r"^-?\d{1,19}$")
DECIMAL_NUMBER = re.compile(r"^(\d{1,6}(\.\d{0,9})?|\.\d{1,9})$")


@dataclass(frozen=True)
class Integer(Shape):
    low: int
    high: int
    words: tuple[str, ...] = ()  # besides numbers, e.g. "auto"

    vllm_types = frozenset({"int", "human-int", "human-int-or-auto"})

    def describe(self, option: VllmOption) -> str:
        text = str(self.low) if self.low == self.high else f"a whole number from {self.low} to {self.high}"
        if option.type.startswith("human-int"):
            text += " (4k is 4000, 4K is 4096)"
        return " or ".join([text, *(f"`{word}`" for word in self.words)])

    def check(self, value: str, option: VllmOption, folders: ModelFolders) -> str:
        if value in self.words:
            return value
        human = HUMAN_INTEGER.match(value) if option.type.startswith("human-int") else None
        if human:
            number, suffix = human.groups()
            if suffix in BINARY_SUFFIX and "." in number:
                raise ValueError(f"takes no decimals with the binary suffix {suffix}")
            scale = BINARY_SUFFIX.get(suffix) or DECIMAL_SUFFIX[suffix]
            number_value = int(float(number) * scale)
        elif WHOLE_NUMBER.match(value):
            number_value = int(value)
        else:
            raise ValueError("is not a whole number")
        if not self.low <= number_value <= self.high:
            raise ValueError("is out of range")
        return value


@dataclass(frozen=True)
class Real(Shape):
    """A decimal number in `low` < x ≤ `high` (`low` itself too when `low_included`)."""

    low: float
    high: float
    low_included: bool = False

    vllm_types = frozenset({"float"})

    def describe(self, option: VllmOption) -> str:
        return f"a decimal number {'from' if self.low_included else 'above'} {self.low:g} up to {self.high:g}"

    def check(self, value: str, option: VllmOption, folders: ModelFolders) -> str:
        if not DECIMAL_NUMBER.match(value):
            raise ValueError("is not a decimal number")
        number = float(value)
        if not ((self.low <= number if self.low_included else self.low < number) and number <= self.high):
            raise ValueError("is out of range")
        return value


@dataclass(frozen=True)
class OneOf(Shape):
    """One of vLLM's own choices for the option (its argparse choices or its registry), or of `only` of them."""

    only: tuple[str, ...] = ()

    vllm_types = frozenset({"str", "int"})

    def fits(self, option: VllmOption) -> bool:
        known = {str(value) for value in option.known_values or ()}
        return super().fits(option) and (set(self.only) <= known if known else bool(self.only))

    def values(self, option: VllmOption) -> list[str]:
        return list(self.only) or [str(value) for value in option.known_values or ()]

    def describe(self, option: VllmOption) -> str:
        return "one of " + ", ".join(self.values(option))

    def check(self, value: str, option: VllmOption, folders: ModelFolders) -> str:
        if value not in self.values(option):
            raise ValueError("is not one of the choices")
        return value


@dataclass(frozen=True)
class Text(Shape):
    pattern: str
    meaning: str

    vllm_types = frozenset({"str"})

    def describe(self, option: VllmOption) -> str:
        return self.meaning

    def check(self, value: str, option: VllmOption, folders: ModelFolders) -> str:
        if not re.fullmatch(self.pattern, value):
            raise ValueError("does not have that form")
        return value


@dataclass(frozen=True)
class JsonObject(Shape):
    """A small JSON object of plain values: {"enable_thinking": false}, {"image": 2}."""

    max_bytes: int = 1024

    vllm_types = frozenset({"json"})

    def describe(self, option: VllmOption) -> str:
        return f"a JSON object of strings, numbers, booleans or nulls, at most {self.max_bytes} bytes"

    def check(self, value: str, option: VllmOption, folders: ModelFolders) -> str:
        if len(value.encode()) > self.max_bytes:
            raise ValueError("is too long")
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValueError("is not JSON") from None
        if not isinstance(parsed, dict):
            raise ValueError("is not a JSON object")
        if not all(isinstance(item, str | int | float | bool) or item is None for item in parsed.values()):
            raise ValueError("holds a list or object")
        return value


@dataclass(frozen=True)
class ModelPath(Shape):
    """A file (or folder) named relative to the deployment's model folder or the models directory.

    The server is given the resolved absolute path, so what it opens is what was checked.
    """

    folder: bool = False

    vllm_types = frozenset({"str"})

    def describe(self, option: VllmOption) -> str:
        return f"a {'folder' if self.folder else 'file'} relative to {ModelFolders.WHERE}"

    def check(self, value: str, option: VllmOption, folders: ModelFolders) -> str:
        return str(folders.resolve(value, folder=self.folder))


class AsVllmReads(Shape):
    """Any value vLLM's own parser reads for the option: for what staff allowed on one deployment."""

    vllm_types = frozenset()

    def fits(self, option: VllmOption) -> bool:
        return True

    def describe(self, option: VllmOption) -> str:
        return f"a {option.type} value"

    def check(self, value: str, option: VllmOption, folders: ModelFolders) -> str:
        known = option.choices
        if known is not None and value not in {str(choice) for choice in known}:
            raise ValueError("is not one of " + ", ".join(str(choice) for choice in known))
        if option.type in {"int", "float"}:
            try:
                int(value) if option.type == "int" else float(value)
            except ValueError:
                raise ValueError(f"is not a{'n' if option.type == 'int' else ''} {option.type}") from None
        if "\x00" in value:
            raise ValueError("contains a NUL byte")
        return value


FLAG = Flag()
VLLM_CHOICE = OneOf()

# Option (its first spelling in vllm_options.json) → the values users may give it.
ALLOWED: dict[str, Shape] = {
    # What the model computes in: precision, quantization, context, reproducibility.
    "--dtype": VLLM_CHOICE,
    "--quantization": VLLM_CHOICE,
    "--kv-cache-dtype": VLLM_CHOICE,
    "--max-model-len": Integer(1, 1 << 20, words=("auto",)),
    "--seed": Integer(0, 2**32 - 1),
    "--enforce-eager": FLAG,
    "--disable-sliding-window": FLAG,
    "--generation-config": OneOf(only=("auto", "vllm")),
    "--runner": VLLM_CHOICE,
    "--convert": VLLM_CHOICE,
    "--model-impl": VLLM_CHOICE,
    "--config-format": VLLM_CHOICE,
    "--tokenizer-mode": VLLM_CHOICE,
    "--logprobs-mode": VLLM_CHOICE,
    "--max-logprobs": Integer(0, 100),
    "--performance-mode": VLLM_CHOICE,
    # Memory and batching on the deployment's GPU.
    "--gpu-memory-utilization": Real(0, 1),
    "--block-size": Integer(1, 256),
    "--enable-prefix-caching": FLAG,
    "--prefix-caching-hash-algo": VLLM_CHOICE,
    "--max-num-seqs": Integer(1, 4096),
    "--max-num-batched-tokens": Integer(1, 1 << 20),
    "--enable-chunked-prefill": FLAG,
    "--async-scheduling": FLAG,
    "--scheduling-policy": VLLM_CHOICE,
    "--safetensors-load-strategy": VLLM_CHOICE,
    "--use-tqdm-on-load": FLAG,
    # A deployment holds one GPU: more ranks would look for GPUs it does not have.
    "--tensor-parallel-size": Integer(1, 1),
    "--pipeline-parallel-size": Integer(1, 1),
    # An adapter deployment's LoRA limits (the platform itself sets --enable-lora and --lora-modules).
    "--max-lora-rank": VLLM_CHOICE,
    "--max-loras": Integer(1, 8),
    "--lora-dtype": VLLM_CHOICE,
    # The OpenAI-compatible API: templates, tools, reasoning, what responses carry.
    "--tokenizer": ModelPath(folder=True),
    "--chat-template": ModelPath(),
    "--chat-template-content-format": VLLM_CHOICE,
    "--default-chat-template-kwargs": JsonObject(),
    "--response-role": Text(r"[a-z][a-z0-9_-]{0,31}", "a role name: up to 32 lowercase letters, digits, - or _"),
    "--enable-auto-tool-choice": FLAG,
    "--tool-call-parser": VLLM_CHOICE,
    "--reasoning-parser": VLLM_CHOICE,
    "--return-tokens-as-token-ids": FLAG,
    "--enable-prompt-tokens-details": FLAG,
    "--limit-mm-per-prompt": JsonObject(),
    "--language-model-only": FLAG,
    # Less logging (more is refused below: every user may read a deployment's log).
    "--disable-log-stats": FLAG,
    "--disable-uvicorn-access-log": FLAG,
}

# Set by the platform on every server; refused even where staff allow more, since
# supervision, health probes and the GPU ledger depend on them.
PLATFORM_OPTIONS: dict[str, str] = {
    "--host": "the platform binds servers to 127.0.0.1",
    "--port": "the platform allocates ports",
    "--uds": "the platform serves over TCP on its own port",
    "--grpc": "the platform's health probes speak HTTP",
    "--headless": "a headless server has no API to probe",
    "--root-path": "health probes use the server's own paths",
    "--ssl-keyfile": "health probes speak plain HTTP on loopback",
    "--ssl-certfile": "health probes speak plain HTTP on loopback",
    "--ssl-ca-certs": "health probes speak plain HTTP on loopback",
    "--api-key": "access control is the platform's",
    "--model": "set `model_path` or `artifact_id` instead",
    "--served-model-name": "set `served_model_name` instead",
    "--lora-modules": "deploy an adapter artifact instead",
    "--enable-lora": "deploy an adapter artifact instead",
    "--device-ids": "the platform picks the GPU (`preferred_gpu`, `gpu_type`)",
    "--config": "a config file could set the options the platform owns",
}

# Why some refused options are refused, for the refusal to say so.
REFUSED_BECAUSE: dict[str, str] = {
    "--trust-remote-code": "it runs Python code shipped with the model",
    "--worker-cls": "it imports Python code into the server",
    "--worker-extension-cls": "it imports Python code into the server",
    "--scheduler-cls": "it imports Python code into the server",
    "--logits-processors": "it imports Python code into the server",
    "--middleware": "it imports Python code into the server",
    "--reasoning-parser-plugin": "it runs a Python file in the server",
    "--tool-parser-plugin": "it runs a Python file in the server",
    "--io-processor-plugin": "it loads a plugin into the server",
    "--model-class-overrides": "it swaps the model's Python classes",
    "--log-config-file": "a logging configuration can construct any Python object",
    "--logging-config": "a logging configuration can construct any Python object",
    "--kv-transfer-config": "it loads connector code and talks to other hosts",
    "--kv-events-config": "it publishes to a network endpoint",
    "--otlp-traces-endpoint": "it sends request traces to another host",
    "--tool-server": "it connects the server to other hosts",
    "--allowed-local-media-path": "it lets clients make the server read files of this host",
    "--download-dir": "it writes downloads outside the deployment's folders",
    "--hf-token": "a token on a command line is visible to every user",
    "--trust-request-chat-template": "it lets clients send templates the server runs",
    "--enable-prompt-embeds": "it makes the server load tensors clients send",
    "--enable-log-requests": "it writes prompts to the server log, which every user may read",
    "--enable-log-outputs": "it writes outputs to the server log, which every user may read",
    "--data-parallel-size": "it starts servers on GPUs the deployment does not hold",
    "--api-server-count": "the platform supervises one API server per deployment",
}
