"""The packages import only downward: the pipeline's layering, as each ``__init__`` states."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
# package -> the spfmanager packages (or modules) it may import besides itself
ALLOWED: dict[str, set[str]] = {
    "files": {"errors"},
    "dns": {"errors", "files"},
    "spf": {"errors", "dns"},
    "flatten": {"errors", "dns", "spf"},
    "catalog": {"errors", "spf"},
    "config": {"errors", "files", "spf", "catalog", "providers.registry"},
    "compile": {"errors", "files", "spf", "catalog", "config"},
    "audit": {"errors", "dns", "spf"},
    "explain": {"errors", "dns", "spf", "catalog", "audit"},
    "publish": {
        "errors",
        "files",
        "dns",
        "spf",
        "flatten",
        "catalog",
        "config",
        "compile",
        "providers",
        "macro",
    },
    "providers": {"errors", "files", "dns", "publish.changes", "providers"},
    "discover": {
        "errors",
        "files",
        "dns",
        "spf",
        "flatten",
        "catalog",
        "config",
        "compile",
        "explain.config_edit",
        "publish.build",
    },
    "macro": {"errors", "files", "dns", "spf", "flatten", "compile"},
    "daemon": {
        "errors",
        "files",
        "dns",
        "spf",
        "flatten",
        "catalog",
        "config",
        "compile",
        "publish",
    },
}


def _package(path: Path) -> str:
    if path.parts[0] == "providers":
        return "providers"
    parts = path.relative_to("spfmanager").with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> set[str]:
    """spfmanager modules imported by ``path`` (absolute names, without the prefix)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith("spfmanager."):  # the bare package: __version__
                found.add(name.removeprefix("spfmanager").removeprefix("."))
    return found


def _sources() -> list[Path]:
    files = sorted((ROOT / "spfmanager").rglob("*.py")) + sorted((ROOT / "providers").glob("*.py"))
    return [f.relative_to(ROOT) for f in files]


@pytest.mark.parametrize("path", [p for p in _sources() if _package(p) in ALLOWED], ids=str)
def test_imports_go_downward_only(path: Path) -> None:
    package = _package(path)
    allowed = ALLOWED[package] | {package}
    wrong = sorted(
        name
        for name in _imports(path)
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    )
    assert not wrong, f"{path} ({package}/) imports {wrong}; it may import {sorted(allowed)}"


def test_the_top_level_holds_only_entry_modules() -> None:
    top = sorted(p.name for p in (ROOT / "spfmanager").glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "_source_layout.py", "compile.py", "errors.py"]


def test_every_package_says_what_it_is_and_may_import() -> None:
    inits = [*sorted((ROOT / "spfmanager").glob("*/__init__.py")), ROOT / "providers/__init__.py"]
    for init in inits:
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert doc, f"{init.relative_to(ROOT)} has no docstring"
        assert "import" in doc, f"{init.relative_to(ROOT)} does not say what it may import"
