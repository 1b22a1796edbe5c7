"""Read YAML keeping the line of every node, so errors can name ``FILE:LINE``.

PyYAML's ``safe_load`` forgets positions and silently keeps the last of duplicate keys;
composing the node tree ourselves keeps both the lines and the duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from spfmanager.errors import ConfigError

Loc = tuple[str | int, ...]


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


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, name: str) -> None:
        self.loader = loader
        self.name = name
        self.lines: dict[Loc, int] = {}
        self.problems: list[str] = []

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.problems.append(
                    f"{self.name}:{line}: {format_loc((*loc, key))}: duplicate key "
                    f"{key!r} (first defined on line {first_line[key]})"
                )
            else:
                first_line[key] = line
        self.loader.flatten_mapping(node)  # resolve '<<' merge keys; explicit keys win
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                line = key_node.start_mark.line + 1
                self.problems.append(f"{self.name}:{line}: {key!r}: keys must be names or numbers")
                continue
            self.lines[(*loc, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*loc, key))
        return result


def parse_yaml(text: str, name: str) -> Document:
    """Parse ``text``; duplicate keys and syntax errors raise :class:`ConfigError`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(name, None)
        builder = _Builder(loader, name)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError([f"{name}:{line}: invalid YAML: {exc.problem or exc}"]) from None
    finally:
        loader.dispose()
    if builder.problems:
        raise ConfigError(builder.problems)
    return Document(name, data, builder.lines)
