"""Third-party providers are discovered through the entry-point group spfmanager.providers."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from spfmanager.errors import ProviderError
from spfmanager.providers.registry import available, provider_class

PLUGIN = """
from spfmanager.providers.base import Provider

class MemoryProvider(Provider):
    name = "memory"
    def _list(self, names):
        return []
    def _apply(self, changes):
        pass
"""


def install_plugin(root: Path, name: str, target: str, module_source: str | None) -> None:
    dist = root / f"{name}_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[spfmanager.providers]\n{name} = {target}\n")
    if module_source is not None:
        (root / f"{name}_plugin.py").write_text(module_source)


def test_plugin_is_listed_and_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, "memory", "memory_plugin:MemoryProvider", PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert "memory" in available()
    cls = provider_class("memory")
    assert cls.__name__ == "MemoryProvider"
    assert cls("example.com").list_records() == {}


def test_broken_plugin_error_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, "broken", "broken_plugin:Nope", "raise ImportError('no sdk')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(ProviderError, match=r"'broken' \(broken_plugin:Nope\) failed to load"):
        provider_class("broken")


def test_unknown_provider_lists_the_available_ones() -> None:
    with pytest.raises(ProviderError, match=r"available: .*zonefile"):
        provider_class("nosuch")
