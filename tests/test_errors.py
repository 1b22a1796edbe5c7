"""Every exception of the package is defined in spfmanager.errors and drawn in its docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

from spfmanager import errors

PACKAGES = ("spfmanager", "spfmanager.providers")
# Control flow, not errors: private, and caught inside the module that raises them.
INTERNAL = {
    "spfmanager.spf.evaluate._Abort",  # ends check_host() at any depth; evaluate() returns
    "spfmanager.spf.evaluate._Refused",  # mailauth: a name its resolver refuses (an _Abort)
    "spfmanager.daemon.notify._Failure",  # one delivery attempt; Notifier reports it
    "spfmanager.flatten.deciders._NotStatic",  # a chain classes do not cover; deciders() -> None
    "spfmanager.discover.suggest._NotManaged",  # no edit to prove: becomes a "no proof" note
}


def modules() -> list[ModuleType]:
    found = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if info.name.rsplit(".", 1)[-1] == "__main__":
                continue  # runs the CLI on import
            found.append(importlib.import_module(info.name))
    return found


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Exception classes by qualified name, each found in the module that defines it."""
    found: dict[str, type[BaseException]] = {}
    for module in modules():
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def drawn() -> dict[str, str]:
    """The docstring's tree (its literal block): each class drawn, with the one above it."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    _, _, block = (errors.__doc__ or "").partition("::\n")
    for line in block.splitlines():
        match = re.match(r"^(\s*(?:[│ ]   )*(?:[├└]── )?)([A-Za-z_]\w*)(?:\s|$)", line)
        if not match:
            assert not line.strip(), f"not a line of the tree: {line!r}"
            continue
        depth = len(match.group(1))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match.group(2)] = stack[-1][1] if stack else ""
        stack.append((depth, match.group(2)))
    return parents


def test_the_walk_sees_every_module() -> None:
    names = {m.__name__ for m in modules()}
    assert {"spfmanager.spf.evaluate", "spfmanager.publish.apply"} <= names
    assert {"spfmanager.providers.base", "spfmanager.providers.zonefile"} <= names


def test_every_exception_is_defined_in_errors() -> None:
    elsewhere = sorted(
        name
        for name, cls in defined_exceptions().items()
        if cls.__module__ != errors.__name__ and name not in INTERNAL
    )
    assert elsewhere == [], "define these in spfmanager/errors.py (and re-export them)"


def test_internal_exceptions_stay_internal() -> None:
    found = defined_exceptions()
    assert "spfmanager.spf.evaluate._Abort" in found  # the walk reaches private classes
    for name in INTERNAL & set(found):
        cls = found[name]
        assert cls.__name__.startswith("_") and not issubclass(cls, errors.SPFManagerError)


def test_the_docstring_draws_the_whole_hierarchy() -> None:
    tree = drawn()
    classes = {
        cls.__name__: cls
        for cls in defined_exceptions().values()
        if cls.__module__ == errors.__name__
    }
    assert set(tree) == set(classes)
    for name, cls in classes.items():
        parent = tree[name]
        if parent:
            assert cls.__bases__ == (classes[parent],), f"{name} is drawn under {parent}"
        else:
            assert cls is errors.SPFManagerError, f"{name} is drawn at the top"


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("spfmanager.audit", "DeadlineReached"),
        ("spfmanager.audit.deadline", "DeadlineReached"),
        ("spfmanager.publish.plan", "UnsafePlanError"),
        ("spfmanager.publish.apply", "UnsafePlanError"),
        ("spfmanager.publish.apply", "StalePlanError"),
        ("spfmanager.publish.apply", "VisibilityTimeoutError"),
        ("spfmanager.explain", "MessageError"),
        ("spfmanager.explain.message", "MessageError"),
    ],
)
def test_moved_exceptions_keep_their_old_homes(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(errors, name)
