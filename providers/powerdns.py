"""The PowerDNS Authoritative HTTP API (``/api/v1``), over the standard library's urllib.

One PATCH of the zone's rrsets carries all changes and is applied atomically by PowerDNS.
TXT content is in presentation form: quoted character-strings of at most 255 bytes.

Besides SPF's TXT it manages the NS, A and AAAA record sets of a delegation (a macro zone's
NS below the apex and its glue); NS content is sent as an absolute name (trailing dot). The
apex NS belongs to the zone's operator and is refused.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any, ClassVar

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
from pydantic import BaseModel, Field, SecretStr

from spfmanager.dns.txt import quote_txt
from spfmanager.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from spfmanager.providers.base import Provider, ProviderOptions, canonical_value
from spfmanager.publish.changes import Change, Delete, RecordSet

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0


class PowerDNSOptions(ProviderOptions):
    """``providers.NAME`` of ``kind: powerdns``."""

    api_url: str = Field(description="The server's API base URL, e.g. `http://127.0.0.1:8081`")
    api_key: SecretStr = Field(description="The API key (`X-API-Key`)")
    server_id: str = Field("localhost", description="The server id in API paths")
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, description="Seconds per API request")


class PowerDNSProvider(Provider):
    """A zone on a PowerDNS Authoritative server, managed through its HTTP API."""

    name: ClassVar[str] = "powerdns"
    Options: ClassVar[type[BaseModel] | None] = PowerDNSOptions
    atomic_batches: ClassVar[bool] = True
    record_types: ClassVar[frozenset[str]] = frozenset({"TXT", "NS", "A", "AAAA"})

    def __init__(
        self,
        zone: str,
        api_url: str,
        api_key: str,
        server_id: str = "localhost",
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(zone)
        base = api_url.rstrip("/").removesuffix("/api/v1")
        zone_id = urllib.parse.quote(self.zone + ".", safe="")
        server = urllib.parse.quote(server_id, safe="")
        self.url = f"{base}/api/v1/servers/{server}/zones/{zone_id}"
        self.timeout = timeout
        self._api_key = api_key
        self.add_secret(api_key)

    def __repr__(self) -> str:  # never show the key
        return f"PowerDNSProvider(zone={self.zone!r}, url={self.url!r})"

    def _list(self, names: set[str] | None) -> list[RecordSet]:
        found: list[RecordSet] = []
        for index, rrset in enumerate(self._rrsets()):
            record_set = self._record_set(index, rrset)
            if record_set is not None:
                found.append(record_set)
        return found

    def _list_type(self, names: set[str], rtype: str) -> list[RecordSet]:
        found: list[RecordSet] = []
        for index, rrset in enumerate(self._rrsets()):
            record_set = self._record_set(index, rrset, rtype)
            if record_set is not None and record_set.name in names:
                found.append(record_set)
        return found

    def _rrsets(self) -> list[Any]:
        zone = self._request("GET", "read")
        rrsets = zone.get("rrsets") if isinstance(zone, dict) else None
        if not isinstance(rrsets, list):
            shape = "an object without a list 'rrsets'" if isinstance(zone, dict) else _kind(zone)
            raise self._malformed("read", f"expected a zone object with 'rrsets', got {shape}")
        return rrsets

    def _typed_content(self, rtype: str, content: str, name: str) -> str:
        """NS content as a lower-case name without trailing dot; A/AAAA in short form."""
        value = canonical_value(rtype, content)
        if value is None:
            raise self._malformed(
                "read", f"record {name}: {rtype} content {_brief(content)} is not an address"
            )
        return value

    def _record_set(self, index: int, rrset: Any, rtype: str = "TXT") -> RecordSet | None:
        """One ``rtype`` rrset of the zone, checked field by field; None for other types."""
        if not isinstance(rrset, dict) or not isinstance(rrset.get("type"), str):
            raise self._malformed("read", f"rrsets[{index}] is not an rrset: {_brief(rrset)}")
        if rrset["type"] != rtype:
            return None
        name, ttl, records = rrset.get("name"), rrset.get("ttl", 0), rrset.get("records", [])
        if not isinstance(name, str) or not name:
            raise self._malformed("read", f"{rtype} rrsets[{index}] has no name")
        name = name.rstrip(".").lower()
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not isinstance(records, list):
            raise self._malformed("read", f"{rtype} rrset {name}: bad 'ttl' or 'records'")
        values = []
        for record in records:
            content = record.get("content") if isinstance(record, dict) else None
            if not isinstance(content, str):
                raise self._malformed("read", f"{rtype} rrset {name}: a record without 'content'")
            if record.get("disabled", False):
                continue
            if rtype == "TXT":
                values.append(self._parse_content(content, name))
            else:
                values.append(self._typed_content(rtype, content, name))
        if not values:
            return None
        return RecordSet(name, tuple(sorted(values)), ttl, rtype)

    def _parse_content(self, content: str, name: str) -> str:
        """The logical value of TXT content in presentation form (strings joined)."""
        try:
            rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, content)
        except dns.exception.DNSException as exc:
            raise self._malformed(
                "read", f"record {name}: TXT content {_brief(content)} is not valid: {exc}"
            ) from None
        assert isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
        return b"".join(rdata.strings).decode("ascii", "replace")

    def _apply(self, changes: Sequence[Change]) -> None:
        final: dict[tuple[str, str], Change] = {}
        for change in changes:  # PowerDNS refuses two rrsets of one name and type in a PATCH
            final[(change.name, change.rtype)] = change
        rrsets = [_rrset(change) for change in final.values()]
        what = ", ".join(name if rtype == "TXT" else f"{name} {rtype}" for name, rtype in final)
        self._request("PATCH", f"update of {what}", {"rrsets": rrsets})
        log.info("powerdns: patched %d record set(s) in %s", len(rrsets), self.zone)

    def _request(self, method: str, what: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url, data=data, method=method)
        request.add_header("X-API-Key", self._api_key)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc, what) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProviderServerError(
                self._message(what, f"connection failed ({reason})")
            ) from None
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            raise self._malformed(
                what, f"body is not JSON (Content-Type {content_type or 'missing'})"
            ) from None

    def _http_error(self, exc: urllib.error.HTTPError, what: str) -> ProviderError:
        detail = _error_detail(exc)
        reason = f"HTTP {exc.code}" + (f": {detail}" if detail else "")
        message = self._message(what, reason)
        if exc.code in (401, 403):
            return ProviderAuthError(message + " (check the API key)")
        if exc.code == 429:
            return ProviderRateLimitError(message)
        if exc.code >= 500:
            return ProviderServerError(message)
        return ProviderError(message)

    def _message(self, what: str, reason: str) -> str:
        return f"powerdns: {what} (zone {self.zone}, {self.url}): {reason}"


def _rrset(change: Change) -> dict[str, Any]:
    if isinstance(change, Delete):
        return {"name": change.name + ".", "type": change.rtype, "changetype": "DELETE"}
    return {
        "name": change.name + ".",
        "type": change.rtype,
        "ttl": change.new.ttl,
        "changetype": "REPLACE",
        "records": [
            {"content": _content(change.rtype, v), "disabled": False} for v in change.new.values
        ],
    }


def _content(rtype: str, value: str) -> str:
    """A value as PowerDNS content: TXT quoted, an NS target absolute, addresses as they are."""
    if rtype == "TXT":
        return quote_txt(value)
    return value + "." if rtype == "NS" else value


def _kind(value: Any) -> str:
    """What a JSON value is, for messages."""
    kinds = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def _brief(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """PowerDNS's ``{"error": ...}`` text, if the body has one."""
    try:
        body = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
