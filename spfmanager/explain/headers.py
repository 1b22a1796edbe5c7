"""Parsers for the trace headers receivers add: Received-SPF, Authentication-Results, Received.

Each parser takes one unfolded header value and returns a frozen record of what it says;
none of them raises on malformed input (real mail is messy): unknown parts are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from spfmanager.spf.results import Result

IPAddress = IPv4Address | IPv6Address

# "designates 192.0.2.1", "does not designate 2001:db8::1", M365's "sender IP is 192.0.2.1",
# Gmail's bounce text "with ip: [192.0.2.1]".
_COMMENT_IP = re.compile(
    r"(?:designates?|sender ip is|with ip:?)\s+\[?([0-9A-Fa-f:.]+[0-9A-Fa-f])\]?", re.IGNORECASE
)
_KEY_VALUE = re.compile(r'([A-Za-z][\w.-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]*)')
_BRACKETED = re.compile(r"\[([^\]]*)\]")


class HeaderKind(StrEnum):
    """The header a receiver recorded its SPF verdict in."""

    RECEIVED_SPF = "Received-SPF"  # RFC 7208 9.1
    AUTHENTICATION_RESULTS = "Authentication-Results"  # RFC 8601
    ARC_AUTHENTICATION_RESULTS = "ARC-Authentication-Results"  # RFC 8617 4.1.1


@dataclass(frozen=True, slots=True)
class RecordedCheck:
    """One SPF verdict a receiver wrote into the message.

    ``result`` is None for values outside RFC 7208 (e.g. RFC 8601's ``policy``); the text
    as written is kept in ``raw_result``. ``mailfrom`` may be a bare domain (Microsoft 365).
    """

    kind: HeaderKind
    raw_result: str
    result: Result | None = None
    receiver: str | None = None
    client_ip: IPAddress | None = None
    mailfrom: str | None = None
    helo: str | None = None
    identity: str | None = None
    comment: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        return {
            "header": self.kind.value,
            "result": self.raw_result,
            "receiver": self.receiver,
            "client_ip": None if self.client_ip is None else str(self.client_ip),
            "mailfrom": self.mailfrom,
            "helo": self.helo,
            "identity": self.identity,
            "comment": self.comment,
        }


@dataclass(frozen=True, slots=True)
class Hop:
    """One Received header: who handed the message (``from``) to whom (``by``)."""

    from_host: str | None
    from_ip: IPAddress | None
    by_host: str | None
    helo: str | None  # the name the client gave, when the header tells it apart

    @property
    def data(self) -> dict[str, Any]:
        return {
            "from_host": self.from_host,
            "from_ip": None if self.from_ip is None else str(self.from_ip),
            "by_host": self.by_host,
            "helo": self.helo,
        }


# -- lexical helpers -------------------------------------------------------------------------


def split_comments(text: str) -> tuple[str, list[str]]:
    """Remove RFC 5322 comments (nested parentheses, outside quotes); return text and comments."""
    out: list[str] = []
    comments: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            (current if depth else out).append(char)
            escaped = False
            continue
        if char == "\\":
            escaped = True
            (current if depth else out).append(char)
            continue
        if char == '"' and not depth:
            quoted = not quoted
        if not quoted and char == "(":
            if depth:
                current.append(char)
            depth += 1
            continue
        if not quoted and char == ")" and depth:
            depth -= 1
            if depth:
                current.append(char)
            else:
                comments.append("".join(current).strip())
                current = []
                out.append(" ")
            continue
        (current if depth else out).append(char)
    return "".join(out), comments


def split_top_level(text: str, separator: str = ";") -> list[str]:
    """Split on ``separator`` outside comments and quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    for char in text:
        if char == '"' and not depth:
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")" and depth:
            depth -= 1
        elif char == separator and not depth and not quoted:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def parse_ip(text: str) -> IPAddress | None:
    """An address from ``1.2.3.4``, ``[1.2.3.4]``, ``IPv6:2001:db8::1`` or ``2001:db8::1%eth0``."""
    candidate = text.strip().strip("[]()").strip()
    if candidate[:5].lower() == "ipv6:":
        candidate = candidate[5:]
    candidate = candidate.split("%", 1)[0]
    try:
        return ip_address(candidate)
    except ValueError:
        return None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _result(text: str) -> Result | None:
    try:
        return Result(text.strip().lower())
    except ValueError:
        return None


def _ip_in_comments(comments: list[str]) -> IPAddress | None:
    for comment in comments:
        for match in _COMMENT_IP.finditer(comment):
            address = parse_ip(match.group(1))
            if address is not None:
                return address
    return None


def _receiver(value: str) -> str | None:
    """A receiver name; pyspf's policy daemon writes ``<UNKNOWN>`` when it has none."""
    return value if value and not value.startswith("<") else None


def _strip_angle(address: str) -> str:
    return address.strip().strip("<>").strip()


# -- Received-SPF (RFC 7208 9.1) ---------------------------------------------------------------


def parse_received_spf(value: str) -> RecordedCheck | None:
    """``result [(comment)] key=value; ...``; None when the header has no result token."""
    text, comments = split_comments(value)
    head = text.strip().split(None, 1)
    if not head:
        return None
    raw_result = head[0].rstrip(";").lower()
    pairs = {k.lower(): _unquote(v) for k, v in _KEY_VALUE.findall(text)}
    client_ip = parse_ip(pairs["client-ip"]) if "client-ip" in pairs else None
    return RecordedCheck(
        kind=HeaderKind.RECEIVED_SPF,
        raw_result=raw_result,
        result=_result(raw_result),
        receiver=_receiver(pairs.get("receiver", "")),
        client_ip=client_ip or _ip_in_comments(comments),
        mailfrom=_strip_angle(pairs["envelope-from"]) if "envelope-from" in pairs else None,
        helo=pairs.get("helo") or None,
        identity=(pairs.get("identity") or "").lower() or None,
        comment="; ".join(comments) or None,
    )


# -- Authentication-Results (RFC 8601) and ARC-Authentication-Results (RFC 8617) ----------------


def parse_authentication_results(
    value: str, kind: HeaderKind = HeaderKind.AUTHENTICATION_RESULTS
) -> RecordedCheck | None:
    """The ``spf=`` result of an Authentication-Results value; None when there is none.

    Accepts Microsoft 365's form without an authserv-id (``spf=fail (sender IP is X)
    smtp.mailfrom=example.com; ...``) and the ``i=N;`` prefix of ARC-Authentication-Results.
    When a header carries several spf results, the one for ``smtp.mailfrom`` wins and
    ``smtp.helo`` is taken from any of them.
    """
    parts = split_top_level(value)
    if parts and kind is HeaderKind.ARC_AUTHENTICATION_RESULTS and parts[0][:2].lower() == "i=":
        parts = parts[1:]
    authserv_id: str | None = None
    if parts and not re.match(r"\s*[\w.-]+(?:/\d+)?\s*=", split_comments(parts[0])[0]):
        authserv_id = split_comments(parts[0])[0].split()[0] if parts[0].split() else None
        parts = parts[1:]
    spf_checks: list[tuple[str, dict[str, str], list[str]]] = []
    for part in parts:
        text, comments = split_comments(part)
        match = re.match(r"\s*spf(?:/\d+)?\s*=\s*([A-Za-z]+)", text, re.IGNORECASE)
        if match:
            properties = {
                k.lower(): _unquote(v) for k, v in _KEY_VALUE.findall(text[match.end() :])
            }
            spf_checks.append((match.group(1).lower(), properties, comments))
    if not spf_checks:
        return None
    raw_result, properties, comments = next(
        (check for check in spf_checks if "smtp.mailfrom" in check[1]), spf_checks[0]
    )
    helo = next((c[1]["smtp.helo"] for c in spf_checks if c[1].get("smtp.helo")), None)
    mailfrom = properties.get("smtp.mailfrom")
    return RecordedCheck(
        kind=kind,
        raw_result=raw_result,
        result=_result(raw_result),
        receiver=authserv_id,
        client_ip=_ip_in_comments(comments),
        mailfrom=_strip_angle(mailfrom) if mailfrom else None,
        helo=helo,
        identity="mailfrom" if mailfrom else ("helo" if helo else None),
        comment="; ".join(comments) or None,
    )


# -- Received (RFC 5321 4.4) -----------------------------------------------------------------


def parse_received(value: str) -> Hop:
    """The ``from`` and ``by`` clauses of a Received header.

    Understands the common forms: ``from helo (rdns [ip])`` (Postfix, sendmail, Gmail),
    ``[IPv6:...]`` (Postfix), ``from helo (ip)`` (Exchange / Microsoft 365) and
    ``from rdns ([ip] helo=name)`` / ``from [ip] (helo=name)`` (Exim).
    """
    clauses = _clauses(value.split(";", 1)[0] if ";" in value else value)
    from_text = clauses.get("from", "")
    by_text = clauses.get("by", "")
    from_host: str | None = None
    from_ip: IPAddress | None = None
    helo: str | None = None
    if from_text:
        bare, comments = split_comments(from_text)
        first = bare.split()[0] if bare.split() else ""
        from_ip = parse_ip(first)
        if from_ip is None and first:
            from_host = first.rstrip(".").lower()
        for comment in comments:
            helo_match = re.search(r"helo\s*=\s*([^\s)\]]+)", comment, re.IGNORECASE)
            if helo_match:
                helo = helo_match.group(1).rstrip(".").lower()
            if from_ip is None:
                from_ip = _first_ip(comment)
        helo = helo or from_host
    by_host = split_comments(by_text)[0].split()[0].rstrip(".").lower() if by_text.split() else None
    return Hop(from_host=from_host, from_ip=from_ip, by_host=by_host, helo=helo)


def _first_ip(comment: str) -> IPAddress | None:
    for bracketed in _BRACKETED.findall(comment):
        address = parse_ip(bracketed)
        if address is not None:
            return address
    for token in re.split(r"[\s,]+", comment):
        address = parse_ip(token)
        if address is not None:
            return address
    return None


_CLAUSE_WORDS = ("from", "by", "via", "with", "id", "for")


def _clauses(text: str) -> dict[str, str]:
    """Split a Received value into its clauses, keyword by keyword, outside comments."""
    tokens: list[tuple[str, str]] = []  # (token, raw text including comments)
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        if char.isspace() and not depth:
            if current:
                tokens.append(("".join(current), "".join(current)))
                current = []
            continue
        current.append(char)
    if current:
        tokens.append(("".join(current), "".join(current)))
    clauses: dict[str, list[str]] = {}
    keyword: str | None = None
    for token, raw in tokens:
        lowered = token.lower()
        if lowered in _CLAUSE_WORDS and lowered not in clauses:
            keyword = lowered
            clauses[keyword] = []
            continue
        if keyword is not None:
            clauses[keyword].append(raw)
    return {name: " ".join(words) for name, words in clauses.items()}
