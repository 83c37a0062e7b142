"""The platform's apps depend on each other in one direction only: no import cycle.

Every `import` statement of an app's code counts (its tests excepted), wherever it
stands: at module level, inside a function, under `if TYPE_CHECKING:`. So an import
moved into a function to dodge a cycle is still seen. `llmplatform` counts as an app:
everything builds on it, so it may import none of the others.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from django.apps import apps
from django.conf import settings

Graph = dict[str, dict[str, list[str]]]  # app -> app it imports -> where ("runs/views.py:15")


def platform_apps() -> dict[str, Path]:
    """The repository's own apps (not Django's or third parties'), by top-level package name."""
    base = Path(settings.BASE_DIR)
    found = {"llmplatform": base / "llmplatform"}
    for config in apps.get_app_configs():
        path = Path(config.path)
        if path.is_relative_to(base) and not path.is_relative_to(base / ".venv"):
            found[config.name.split(".")[0]] = path
    return found


# Run in a fresh interpreter: CPython 3.11 before 3.11.8 can fail `ast.parse` with "AST
# constructor recursion depth mismatch" while another thread of the same process builds an
# AST (a live server thread of a browser test formatting a traceback, say).
LIST_IMPORTS = """
import ast, json, sys

found = {}
for name in sys.argv[1:]:
    tree = ast.parse(open(name, encoding="utf-8").read())
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append((node.module, node.lineno))
    found[name] = modules
print(json.dumps(found))
"""


def imported_modules(sources: list[Path]) -> dict[Path, list[tuple[str, int]]]:
    """The modules each source imports (absolute imports, anywhere in it), with the line."""
    listed = subprocess.run(
        [sys.executable, "-c", LIST_IMPORTS, *map(str, sources)], capture_output=True, text=True, check=True
    )
    return {Path(name): [(module, line) for module, line in found] for name, found in json.loads(listed.stdout).items()}


def import_graph(packages: dict[str, Path], base: Path = settings.BASE_DIR) -> Graph:
    graph: Graph = {name: defaultdict(list) for name in packages}
    sources = {
        source: name
        for name, folder in packages.items()
        for source in sorted(folder.rglob("*.py"))
        if "tests" not in source.relative_to(folder).parts
    }
    for source, modules in imported_modules(list(sources)).items():
        name = sources[source]
        for module, line in modules:
            target = module.split(".")[0]
            if target in packages and target != name:
                graph[name][target].append(f"{source.relative_to(base)}:{line}")
    return graph


def find_cycle(graph: Graph) -> list[str]:
    """One cycle of apps, [a, b, ..., a], or [] when the graph has none."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        for neighbour in sorted(graph[node]):
            if cycle := visit(neighbour, [*path, node]):
                return cycle
        done.add(node)
        return []

    for start in sorted(graph):
        if cycle := visit(start, []):
            return cycle
    return []


def test_it_finds_every_app_of_the_platform():
    assert {"llmplatform", "projects", "runs", "deployments", "datasets", "deid", "audit", "gpus", "console"} <= set(
        platform_apps()
    )


def test_it_has_no_import_cycle_between_apps():
    graph = import_graph(platform_apps())
    cycle = find_cycle(graph)
    sites = {f"{a} -> {b}": graph[a][b] for a, b in itertools.pairwise(cycle)}
    assert cycle == [], f"import cycle {' -> '.join(cycle)}, at {sites}"


def test_it_builds_everything_on_llmplatform_and_runs_on_projects():
    graph = import_graph(platform_apps())
    assert dict(graph["llmplatform"]) == {}
    assert "projects" in graph["runs"] and "runs" not in graph["projects"]


def test_it_sees_an_import_inside_a_function(tmp_path):
    for app, code in (("blue", "from green.models import Leaf\n"), ("green", "def f():\n    import blue.views\n")):
        (tmp_path / app).mkdir()
        (tmp_path / app / "models.py").write_text(code)
    graph = import_graph({"blue": tmp_path / "blue", "green": tmp_path / "green"}, base=tmp_path)

    assert find_cycle(graph) == ["blue", "green", "blue"]
    assert graph["green"]["blue"] == ["green/models.py:2"]
