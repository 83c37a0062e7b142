"""Turning the services' refusals into messages on the form the user just sent."""

from __future__ import annotations

from django import forms

from llmplatform.errors import DomainError


def explain(error: DomainError) -> str:
    """The services' sentence, plus the files they list as missing."""
    missing = error.fields.get("missing")
    detail = error.detail
    return f"{detail} ({', '.join(missing)})" if missing and not all(item in detail for item in missing) else detail


def add_service_error(form: forms.Form, error: DomainError) -> None:
    form.add_error(None, explain(error))
