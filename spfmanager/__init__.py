"""spfmanager: sender-side SPF record manager, flattener and RFC 7208 evaluator.

The public API below is loaded on first use (PEP 562), so that ``import spfmanager`` and
the CLI's ``--help`` do not pay for the evaluator and the flattener they may never call.
``from spfmanager import flatten, evaluate, SnapshotResolver`` and ``spfmanager.flatten(...)``
work as if everything were imported here.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from spfmanager._source_layout import mount_source_providers

if TYPE_CHECKING:
    from spfmanager.dns.base import Answer, Resolver, RRType
    from spfmanager.dns.snapshot import SnapshotResolver
    from spfmanager.errors import (
        DNSTemporaryError,
        FlattenError,
        SPFManagerError,
        SPFSyntaxError,
        VerificationError,
    )
    from spfmanager.flatten import Flattener, FlattenResult, flatten
    from spfmanager.spf.evaluate import SPFResult, evaluate
    from spfmanager.spf.parser import parse_record
    from spfmanager.spf.results import Cause, Qualifier, Result

__version__ = "0.1.0"

mount_source_providers()

# public name -> the module that defines it
_API = {
    "Answer": "spfmanager.dns.base",
    "Cause": "spfmanager.spf.results",
    "DNSTemporaryError": "spfmanager.errors",
    "FlattenError": "spfmanager.errors",
    "FlattenResult": "spfmanager.flatten.flattener",
    "Flattener": "spfmanager.flatten.flattener",
    "Qualifier": "spfmanager.spf.results",
    "RRType": "spfmanager.dns.base",
    "Resolver": "spfmanager.dns.base",
    "Result": "spfmanager.spf.results",
    "SPFManagerError": "spfmanager.errors",
    "SPFResult": "spfmanager.spf.evaluate",
    "SPFSyntaxError": "spfmanager.errors",
    "SnapshotResolver": "spfmanager.dns.snapshot",
    "VerificationError": "spfmanager.errors",
    "evaluate": "spfmanager.spf.evaluate",
    "parse_record": "spfmanager.spf.parser",
}
# Subpackages an eager ``__init__`` used to import as a side effect: ``import spfmanager``
# followed by ``spfmanager.errors.X`` keeps working.
_SUBPACKAGES = frozenset({"dns", "errors", "files", "spf"})


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """This package's module type: ``flatten`` is the function, not the subpackage.

    On a subpackage's first import, the import system binds it to its parent's attribute
    (``spfmanager.flatten = <module spfmanager.flatten>``), which would replace the
    function the moment anything imports ``spfmanager.flatten.pack``. A data descriptor on
    the type wins over that binding: reading gives the function, the binding is ignored.
    The subpackage stays reachable as ``sys.modules["spfmanager.flatten"]`` and through
    ``from spfmanager.flatten import pack`` or ``import spfmanager.flatten.pack``.
    """

    @property
    def flatten(self) -> Any:
        from spfmanager.flatten.flattener import flatten  # noqa: PLC0415  (lazy: PEP 562)

        return flatten

    @flatten.setter
    def flatten(self, value: object) -> None:
        """Ignore the import system binding the subpackage (see the class docstring)."""


sys.modules[__name__].__class__ = _Package

__all__ = [
    "Answer",
    "Cause",
    "DNSTemporaryError",
    "FlattenError",
    "FlattenResult",
    "Flattener",
    "Qualifier",
    "RRType",
    "Resolver",
    "Result",
    "SPFManagerError",
    "SPFResult",
    "SPFSyntaxError",
    "SnapshotResolver",
    "VerificationError",
    "evaluate",
    "flatten",
    "parse_record",
]
