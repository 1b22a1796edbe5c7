"""Write proven suggestions into the config file, keeping everything else as written.

ruamel.yaml's round trip keeps comments, key order, quoting and flow/block style: a
``services: [a, b]`` stays a flow list and only gains the new entry. The file is replaced
atomically (a temporary file beside it, then a rename), then loaded and compiled again;
if that fails the original is put back and the error raised.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spfmanager.discover.suggest import Suggestion
from spfmanager.dns.base import normalize_name
from spfmanager.errors import ConfigError
from spfmanager.files.atomic import write_atomic


def apply_suggestions(path: str | Path, suggestions: Sequence[Suggestion]) -> list[Suggestion]:
    """Add each suggestion's service to its domain's ``services`` in ``path``; the ones
    written (a service the domain lists already is skipped). Raises :class:`ConfigError`
    when the file cannot be edited or the edited config does not load and compile (the
    file is then left as it was)."""
    path = Path(path)
    try:
        original = path.read_bytes()
        text = original.decode("utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: cannot edit: not UTF-8"]) from None
    written: list[Suggestion] = []
    for suggestion in suggestions:
        edited = _add(text, suggestion, path)
        if edited is not None:
            text = edited
            written.append(suggestion)
    if not written:
        return []
    write_atomic(path, text, fsync_dir=False)
    try:
        _validate(path)
    except ConfigError:
        write_atomic(path, original, fsync_dir=False)
        raise
    return written


def _add(text: str, suggestion: Suggestion, path: Path) -> str | None:
    """``text`` with the suggestion's entry added; None when the domain lists it already.

    The entry is spliced into the text at the position ruamel.yaml's round-trip loader
    gives (a flow list gains ``, entry`` before its ``]``, a block list a ``- entry``
    line, a domain without ``services`` a ``services: [entry]`` line before its first
    key), so every other byte stays as written; the result is parsed again and must hold
    exactly the intended list. Where no splice applies, ruamel.yaml dumps the document.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq  # noqa: PLC0415

    yaml = _yaml()
    document = _load(yaml, text, path)
    domains = document.get("domains") if isinstance(document, CommentedMap) else None
    if not isinstance(domains, CommentedMap):
        raise ConfigError([f"{path}: no 'domains:' mapping to edit"])
    wanted_domain = normalize_name(suggestion.domain)
    key = next((k for k in domains if normalize_name(str(k)) == wanted_domain), None)
    if key is None:
        raise ConfigError([f"{path}: does not manage {suggestion.domain}"])
    domain = domains[key]
    if domain is not None and not isinstance(domain, CommentedMap):
        raise ConfigError([f"{path}: domains.{key} is not a mapping"])
    services = None if domain is None else domain.get("services")
    if services is not None and not isinstance(services, CommentedSeq):
        raise ConfigError([f"{path}: domains.{key}.services is not a list"])
    if services is not None and any(_entry_id(e) == suggestion.service for e in services):
        return None
    wanted = [*(services or []), suggestion.entry]
    spliced = _splice(text, domain, services, suggestion)
    if spliced is not None:
        check = _load(yaml, spliced, path)
        try:
            if _plain(check["domains"][key]["services"]) == _plain(wanted):
                return spliced
        except (KeyError, TypeError):
            pass
    # The fallback: ruamel.yaml's own round trip (comments and order kept, spacing may not).
    if domain is None:
        domain = domains[key] = CommentedMap()
    if services is None:
        services = CommentedSeq()
        services.fa.set_flow_style()
        domain.insert(0, "services", services)
    services.append(_entry(suggestion, flow=services.fa.flow_style()))
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _yaml() -> Any:
    from ruamel.yaml import YAML  # noqa: PLC0415  (only when writing)

    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    return yaml


def _load(yaml: Any, text: str, path: Path) -> Any:
    from ruamel.yaml.error import YAMLError  # noqa: PLC0415

    try:
        return yaml.load(text)
    except YAMLError as exc:
        raise ConfigError([f"{path}: cannot edit: {exc}"]) from None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if value is not None else None


def _splice(text: str, domain: Any, services: Any, suggestion: Suggestion) -> str | None:
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line: int, col: int) -> int:
        return starts[line] + col

    if services is None:
        if not domain or domain.fa.flow_style():
            return None
        first = next(iter(domain))
        key_line, col = (int(v) for v in domain.lc.key(first))
        entry = _flow_text(suggestion)
        at = offset(key_line, 0)
        return text[:at] + " " * col + f"services: [{entry}]\n" + text[at:]
    if services.fa.flow_style():
        start = offset(int(services.lc.line), int(services.lc.col))
        close = _closing_bracket(text, start)
        if close is None:
            return None
        inner = text[start + 1 : close]
        separator = ", " if inner.strip() else ""
        stripped = inner.rstrip()
        at = start + 1 + len(stripped)
        return text[:at] + separator + _flow_text(suggestion) + text[at:]
    if not services:
        return None
    last_line, last_col = (int(v) for v in services.lc.item(len(services) - 1))
    dash = lines[last_line].rfind("-", 0, last_col)
    if dash < 0:
        return None
    end = last_line + 1  # the last item's lines: until one indented no deeper than its dash
    while end < len(lines):
        body = lines[end].strip()
        indent = len(lines[end]) - len(lines[end].lstrip())
        if body and not body.startswith("#") and indent <= dash:
            break
        end += 1
    while end > last_line + 1 and not lines[end - 1].strip():
        end -= 1  # blank lines after the list stay after it
    tail = "" if lines[end - 1].endswith("\n") else "\n"
    at = starts[end]
    return text[:at] + tail + " " * dash + "- " + _flow_text(suggestion) + "\n" + text[at:]


def _closing_bracket(text: str, start: int) -> int | None:
    """The index of the ``]`` closing the flow sequence opened at ``start``."""
    depth = 0
    index = start
    quote: str | None = None
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == quote:
                if quote == "'" and text[index + 1 : index + 2] == "'":
                    index += 1  # '' inside single quotes
                else:
                    quote = None
            elif char == "\\" and quote == '"':
                index += 1
        elif char in "\"'":
            quote = char
        elif char == "#" and text[index - 1] in " \t\n":
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
            continue
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index if char == "]" else None
        index += 1
    return None


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_NOT_PLAIN = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})


def _scalar(value: str) -> str:
    """A parameter value: plain when YAML reads it back as that string, else quoted."""
    if _PLAIN.fullmatch(value) and value.lower() not in _NOT_PLAIN:
        return value
    return json.dumps(value)


def _flow_text(suggestion: Suggestion) -> str:
    """The entry in YAML flow style: ``sendgrid``, ``{mailgun: {region: eu}}``."""
    if not suggestion.params:
        return suggestion.service
    params = ", ".join(f"{k}: {_scalar(v)}" for k, v in suggestion.params)
    return f"{{{suggestion.service}: {{{params}}}}}"


def _entry(suggestion: Suggestion, *, flow: bool) -> Any:
    from ruamel.yaml.comments import CommentedMap  # noqa: PLC0415

    if not suggestion.params:
        return suggestion.service
    params = CommentedMap(suggestion.params)
    params.fa.set_flow_style()
    entry = CommentedMap({suggestion.service: params})
    if flow:
        entry.fa.set_flow_style()
    return entry


def _entry_id(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and len(entry) == 1:
        return str(next(iter(entry)))
    return None


def _validate(path: Path) -> None:
    from spfmanager.compile import compile_file  # noqa: PLC0415

    try:
        compile_file(path)
    except ConfigError as exc:
        raise ConfigError(
            [f"the edited config does not validate (left unchanged): {p}" for p in exc.problems]
        ) from None
