"""TXT records on the wire and in zone files: character-strings of at most 255 octets.

One place for the limit, the splitting of a long value into strings (between SPF terms,
never inside one) and the presentation form (quoted strings, RFC 1035 section 5.1).
"""

from __future__ import annotations

MAX_TXT_STRING = 255  # RFC 1035 3.3.14: one character-string


def split_strings(text: str, size: int = MAX_TXT_STRING) -> tuple[str, ...]:
    """Split at spaces into strings of at most ``size`` characters; joined they give ``text``."""
    strings: list[str] = []
    current = ""
    for token in text.split(" "):
        piece = token if not current else " " + token
        if len(current) + len(piece) < size:  # room for the separator that may follow
            current += piece
            continue
        if current:
            strings.append(current + " ")  # the separator stays with the earlier string
            piece = token
        while len(piece) > size:  # a single token longer than a string: no choice
            strings.append(piece[:size])
            piece = piece[size:]
        current = piece
    strings.append(current)
    return tuple(strings)


def split_txt(value: str, size: int = MAX_TXT_STRING) -> list[str]:
    """Split a logical TXT value into character-strings of at most ``size`` bytes.

    Splits fall between SPF terms (never inside one), so every string stays readable and
    no tool that mishandles concatenation can cut a term in two; a value without spaces
    (a DKIM key) is cut at ``size``.
    """
    value.encode("ascii")  # refuse non-ASCII here, as before
    return list(split_strings(value, size))


def quote_txt(value: str, size: int = MAX_TXT_STRING) -> str:
    """Zone-file presentation of a TXT value: quoted strings, each at most ``size`` bytes."""
    parts = split_txt(value, size)
    return " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


def unquote_txt(text: str, *, octal: bool = False) -> list[str]:
    """The character-strings of a presentation-form TXT value (the inverse of
    :func:`quote_txt`): quoted or bare strings, undoing ``\\X`` and ``\\DDD`` escapes
    (decimal per RFC 1035 section 5.1; ``octal`` for APIs such as Route 53's).
    Raises ValueError on an unterminated quote or a bad escape."""
    strings: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in " \t":
            i += 1
            continue
        quoted = text[i] == '"'
        i += quoted
        chars: list[str] = []
        closed = not quoted
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n:
                digits = text[i + 1 : i + 4]
                if len(digits) == 3 and digits.isdigit():
                    code = int(digits, 8 if octal else 10)
                    if code > 255:
                        raise ValueError(f"bad escape \\{digits} in TXT value")
                    chars.append(chr(code))
                    i += 4
                else:
                    chars.append(text[i + 1])
                    i += 2
                continue
            if quoted and ch == '"':
                closed, i = True, i + 1
                break
            if not quoted and ch in " \t":
                break
            chars.append(ch)
            i += 1
        if not closed:
            raise ValueError("unterminated quoted string in TXT value")
        strings.append("".join(chars))
    return strings
