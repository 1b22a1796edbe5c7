"""The change model: record sets and the changes that create, update or delete them.

A record set is every value of one type at one owner name: TXT for SPF records (the
default), NS and A/AAAA for a macro zone's delegation and glue (docs/macro.md).

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

#: The record types a change may carry: SPF's TXT, and a delegation's NS and glue.
RECORD_TYPES = ("TXT", "NS", "A", "AAAA")


@dataclass(frozen=True, slots=True)
class RecordSet:
    """All values of type ``rtype`` at one name. ``name`` is a lower-case FQDN without
    trailing dot. Values are the logical TXT texts (character-strings joined), NS targets
    as lower-case FQDNs without trailing dot, and A/AAAA addresses in their short form."""

    name: str
    values: tuple[str, ...]
    ttl: int = 300
    rtype: str = "TXT"

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "ttl": self.ttl, "values": list(self.values)}
        if self.rtype != "TXT":  # a TXT set's form is unchanged: saved plans stay readable
            data["type"] = self.rtype
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RecordSet:
        rtype = str(data.get("type", "TXT"))
        if rtype not in RECORD_TYPES:
            raise ValueError(f"unknown record type {rtype!r}")
        values = tuple(str(v) for v in data["values"])
        return cls(str(data["name"]), values, int(data["ttl"]), rtype)

    @property
    def key(self) -> tuple[str, str]:
        """(name, type): what identifies the set in a zone."""
        return (self.name, self.rtype)


@dataclass(frozen=True, slots=True)
class Create:
    new: RecordSet
    action: ClassVar[str] = "create"
    order: ClassVar[int] = 0

    @property
    def name(self) -> str:
        return self.new.name

    @property
    def rtype(self) -> str:
        return self.new.rtype

    @property
    def data(self) -> dict[str, Any]:
        return {"action": self.action, "name": self.name, "old": None, "new": self.new.data}


@dataclass(frozen=True, slots=True)
class Update:
    old: RecordSet
    new: RecordSet
    action: ClassVar[str] = "update"
    order: ClassVar[int] = 1

    @property
    def name(self) -> str:
        return self.new.name

    @property
    def rtype(self) -> str:
        return self.new.rtype

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
    old: RecordSet
    action: ClassVar[str] = "delete"
    order: ClassVar[int] = 2

    @property
    def name(self) -> str:
        return self.old.name

    @property
    def rtype(self) -> str:
        return self.old.rtype

    @property
    def data(self) -> dict[str, Any]:
        return {"action": self.action, "name": self.name, "old": self.old.data, "new": None}


Change = Create | Update | Delete


def sort_key(change: Change) -> tuple[int, str, str]:
    """Creates, then updates, then deletes; by name (then type) within each."""
    return (change.order, change.name, change.rtype)


def change_from_data(data: Mapping[str, Any]) -> Change:
    """The change whose :attr:`data` is ``data`` (raises KeyError/TypeError/ValueError)."""
    action = data["action"]
    if action == "create":
        return Create(RecordSet.from_data(data["new"]))
    if action == "update":
        return Update(RecordSet.from_data(data["old"]), RecordSet.from_data(data["new"]))
    if action == "delete":
        return Delete(RecordSet.from_data(data["old"]))
    raise ValueError(f"unknown change action {action!r}")
