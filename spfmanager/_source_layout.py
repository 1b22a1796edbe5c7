"""Make ``spfmanager.providers`` importable when running from a source checkout.

Installed (wheel or strict editable), ``spfmanager.providers`` sits inside the package. In a
plain checkout on ``sys.path`` (``python -m pytest`` from the repository root) the adapters
live in the top-level ``providers/`` directory, so register that directory under its
installed name, never as a top-level ``providers`` module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "spfmanager.providers"


def mount_source_providers() -> None:
    if _NAME in sys.modules or importlib.util.find_spec(_NAME) is not None:
        return
    source = Path(__file__).resolve().parent.parent / "providers"
    init = source / "__init__.py"
    if not init.is_file():
        return
    spec = importlib.util.spec_from_file_location(
        _NAME, init, submodule_search_locations=[str(source)]
    )
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
