"""The platform's apps depend on each other in one direction only: no import cycle.

Every `import` statement of an app's code counts (its tests excepted), wherever it
stands: at module level, inside a function, under `if TYPE_CHECKING:`. So an import
moved into a function to dodge a cycle is still seen. `llmplatform` counts as an app:
everything builds on it, so it may import none of the others.
"""

from __future__ import annotations

import ast
import itertools
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


def imported_modules(tree: ast.AST) -> list[tuple[str, int]]:
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append((node.module, node.lineno))
    return modules


def import_graph(packages: dict[str, Path], base: Path = settings.BASE_DIR) -> Graph:
    graph: Graph = {name: defaultdict(list) for name in packages}
    for name, folder in packages.items():
        for source in sorted(folder.rglob("*.py")):
            if "tests" in source.relative_to(folder).parts:
                continue
            for module, line in imported_modules(ast.parse(source.read_text(encoding="utf-8"))):
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
