"""A test chat completion sent to a running deployment's OpenAI-compatible endpoint on this host.

Only the server of the deployment is asked (127.0.0.1 and its port), with a bounded prompt
and answer, and a timeout; the answer comes back with how long the server took.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from deployments.models import Deployment, DeploymentStatus
from llmplatform.errors import ConflictingState, InvalidInput

MAX_PROMPT_CHARS = 4000
MAX_ANSWER_TOKENS = 512
MAX_RESPONSE_BYTES = 1_048_576
TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    latency_ms: int
    completion_tokens: int | None


def _post(port: int, body: dict, timeout: float) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode()
        connection.request("POST", "/v1/chat/completions", body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read(MAX_RESPONSE_BYTES)
    finally:
        connection.close()


def _answer_text(body: bytes) -> tuple[str, int | None]:
    document = json.loads(body)
    text = document["choices"][0]["message"]["content"]
    if not isinstance(text, str):
        raise TypeError("content is no string")
    tokens = (document.get("usage") or {}).get("completion_tokens")
    return text, tokens if isinstance(tokens, int) else None


def _server_problem(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return body[:300].decode("utf-8", errors="replace")


def send_test_chat(
    deployment: Deployment, *, prompt: str, max_tokens: int = 128, timeout: float = TIMEOUT_SECONDS
) -> ChatAnswer:
    """Ask the deployment's model one question; a DomainError says why there is no answer."""
    if not prompt.strip():
        raise InvalidInput(_("Write a message to send."), field="prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInput(
            format_lazy(_("The message is longer than {limit} characters."), limit=MAX_PROMPT_CHARS), field="prompt"
        )
    if not 1 <= max_tokens <= MAX_ANSWER_TOKENS:
        raise InvalidInput(
            format_lazy(_("max_tokens must be between 1 and {limit}."), limit=MAX_ANSWER_TOKENS), field="max_tokens"
        )
    if deployment.status != DeploymentStatus.RUNNING or deployment.port is None:
        raise ConflictingState(
            format_lazy(
                _("The deployment is {status}, not running: nothing answers."), status=deployment.get_status_display()
            )
        )
    if deployment.host != settings.HOSTNAME:
        raise ConflictingState(
            format_lazy(_("The deployment runs on {host}; test it from there."), host=deployment.host)
        )
    body = {
        "model": deployment.served_model_name,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
    }
    started = time.monotonic()
    try:
        status, answer = _post(deployment.port, body, timeout)
    except TimeoutError:
        raise ConflictingState(
            format_lazy(_("The server did not answer within {timeout:g} s."), timeout=timeout)
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise ConflictingState(format_lazy(_("The server could not be reached: {exc}."), exc=exc)) from None
    latency_ms = round((time.monotonic() - started) * 1000)
    if status != 200:
        raise ConflictingState(
            format_lazy(
                _("The server answered {status}: {server_problem}"),
                status=status,
                server_problem=_server_problem(answer),
            )
        )
    try:
        text, tokens = _answer_text(answer)
    except (ValueError, KeyError, IndexError, TypeError):
        raise ConflictingState(_("The server's answer is no chat completion.")) from None
    return ChatAnswer(text=text, latency_ms=latency_ms, completion_tokens=tokens)
