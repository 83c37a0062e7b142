"""Turning the services' refusals into messages on the form the user just sent."""

from __future__ import annotations

from django import forms

from llmplatform.errors import DomainError
from llmplatform.sentences import translate_lazy


def explain(error: DomainError) -> str:
    """The services' sentence in the reader's language, plus the files they list as missing."""
    missing = error.fields.get("missing")
    detail = translate_lazy(error.message)
    return f"{detail} ({', '.join(missing)})" if missing and not all(item in detail for item in missing) else detail


def add_service_error(form: forms.Form, error: DomainError) -> None:
    form.add_error(None, explain(error))
