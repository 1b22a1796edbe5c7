"""Read YAML keeping the line of every node, so errors can name ``FILE:LINE``.

PyYAML's ``safe_load`` forgets positions and silently keeps the last of duplicate keys;
composing the node tree ourselves keeps both the lines and the duplicates.

Config and snapshot files are input we do not control, so reading one is bounded: the
composer refuses nesting deeper than :data:`MAX_DEPTH` and aliases that would copy more
than :data:`MAX_ALIAS_NODES` nodes ("billion laughs"), before anything is built. Every
way a file can be unreadable (not UTF-8, control characters, keys that are lists, values
PyYAML cannot construct) becomes a :class:`ConfigError` naming file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from spfmanager.errors import ConfigError

Loc = tuple[str | int, ...]

# Configs and snapshots need fewer than ten levels. The bound also keeps PyYAML's recursive
# composer (two frames a level) and our builder far from Python's recursion limit.
MAX_DEPTH = 64
# Nodes that aliases may copy in total. Sharing a service list across a few thousand
# domains stays well under it; nine nested anchors of nine aliases (387 million) do not.
MAX_ALIAS_NODES = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SHOWN_PARTS = 8  # of a location that is too deep to print whole
_UNREADABLE = object()  # a scalar PyYAML could not construct (already reported)


def format_loc(loc: Loc) -> str:
    """``('domains', 'example.com', 'ip4', 0)`` -> ``domains.example.com.ip4[0]``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


@dataclass(frozen=True)
class Document:
    """Plain data from a YAML file, with the line (1-based) of each location."""

    name: str
    data: Any
    lines: Mapping[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int:
        """The line of ``loc``, or of its closest enclosing location."""
        for end in range(len(loc), -1, -1):
            if (found := self.lines.get(loc[:end])) is not None:
                return found
        return 1

    def where(self, loc: Loc) -> str:
        return f"{self.name}:{self.line(loc)}"


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer bounds nesting depth and alias expansion.

    The composer is where aliases are resolved (an alias event yields the anchored node
    itself), so it is the one place that sees both the size of what an alias names and
    the position of the alias; refusing there costs microseconds, before any copy exists.
    """

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self._source = source
        self._path: list[str | int] = []
        self._sizes: dict[int, int] = {}  # id(node) -> node count with aliases expanded
        self._copied = 0  # nodes that aliases copy so far

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self._next_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)  # the anchored node, or ComposerError
            assert node is not None
            size = self._sizes.get(id(node))
            where = _part(parent, index)
            if size is None:  # its anchor is still open: the alias is inside what it names
                self._refuse(event, where, f"alias *{event.anchor} is inside the node it names")
            self._copied += size
            if self._copied > MAX_ALIAS_NODES:
                self._refuse(
                    event,
                    where,
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes at alias "
                    f"*{event.anchor}; write the values out instead",
                )
            return node
        part = _part(parent, index)
        if part is not None:
            self._path.append(part)
        if len(self._path) >= MAX_DEPTH:  # this node would be at level MAX_DEPTH + 1
            self._refuse(event, None, f"nested deeper than {MAX_DEPTH} levels")
        node = super().compose_node(parent, index)
        assert node is not None
        if isinstance(node, yaml.SequenceNode):
            children = sum(self._sizes[id(item)] for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            children = sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        else:
            children = 0
        self._sizes[id(node)] = 1 + children
        if part is not None:
            self._path.pop()
        return node

    def _next_event(self) -> yaml.Event:
        """The event the composer is about to read (the parser's typed peek_event)."""
        self.check_event()  # parses it into current_event
        event: yaml.Event = self.current_event
        return event

    def _refuse(self, event: yaml.Event, part: str | int | None, message: str) -> NoReturn:
        path = (*self._path, part) if part is not None else tuple(self._path)
        shown = format_loc(path[:_SHOWN_PARTS]) + ("..." if len(path) > _SHOWN_PARTS else "")
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        raise ConfigError([f"{self._source}:{line}: {shown}: {message}"])


def _part(parent: yaml.Node | None, index: object) -> str | int | None:
    """The location part of a node being composed under ``parent``: key, position or None."""
    if parent is None:
        return None  # the document's root
    if isinstance(index, int):
        return index  # a sequence item
    if isinstance(index, yaml.ScalarNode):
        return str(index.value)  # the value of a plain key
    return "(key)" if index is None else "(value)"  # a key, or the value of a complex key


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, name: str) -> None:
        self.loader = loader
        self.name = name
        self.lines: dict[Loc, int] = {}
        self.found: list[tuple[int, str]] = []
        self.unreadable: set[int] = set()  # ids of scalars PyYAML failed to construct

    @property
    def problems(self) -> list[str]:
        """Every problem once, in file order."""
        ordered = sorted(dict.fromkeys(self.found), key=lambda item: item[0])
        return [text for _, text in ordered]

    def problem(self, node: yaml.Node, loc: Loc, message: str, *, key: bool = False) -> None:
        line = node.start_mark.line + 1
        field = format_loc(loc) + (" (key)" if key else "")
        self.found.append((line, f"{self.name}:{line}: {field}: {message}"))

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        value = self._scalar(node, loc)
        return None if value is _UNREADABLE else value

    def _scalar(self, node: yaml.Node, loc: Loc, *, key: bool = False) -> Any:
        """The scalar's value, or _UNREADABLE (noted) if PyYAML cannot construct it."""
        if id(node) in self.unreadable:  # PyYAML would now call it recursive: report once
            return _UNREADABLE
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, TypeError, LookupError, AttributeError, OverflowError) as exc:
            kind = str(node.tag).rpartition(":")[2]
            reason = f": {str(exc).split(';')[0]}" if isinstance(exc, ValueError) else ""
            text = str(node.value)
            shown = text if len(text) <= 40 else text[:40] + "..."
            self.problem(node, loc, f"cannot read {shown!r} as a YAML {kind}{reason}", key=key)
            self.unreadable.add(id(node))
            return _UNREADABLE

    def _key(self, node: yaml.Node, loc: Loc) -> tuple[bool, Any]:
        """``(True, key)`` for a usable key, else ``(False, None)`` with the problem noted."""
        if not isinstance(node, yaml.ScalarNode):
            kind = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
            self.problem(node, loc, f"a {kind} cannot be a key: keys are names", key=True)
            return False, None
        key = self._scalar(node, loc, key=True)
        if key is _UNREADABLE:
            return False, None
        if isinstance(key, bool) or not isinstance(key, str | int):
            kind = str(node.tag).rpartition(":")[2]
            message = f"{node.value!r} is read as a YAML {kind}: keys are names or numbers"
            self.problem(node, loc, f"{message} (quote it if it is a name)", key=True)
            return False, None
        return True, key

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            usable, key = self._key(key_node, loc)
            line = key_node.start_mark.line + 1
            if not usable:
                continue
            if key in first_line:
                self.problem(
                    key_node,
                    (*loc, key),
                    f"duplicate key {key!r} (first defined on line {first_line[key]})",
                )
            else:
                first_line[key] = line
        self.loader.flatten_mapping(node)  # resolve '<<' merge keys; explicit keys win
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            usable, key = self._key(key_node, loc)
            if not usable:
                continue
            self.lines[(*loc, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*loc, key))
        return result


