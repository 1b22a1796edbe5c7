"""The PowerDNS Authoritative HTTP API (``/api/v1``), over the standard library's urllib.

One PATCH of the zone's rrsets carries all changes and is applied atomically by PowerDNS.
TXT content is in presentation form: quoted character-strings of at most 255 bytes.
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

from spfmanager.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from spfmanager.providers.base import Change, Delete, Provider, TxtRecordSet, quote_txt

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0


class PowerDNSProvider(Provider):
    """A zone on a PowerDNS Authoritative server, managed through its HTTP API."""

    name: ClassVar[str] = "powerdns"
    atomic_batches: ClassVar[bool] = True

    def __init__(
        self,
        zone: str,
        api_url: str,
        api_key: str,
        server_id: str = "localhost",
        *,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        super().__init__(zone, **options)
        base = api_url.rstrip("/").removesuffix("/api/v1")
        zone_id = urllib.parse.quote(self.zone + ".", safe="")
        server = urllib.parse.quote(server_id, safe="")
        self.url = f"{base}/api/v1/servers/{server}/zones/{zone_id}"
        self.timeout = timeout
        self._api_key = api_key

    def __repr__(self) -> str:  # never show the key
        return f"PowerDNSProvider(zone={self.zone!r}, url={self.url!r})"

    def _list(self, names: set[str] | None) -> list[TxtRecordSet]:
        zone = self._request("GET", "read")
        found: list[TxtRecordSet] = []
        for rrset in zone.get("rrsets", []):
            if rrset.get("type") != "TXT":
                continue
            name = str(rrset["name"]).rstrip(".").lower()
            values = tuple(
                sorted(
                    _parse_content(str(r["content"]), name)
                    for r in rrset.get("records", [])
                    if not r.get("disabled", False)
                )
            )
            if values:
                found.append(TxtRecordSet(name, values, int(rrset.get("ttl", 0))))
        return found

    def _apply(self, changes: Sequence[Change]) -> None:
        final: dict[str, Change] = {}
        for change in changes:  # PowerDNS refuses two rrsets for one name in a PATCH
            final[change.name] = change
        rrsets = [_rrset(change) for change in final.values()]
        self._request("PATCH", f"update of {', '.join(final)}", {"rrsets": rrsets})
        log.info("powerdns: patched %d TXT record set(s) in %s", len(rrsets), self.zone)

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
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc, what) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProviderServerError(
                self._message(what, f"connection failed ({reason})")
            ) from None
        return json.loads(payload) if payload else None

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
        return {"name": change.name + ".", "type": "TXT", "changetype": "DELETE"}
    return {
        "name": change.name + ".",
        "type": "TXT",
        "ttl": change.new.ttl,
        "changetype": "REPLACE",
        "records": [{"content": quote_txt(v), "disabled": False} for v in change.new.values],
    }


def _parse_content(content: str, name: str) -> str:
    """The logical value of TXT content in presentation form (strings joined)."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, content)
    except dns.exception.DNSException as exc:
        raise ProviderError(f"powerdns: {name}: unreadable TXT content: {exc}") from None
    assert isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
    return b"".join(rdata.strings).decode("ascii", "replace")


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """PowerDNS's ``{"error": ...}`` text, if the body has one."""
    try:
        body = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
