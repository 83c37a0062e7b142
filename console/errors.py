"""Turning the services' refusals into messages on the form the user just sent."""

from __future__ import annotations

from django import forms
from rest_framework.exceptions import APIException


def explain(error: APIException) -> str:
    """The services' sentence, plus the files they list as missing."""
    missing = getattr(error, "fields", {}).get("missing")
    detail = str(error.detail)
    return f"{detail} ({', '.join(missing)})" if missing and not all(item in detail for item in missing) else detail


def add_service_error(form: forms.Form, error: APIException) -> None:
    form.add_error(None, explain(error))
