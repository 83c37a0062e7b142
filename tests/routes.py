"""Every route the URL resolver knows, as a concrete path a client can request.

Converters and regex groups are filled with dummy values (a UUID where the
pattern takes one, else `1`, `x` or `a/b`), so a route added by any app is
covered without anyone listing it here. Values a test prefers (malformed ids)
come first wherever the pattern takes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

from llmplatform.api import is_api_path

DUMMY_VALUES = ["00000000-0000-4000-8000-000000000000", "1", "x", "a/b"]
# Open to anonymous callers on purpose (probes and the API description).
PUBLIC_PATHS = {"/healthz", "/_internal/health", "/openapi.json"}


@dataclass(frozen=True)
class Route:
    path: str  # a concrete path that resolves to this route
    pattern: str  # the route as written, e.g. "projects/<str:project_reference>"
    name: str | None
    view: Callable

    def resolves_to_itself(self) -> bool:
        return resolve(self.path).func is self.view


def dummy_for(regex: str, preferred: Sequence[str] = ()) -> str:
    # A plain alternation (admin's `auth|authtoken|...`) offers its own values.
    for value in [*preferred, *DUMMY_VALUES, *regex.split("|")]:
        if re.fullmatch(regex, value):
            return value
    raise AssertionError(f"no dummy value matches the URL parameter regex {regex!r}; add one to DUMMY_VALUES")


def fill_route(pattern: RoutePattern, preferred: Sequence[str] = ()) -> str:
    def replace(match: re.Match) -> str:
        return dummy_for(pattern.converters[match["name"]].regex, preferred)

    return re.sub(r"<(?:[^>:]+:)?(?P<name>[^>]+)>", replace, str(pattern))


def group_end(regex: str, start: int) -> int:
    """Index just past the parenthesised group opening at `start`."""
    depth = 0
    index = start
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            index += 2
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        index += 1
        if depth == 0:
            return index
    raise AssertionError(f"unbalanced parentheses in URL regex {regex!r}")


def fill_regex(pattern: RegexPattern, preferred: Sequence[str] = ()) -> str:
    regex = str(pattern).removeprefix("^").removesuffix("$").removesuffix("\\Z")
    parts: list[str] = []
    index = 0
    while index < len(regex):
        if regex.startswith("(?P<", index):
            end = group_end(regex, index)
            inner = regex[regex.index(">", index) + 1 : end - 1]
            parts.append(dummy_for(inner, preferred))
            index = end
        elif regex[index] == "\\":
            parts.append(regex[index + 1])
            index += 2
        elif regex[index] == "?":  # an optional character (e.g. a trailing "/?"): leave it in
            index += 1
        else:
            parts.append(regex[index])
            index += 1
    return "".join(parts)


def fill(pattern: RoutePattern | RegexPattern, preferred: Sequence[str] = ()) -> str:
    return fill_route(pattern, preferred) if isinstance(pattern, RoutePattern) else fill_regex(pattern, preferred)


def walk(patterns: list, prefix: str = "", pattern_prefix: str = "", preferred: Sequence[str] = ()) -> list[Route]:
    routes: list[Route] = []
    for entry in patterns:
        path = prefix + fill(entry.pattern, preferred)
        written = pattern_prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes += walk(entry.url_patterns, path, written, preferred)
        elif isinstance(entry, URLPattern):
            routes.append(Route(path="/" + path, pattern=written, name=entry.name, view=entry.callback))
    return routes


def all_routes(preferred: Sequence[str] = ()) -> list[Route]:
    return walk(get_resolver().url_patterns, preferred=preferred)


def api_routes(preferred: Sequence[str] = ()) -> list[Route]:
    """Routes on API paths (not the console, admin, docs or static files)."""
    return [route for route in all_routes(preferred) if is_api_path(route.path)]


def protected_api_routes(preferred: Sequence[str] = ()) -> list[Route]:
    return [route for route in api_routes(preferred) if route.path not in PUBLIC_PATHS]
