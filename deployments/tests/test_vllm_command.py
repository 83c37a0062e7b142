"""deployments.vllm: the argv from the VLLM_COMMAND template, and extra_args checking."""

from __future__ import annotations

import shlex

import pytest
from django.core.exceptions import ImproperlyConfigured

from deployments.tests.extra_args_probes import SHAPES
from deployments.vllm import (
    BadExtraArgs,
    LoraModule,
    build_argv,
    check_extra_args,
    check_staff_allowed,
    policy_problems,
    quoted,
)
from deployments.vllm_policy import ALLOWED, ModelFolders


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


@pytest.fixture
def folders(tmp_path) -> ModelFolders:
    """A deployment's model folder inside the models directory, with a chat template."""
    model = tmp_path / "models" / "qwen"
    model.mkdir(parents=True)
    (model / "chat_template.jinja").write_text("{{ messages }}")
    return ModelFolders(own=(model,), models_dir=tmp_path / "models")


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("", []),
        ("--max-num-seqs 4", ["--max-num-seqs", "4"]),
        ("--dtype=half --enforce-eager", ["--dtype=half", "--enforce-eager"]),
        ("-tp 1 --seed 0", ["-tp", "1", "--seed", "0"]),
        ("--max_num_seqs 8 --no-enforce-eager", ["--max-num-seqs", "8", "--no-enforce-eager"]),
        ("--max-model-len 4K --max-num-batched-tokens=8k", ["--max-model-len", "4K", "--max-num-batched-tokens=8k"]),
        (
            "--default-chat-template-kwargs '{\"enable_thinking\": false}'",
            ["--default-chat-template-kwargs", '{"enable_thinking": false}'],
        ),
    ],
)
def test_it_accepts_allowed_options_with_their_values(text, argv, folders):
    assert check_extra_args(text, folders=folders) == argv


def test_it_gives_the_server_the_checked_path_of_a_file_in_the_model_folder_or_the_models_directory(folders):
    template = str(folders.own[0] / "chat_template.jinja")

    assert check_extra_args("--chat-template chat_template.jinja", folders=folders) == ["--chat-template", template]
    assert check_extra_args("--chat-template=qwen/chat_template.jinja", folders=folders) == [
        f"--chat-template={template}"
    ]
    assert check_extra_args("--tokenizer qwen", folders=folders) == ["--tokenizer", str(folders.own[0])]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("--port 1", "`--port` is set by the platform"),
        ("--host=0.0.0.0", "`--host` is set by the platform"),
        ("--served_model_name x", "`--served-model-name` is set by the platform"),
        ("--serv x", "did you mean `--served-model-name`"),
        ("--config /etc/x.yaml", "`--config` is set by the platform"),
        ("--middleware evil.module", "it imports Python code into the server"),
        ("--tool-parser-plugin /tmp/x.py", "it runs a Python file in the server"),
        ("--max-num-seqs 4 8", "'8' is not an option"),
        ("model-name", "'model-name' is not an option"),
        ("--x 'open", "No closing quotation"),
        ("--max-num-seqs", "`--max-num-seqs` needs a value: a whole number from 1 to 4096"),
        ("--enforce-eager=true", "`--enforce-eager` takes no value"),
        ("--dtype half --dtype=float16", "`--dtype` is given twice"),
        ("--enable-prefix-caching --no-enable-prefix-caching", "`--enable-prefix-caching` is given twice"),
        ("--max-num-batched-tokens 1.5K", "takes no decimals with the binary suffix K"),
        ("--fake-load-seconds 3", "`--fake-load-seconds` is not an option of vllm serve 0.34.0"),
        ("-O3", "`-O3` is not an option"),
        ("--compilation-config.mode 3", "`--compilation-config.mode` is not an option"),
    ],
)
def test_it_refuses_what_is_not_allowed_or_cannot_be_read(text, reason, folders):
    with pytest.raises(BadExtraArgs) as refused:
        check_extra_args(text, folders=folders)

    assert reason in str(refused.value)


def test_it_names_what_is_allowed_when_it_refuses_an_option(folders):
    with pytest.raises(BadExtraArgs) as refused:
        check_extra_args("--trust-remote-code", folders=folders)

    assert "`--trust-remote-code` is not among the vLLM options users may pass" in str(refused.value)
    assert "--max-num-seqs" in str(refused.value) and "--max-num-seqs" in refused.value.fields["allowed"]


@pytest.mark.parametrize(
    "value",
    ["/etc/passwd", "../../etc/passwd", "qwen/../../../etc/passwd", "escape.jinja", "qwen", "missing.jinja", "a\x01b"],
)
def test_it_confines_a_path_to_the_model_folder_and_the_models_directory(value, folders):
    (folders.own[0] / "escape.jinja").symlink_to("/etc/passwd")

    with pytest.raises(BadExtraArgs) as refused:
        check_extra_args(shlex.join(["--chat-template", value]), folders=folders)

    assert f"`--chat-template` {value!r}" in str(refused.value)


def test_it_takes_any_value_vllm_reads_for_an_option_staff_allowed(folders):
    allowed = check_staff_allowed(["--trust_remote_code", "--max-num-seqs", "--cudagraph-capture-sizes"])

    argv = check_extra_args(
        "--trust-remote-code --max-num-seqs 100000 --cudagraph-capture-sizes 1 2 4",
        folders=folders,
        staff_allowed=allowed,
    )

    assert allowed == ["--trust-remote-code", "--max-num-seqs", "--cudagraph-capture-sizes"]
    assert argv == ["--trust-remote-code", "--max-num-seqs", "100000", "--cudagraph-capture-sizes", "1", "2", "4"]
    with pytest.raises(BadExtraArgs, match="is not an int"):
        check_extra_args("--max-num-seqs lots", folders=folders, staff_allowed=allowed)


@pytest.mark.parametrize(
    ("name", "reason"), [("--port", "is set by the platform"), ("--no-such-option", "is not an option")]
)
def test_it_refuses_to_let_staff_allow_what_the_platform_sets_or_vllm_lacks(name, reason):
    with pytest.raises(BadExtraArgs, match=reason):
        check_staff_allowed([name])


def test_it_finds_the_policy_in_line_with_the_vllm_options_it_was_written_for():
    assert policy_problems() == []


def test_it_has_a_probe_of_each_allowed_option():
    assert set(SHAPES) == set(ALLOWED)
