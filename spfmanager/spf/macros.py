"""Macro-strings, RFC 7208 section 7: parsed once into a structure, expanded per check."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from spfmanager.errors import SPFSyntaxError

MACRO_LETTERS = frozenset("slodiphcrtv")  # RFC 7208 7.2
EXP_ONLY_LETTERS = frozenset("crt")  # RFC 7208 7.2: only in explanation strings
DELIMITERS = frozenset(".-+,/_=")  # RFC 7208 7.1
SENDER_LETTERS = frozenset("slo")  # depend on the MAIL FROM / HELO identity
CLIENT_LETTERS = frozenset("ipvc")  # depend on the connecting address


@dataclass(frozen=True, slots=True)
class Literal:
    """Literal text (``%%``, ``%_`` and ``%-`` already decoded)."""

    text: str
    source: str

    def render(self) -> str:
        return self.source


@dataclass(frozen=True, slots=True)
class MacroExpand:
    """One ``%{...}`` expansion."""

    letter: str  # lower case
    url_escape: bool  # upper-case letter in the source
    digits: int | None
    reverse: bool
    delimiters: str

    def render(self) -> str:
        letter = self.letter.upper() if self.url_escape else self.letter
        digits = "" if self.digits is None else str(self.digits)
        return f"%{{{letter}{digits}{'r' if self.reverse else ''}{self.delimiters}}}"


Part = Literal | MacroExpand


@dataclass(frozen=True, slots=True)
class MacroString:
    """A parsed macro-string."""

    parts: tuple[Part, ...]

    def render(self) -> str:
        return "".join(part.render() for part in self.parts)

    def __str__(self) -> str:
        return self.render()

    @property
    def letters(self) -> frozenset[str]:
        """Macro letters used."""
        return frozenset(p.letter for p in self.parts if isinstance(p, MacroExpand))

    @property
    def is_literal(self) -> bool:
        """True when the string has no ``%{...}`` expansion."""
        return not self.letters

    @property
    def literal_text(self) -> str:
        """The decoded text of a string without expansions."""
        return "".join(p.text for p in self.parts if isinstance(p, Literal))


def parse_macro_string(
    text: str, *, explanation: bool = False, record: str = "", offset: int = 0
) -> MacroString:
    """Parse ``text`` as a macro-string; ``explanation`` allows ``c``, ``r``, ``t`` and spaces.

    ``record`` and ``offset`` place syntax errors in the enclosing record.
    """
    where = record or text
    parts: list[Part] = []
    literal: list[str] = []
    source: list[str] = []
    i = 0

    def error(message: str, at: int) -> SPFSyntaxError:
        return SPFSyntaxError(message, where, offset + at)

    def flush() -> None:
        if source:
            parts.append(Literal("".join(literal), "".join(source)))
            literal.clear()
            source.clear()

    while i < len(text):
        char = text[i]
        if char != "%":
            code = ord(char)
            allowed = 0x21 <= code <= 0x7E or (explanation and code == 0x20)
            if not allowed:
                raise error(f"character {char!r} is not allowed in a macro-string", i)
            literal.append(char)
            source.append(char)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in ("%", "_", "-"):
            literal.append({"%": "%", "_": " ", "-": "%20"}[nxt])
            source.append(text[i : i + 2])
            i += 2
            continue
        if nxt != "{":
            raise error("'%' must be followed by '{', '%', '_' or '-'", i)
        end = text.find("}", i + 2)
        if end < 0:
            raise error("unterminated macro: missing '}'", i)
        flush()
        parts.append(_parse_expand(text[i + 2 : end], explanation, error, i))
        i = end + 1
    flush()
    return MacroString(tuple(parts))


class _ErrorFactory(Protocol):
    def __call__(self, message: str, at: int) -> SPFSyntaxError: ...


def _parse_expand(body: str, explanation: bool, error: _ErrorFactory, at: int) -> MacroExpand:
    if not body:
        raise error("empty macro '%{}'", at)
    letter = body[0]
    lower = letter.lower()
    if lower not in MACRO_LETTERS:
        raise error(f"unknown macro letter {letter!r}", at + 2)
    if lower in EXP_ONLY_LETTERS and not explanation:
        raise error(f"macro letter {letter!r} is only allowed in exp= explanations", at + 2)
    j = 1
    while j < len(body) and body[j] in "0123456789":  # ASCII DIGIT only (RFC 5234)
        j += 1
    digits = int(body[1:j]) if j > 1 else None
    if digits == 0:
        raise error("macro digit transformer must be greater than zero", at + 3)
    reverse = j < len(body) and body[j] in "rR"
    if reverse:
        j += 1
    delimiters = body[j:]
    bad = [c for c in delimiters if c not in DELIMITERS]
    if bad:
        raise error(f"invalid macro delimiter {bad[0]!r}", at + 2 + j)
    return MacroExpand(lower, letter.isupper(), digits, reverse, delimiters)


class MacroContext(Protocol):
    """What expansion needs to know about the check; values computed on demand."""

    def macro_value(self, letter: str) -> str: ...


def expand(macro: MacroString, context: MacroContext) -> str:
    """Expand ``macro`` for one check (RFC 7208 7.3)."""
    out: list[str] = []
    for part in macro.parts:
        if isinstance(part, Literal):
            out.append(part.text)
            continue
        out.append(_transform(part, context.macro_value(part.letter)))
    return "".join(out)


def _transform(part: MacroExpand, value: str) -> str:
    if part.digits is not None or part.reverse or part.delimiters:
        separators = part.delimiters or "."
        pieces = list(_split(value, separators))
        if part.reverse:
            pieces.reverse()
        if part.digits is not None:
            pieces = pieces[-part.digits :]
        value = ".".join(pieces)
    if part.url_escape:
        value = urllib.parse.quote(value, safe="-._~")
    return value


def _split(value: str, separators: str) -> Iterator[str]:
    start = 0
    for index, char in enumerate(value):
        if char in separators:
            yield value[start:index]
            start = index + 1
    yield value[start:]


def bind_letter(macro: MacroString, letter: str, value: str) -> MacroString:
    """Replace every expansion of ``letter`` by its (transformed) literal ``value``.

    Used to pin ``%{d}`` when a term moves to a record where the current domain differs.
    """
    parts: list[Part] = []
    for part in macro.parts:
        if isinstance(part, MacroExpand) and part.letter == letter:
            text = _transform(part, value)
            source = text.replace("%", "%%").replace(" ", "%_")
            parts.append(Literal(text, source))
        else:
            parts.append(part)
    return MacroString(_merge_literals(parts))


def _merge_literals(parts: list[Part]) -> tuple[Part, ...]:
    merged: list[Part] = []
    for part in parts:
        previous = merged[-1] if merged else None
        if isinstance(part, Literal) and isinstance(previous, Literal):
            merged[-1] = Literal(previous.text + part.text, previous.source + part.source)
        else:
            merged.append(part)
    return tuple(merged)