def parse_yaml(text: str, name: str) -> Document:
    """Parse ``text``; every problem (syntax, duplicate keys, limits) raises :class:`ConfigError`.

    An empty document gives ``Document(name, None)``.
    """
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text, name)  # rejects control characters up front
        node = loader.get_single_node()
        if node is None:
            return Document(name, None)
        builder = _Builder(loader, name)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError([f"{name}:{line}: invalid YAML: {exc.problem or exc}"]) from None
    except yaml.reader.ReaderError as exc:
        position = exc.position if isinstance(exc.position, int) else 0
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        raise ConfigError(
            [
                f"{name}:{line}: invalid YAML: character U+{exc.character:04X} (column {column}) "
                "is not allowed: YAML text cannot hold control characters such as NUL"
            ]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if builder.problems:
        raise ConfigError(builder.problems)
    return Document(name, data, builder.lines)


def load_yaml(path: str | Path, what: str) -> Document:
    """Read and parse the UTF-8 YAML file ``path`` (``what`` it is: "config", "snapshot").

    Unreadable files (missing, a directory, no permission), text that is not UTF-8 and
    every problem of :func:`parse_yaml` raise :class:`ConfigError` naming the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read {what}: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            [
                f"{path}:{line}: {what} is not UTF-8 text: byte {raw[exc.start]:#04x} at "
                f"column {column} ({exc.reason}); save the file as UTF-8"
            ]
        ) from None
    return parse_yaml(text, str(path))
