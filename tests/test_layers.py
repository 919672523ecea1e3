"""The package's layers import downwards only, so the pure core never reaches I/O.

content (file -> Post) < site (Posts -> Site) < render (Site -> bytes) are pure; pipeline, web and deploy
are the edges, and the pipeline (the refresh) reaches neither HTTP nor the deployment. The shared
vocabulary at the top (model, snapshot, urls) and small helpers beside it (atomicfile, lru) import no layer at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "feedsvc"
EDGES = ("pipeline", "web", "deploy")
# For each layer, the layers it must never import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "content": ("site", "render", *EDGES),
    "site": ("render", *EDGES),
    "render": EDGES,
    "pipeline": ("web", "deploy"),
    "model": ("content", "site", "render", *EDGES),
    "urls": ("content", "site", "render", *EDGES),
    "snapshot": ("content", "site", "render", *EDGES),
    "atomicfile": ("content", "site", "render", *EDGES),
    "lru": ("content", "site", "render", *EDGES),
}


def imported_modules(source: str, module: str) -> set[str]:
    """Every `feedsvc.…` module a source file imports, anywhere in it (function-level imports too)."""
    found: set[str] = set()
    package_parts = module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package_parts[: len(package_parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "feedsvc" or name.startswith("feedsvc.")}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(source: str, module: str) -> list[str]:
    forbidden = FORBIDDEN.get(layer_of(module), ())
    return sorted(name for name in imported_modules(source, module) if layer_of(name) in forbidden)


def package_modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1] + ["__init__"]
        modules.append((".".join(parts), path))
    return modules


@pytest.mark.parametrize(("module", "path"), package_modules(), ids=lambda value: str(value))
def test_no_module_imports_a_layer_above_it(module: str, path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), module) == []


def test_every_layer_folder_exists() -> None:
    for layer in ("content", "site", "render", "pipeline", "web", "deploy"):
        assert (PACKAGE / layer / "__init__.py").is_file(), layer


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from feedsvc.pipeline.refresh import Refresher", "feedsvc.render.feeds", ["feedsvc.pipeline.refresh"]),
        ("def f():\n    import feedsvc.web.app\n", "feedsvc.content.parsing", ["feedsvc.web.app"]),
        ("from ...deploy import service", "feedsvc.content.dialects.hugo", ["feedsvc.deploy.service"]),
        ("from ..render.feeds import x", "feedsvc.site.indexing", ["feedsvc.render.feeds"]),
        ("from feedsvc.content import parsing", "feedsvc.site.indexing", []),
        ("from feedsvc.web.app import create_app", "feedsvc.deploy.service", []),
        ("from feedsvc.deploy.statefolder import x", "feedsvc.pipeline.postcache", ["feedsvc.deploy.statefolder"]),
        ("from feedsvc.web import app", "feedsvc.pipeline.triggers", ["feedsvc.web.app"]),
        ("from feedsvc.render.feeds import x", "feedsvc.pipeline.refresh", []),
    ],
)
def test_the_check_sees_upward_imports_in_every_form(source: str, module: str, expected: list[str]) -> None:
    found = violations(source, module)
    assert set(expected) <= set(found)
    assert bool(found) == bool(expected)
