"""Small presentation helpers for the console's templates."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from llmplatform.sentences import translate

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context: template.Context, url_name: str, label: str, exact: bool = False) -> str:
    """A navigation link, marked `aria-current` when the page is in its section."""
    url = reverse(url_name)
    path = context["request"].path
    current = path == url if exact else path.startswith(url)
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', url, label)
    return format_html('<a href="{}">{}</a>', url, label)


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as H:MM:SS (the way trainers print ETAs); an em dash when unknown."""
    if seconds is None:
        return "—"
    return str(timedelta(seconds=round(max(seconds, 0))))


@register.filter
def seconds_until(moment: datetime | None) -> int:
    """Whole seconds from now until `moment` (0 once it has passed)."""
    return max(round((moment - timezone.now()).total_seconds()), 0) if moment else 0


@register.filter
def percent(fraction: float | None) -> str:
    if fraction is None:
        return "—"
    return f"{fraction * 100:.0f}%"


@register.filter
def size(num_bytes: int | None) -> str:
    return "—" if num_bytes is None else filesizeformat(num_bytes)


@register.filter
def metric(value: Any) -> str:
    """A metric value short enough for a table cell: 4 significant digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4g}"


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@register.inclusion_tag("console/_status.html")
def status_badge(obj: Any) -> dict[str, str]:
    """The coloured, translated status of anything with `status` choices."""
    return {"value": obj.status, "label": obj.get_status_display()}


@register.filter
def value_kind(value: Any) -> str:
    """How a configuration value reads: "empty", "list", "mapping" or "text"."""
    if value is None or value == "" or value == [] or value == {}:
        return "empty"
    if isinstance(value, list | tuple):
        return "list"
    return "mapping" if isinstance(value, dict) else "text"


@register.filter
def sentence(text: str | None) -> str:
    """A sentence the platform stored in English (a validation reason, a run's queue, retry or stall
    reason), in the reader's language."""
    return translate(text or "")


@register.filter
def sentences(texts: Iterable[str]) -> list[str]:
    """Each of `texts` (a field's errors) as the `sentence` filter shows it."""
    return [translate(str(text)) for text in texts]
