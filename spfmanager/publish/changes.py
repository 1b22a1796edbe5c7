"""The change model: TXT record sets and the changes that create, update or delete them.

Immutable values, as octoDNS keeps ``record/change.py`` beside its records: a plan is a list
of these, adapters carry them out, ``.data`` is their JSON form and :func:`change_from_data`
reads it back. :func:`sort_key` orders changes stably (creates, then updates, then deletes,
each by name).

Imports nothing from spfmanager: adapters depend on it alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class TxtRecordSet:
    """All TXT values at one name. ``name`` is a lower-case FQDN without trailing dot."""

    name: str
    values: tuple[str, ...]
    ttl: int = 300

    @property
    def data(self) -> dict[str, Any]:
        return {"name": self.name, "ttl": self.ttl, "values": list(self.values)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> TxtRecordSet:
        return cls(str(data["name"]), tuple(str(v) for v in data["values"]), int(data["ttl"]))


@dataclass(frozen=True, slots=True)
class Create:
    new: TxtRecordSet
    action: ClassVar[str] = "create"
    order: ClassVar[int] = 0

    @property
    def name(self) -> str:
        return self.new.name

    @property
    def data(self) -> dict[str, Any]:
        return {"action": self.action, "name": self.name, "old": None, "new": self.new.data}


@dataclass(frozen=True, slots=True)
class Update:
    old: TxtRecordSet
    new: TxtRecordSet
    action: ClassVar[str] = "update"
    order: ClassVar[int] = 1

    @property
    def name(self) -> str:
        return self.new.name

    @property
    def data(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "name": self.name,
            "old": self.old.data,
            "new": self.new.data,
        }


@dataclass(frozen=True, slots=True)
class Delete:
    old: TxtRecordSet
    action: ClassVar[str] = "delete"
    order: ClassVar[int] = 2

    @property
    def name(self) -> str:
        return self.old.name

    @property
    def data(self) -> dict[str, Any]:
        return {"action": self.action, "name": self.name, "old": self.old.data, "new": None}


Change = Create | Update | Delete


def sort_key(change: Change) -> tuple[int, str]:
    """Creates, then updates, then deletes; by name within each."""
    return (change.order, change.name)


def change_from_data(data: Mapping[str, Any]) -> Change:
    """The change whose :attr:`data` is ``data`` (raises KeyError/TypeError/ValueError)."""
    action = data["action"]
    if action == "create":
        return Create(TxtRecordSet.from_data(data["new"]))
    if action == "update":
        return Update(TxtRecordSet.from_data(data["old"]), TxtRecordSet.from_data(data["new"]))
    if action == "delete":
        return Delete(TxtRecordSet.from_data(data["old"]))
    raise ValueError(f"unknown change action {action!r}")
