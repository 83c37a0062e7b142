"""deployments.vllm: the argv from the VLLM_COMMAND template, and extra_args checking."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from deployments.vllm import BadExtraArgs, LoraModule, build_argv, parse_extra_args, quoted


def test_it_fills_the_default_template_with_whole_arguments():
    argv = build_argv(
        model_path="/models/a b; rm -rf /",
        port=8234,
        served_model_name="qwen",
        gpu_id=0,
        template="vllm serve {model_path} --host 127.0.0.1 --port {port} --served-model-name {name}",
    )

    assert argv == [
        "vllm", "serve", "/models/a b; rm -rf /",
        "--host", "127.0.0.1", "--port", "8234", "--served-model-name", "qwen",
    ]  # fmt: skip
    assert quoted(argv) == "vllm serve '/models/a b; rm -rf /' --host 127.0.0.1 --port 8234 --served-model-name qwen"


def test_it_keeps_braces_in_values_literal_and_appends_lora_then_extra_args():
    argv = build_argv(
        model_path="/m/{port}",
        port=1,
        served_model_name="n",
        gpu_id=0,
        extra_args=["--dtype", "half"],
        lora=LoraModule("bot", "/a/adapter"),
        template="vllm serve {model_path} --port={port}",
    )

    assert argv == [
        "vllm",
        "serve",
        "/m/{port}",
        "--port=1",
        "--enable-lora",
        "--lora-modules",
        "bot=/a/adapter",
        "--dtype",
        "half",
    ]


@pytest.mark.parametrize("template", ["", "vllm serve {model}", "vllm serve {model_path"])
def test_it_names_a_broken_template(template):
    with pytest.raises(ImproperlyConfigured, match="VLLM_COMMAND"):
        build_argv(model_path="m", port=1, served_model_name="n", gpu_id=0, template=template)


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("", []),
        ("--max-num-seqs 4", ["--max-num-seqs", "4"]),
        ("--dtype=half --enforce-eager", ["--dtype=half", "--enforce-eager"]),
        ("-tp 1 --seed -1", ["-tp", "1", "--seed", "-1"]),
        ("--chat-template '{{ messages }}'", ["--chat-template", "{{ messages }}"]),
        ("--hf-overrides '{\"a\": 1}'", ["--hf-overrides", '{"a": 1}']),
    ],
)
def test_it_accepts_options_with_their_values(text, argv):
    assert parse_extra_args(text) == argv


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("--port 1", "`--port` is set by the platform"),
        ("--host=0.0.0.0", "`--host` is set by the platform"),
        ("--served_model_name x", "`--served-model-name` is set by the platform"),
        ("--serv x", "abbreviates `--served-model-name`"),
        ("--config /etc/x.yaml", "`--config`"),
        ("--middleware evil.module", "arbitrary code"),
        ("--tool-parser-plugin /tmp/x.py", "arbitrary code"),
        ("--max-num-seqs 4 8", "'8' is not an option"),
        ("model-name", "'model-name' is not an option"),
        ("--x 'open", "No closing quotation"),
    ],
)
def test_it_refuses_what_the_platform_owns_or_cannot_read(text, reason):
    with pytest.raises(BadExtraArgs) as refused:
        parse_extra_args(text)

    assert reason in str(refused.value)
