"""The training command template: `TRAINING_COMMAND`, or a project's `executor_options.command`.

A template is an argv, never a shell line: it is split with shlex once and
placeholders (`{training_yaml}`...) are replaced inside single arguments, so a value
with spaces or quotes stays one argument and no shell ever sees user text (see
runs.launch). A template is checked when it is set, not when a run first uses it:
its quotes must balance, it may name only the known placeholders, and it must not
hold shell syntax outside quotes (`|`, `>`, `;`, `$VAR`...), which would reach the
program as plain arguments; a command that needs a shell says so (`sh -c '...'`).
"""

from __future__ import annotations

import re
import shlex

PLACEHOLDERS = ("training_yaml", "run_id", "run_dir", "output_dir", "dataset")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# What a shell would act on outside quotes (inside double quotes, `$` and backquotes still).
SHELL_SYNTAX = frozenset("|&;<>()$`")
EXPANDED_IN_DOUBLE_QUOTES = frozenset("$`")


def unquoted_shell_syntax(template: str) -> list[str]:
    """The characters of SHELL_SYNTAX that a POSIX shell would act on in `template`, in order of appearance."""
    found: list[str] = []
    quote = ""
    escaped = False
    for char in template:
        if escaped:
            escaped = False
        elif quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            escaped = True
        elif quote == '"':
            if char == '"':
                quote = ""
            elif char in EXPANDED_IN_DOUBLE_QUOTES and char not in found:
                found.append(char)
        elif char in "'\"":
            quote = char
        elif char in SHELL_SYNTAX and char not in found:
            found.append(char)
    return found


def check_command_template(template: str) -> list[str]:
    """The template's tokens; ValueError naming the problem when it cannot be used."""
    try:
        tokens = shlex.split(template)
    except ValueError as exc:  # shlex's own words: "No closing quotation", "No escaped character"
        raise ValueError(f"its shell quoting does not balance ({exc})") from None
    if not tokens:
        raise ValueError("the training command template is empty")
    unknown = sorted({name for token in tokens for name in PLACEHOLDER.findall(token)} - set(PLACEHOLDERS))
    if unknown:
        raise ValueError(f"unknown placeholders {unknown}; known: {list(PLACEHOLDERS)}")
    syntax = unquoted_shell_syntax(template)
    if syntax:
        raise ValueError(
            f"it is run without a shell, so {' '.join(syntax)} would reach the program as plain text; "
            "quote them, or run a script or `sh -c '...'`"
        )
    return tokens
