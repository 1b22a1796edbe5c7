"""Dynamic DNS updates (RFC 2136) signed with TSIG (RFC 8945), e.g. to BIND or Knot.

All changes go in one UPDATE message, which the server applies atomically. Besides TXT it
manages the NS and A/AAAA records of a delegation below the apex (a macro zone's NS and its
glue, docs/macro.md); NS at the apex belongs to the zone's operator and is refused.

Listing a few names queries their TXT record sets; listing the whole zone (``names=None``)
or any NS/A/AAAA needs a zone transfer (AXFR), so the server must allow AXFR for the key
(BIND: ``allow-transfer { key NAME; };``). A query cannot list a delegation: the parent
answers it with a referral (NS in the authority section, glue only for current NS targets)
and, when it also serves the child zone, with the child's data. An error answer's Extended
DNS Errors (RFC 8914 EDE, e.g. BIND's "Prohibited") are quoted in the error message.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.tsig
import dns.update
import dns.xfr
import dns.zone
from pydantic import BaseModel, Field, SecretStr

from spfmanager.dns.txt import split_txt
from spfmanager.errors import ProviderAuthError, ProviderError, ProviderServerError
from spfmanager.providers.base import Provider, ProviderOptions
from spfmanager.publish.changes import Change, Delete, RecordSet

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
_AUTH_RCODES = (dns.rcode.REFUSED, dns.rcode.NOTAUTH)
_TYPES = {
    "TXT": dns.rdatatype.TXT,
    "NS": dns.rdatatype.NS,
    "A": dns.rdatatype.A,
    "AAAA": dns.rdatatype.AAAA,
}


class RFC2136Options(ProviderOptions):
    """``providers.NAME`` of ``kind: rfc2136``."""

    server: str = Field(description="IP address of the primary server")
    port: int = Field(53, ge=1, le=65535, description="Its DNS port")
    tsig_name: str = Field(description="Name of the TSIG key")
    tsig_secret: SecretStr = Field(description="The TSIG key's secret, base64")
    tsig_algorithm: str = Field("hmac-sha256", description="The TSIG key's algorithm")
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, description="Seconds per query or update")


class RFC2136Provider(Provider):
    """A zone on a primary server that accepts TSIG-signed dynamic updates."""

    name: ClassVar[str] = "rfc2136"
    Options: ClassVar[type[BaseModel] | None] = RFC2136Options
    atomic_batches: ClassVar[bool] = True
    record_types: ClassVar[frozenset[str]] = frozenset(_TYPES)

    def __init__(
        self,
        zone: str,
        server: str,
        port: int = 53,
        *,
        tsig_name: str,
        tsig_secret: str,
        tsig_algorithm: str = "hmac-sha256",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(zone)
        self.add_secret(tsig_secret)
        self.server = server
        self.port = port
        self.timeout = timeout
        self.tsig_name = tsig_name
        try:
            secret = base64.b64decode(tsig_secret, validate=True)
        except (binascii.Error, ValueError):
            raise ProviderError(
                f"rfc2136: zone {self.zone}: TSIG secret of key {tsig_name} is not base64"
            ) from None
        try:
            self._key = dns.tsig.Key(tsig_name, secret, tsig_algorithm)
        except dns.exception.DNSException as exc:
            raise ProviderError(f"rfc2136: zone {self.zone}: TSIG key {tsig_name}: {exc}") from None

    def __repr__(self) -> str:  # never show the secret
        return f"RFC2136Provider(zone={self.zone!r}, server={self.where!r}, key={self.tsig_name!r})"

    @property
    def where(self) -> str:
        return f"{self.server}:{self.port}"

    def _list(self, names: set[str] | None) -> list[RecordSet]:
        if names is None:
            return _record_sets(self._transfer(), "TXT")
        return [rs for n in names if (rs := self._query(n))]

    def _list_type(self, names: set[str], rtype: str) -> list[RecordSet]:
        # AXFR, not queries: a delegation's NS and glue come back from a query as a
        # referral at best (see the module docstring); the transfer is the zone's own data.
        return [rs for rs in _record_sets(self._transfer(), rtype) if rs.name in names]

    def _apply(self, changes: Sequence[Change]) -> None:
        update = dns.update.UpdateMessage(self.zone + ".")
        update.use_tsig(self._key)
        for change in changes:
            owner = dns.name.from_text(change.name)
            update.delete(owner, _TYPES[change.rtype])
            if isinstance(change, Delete):
                continue
            for value in change.new.values:
                update.add(owner, change.new.ttl, self._rdata(change.rtype, value))
        names = ", ".join(dict.fromkeys(c.name for c in changes))
        response = self._send(update, f"update of {names}")
        self._check_rcode(response.rcode(), f"update of {names}", _extended_errors(response))
        log.info(
            "rfc2136: updated %d record set(s) in %s at %s", len(changes), self.zone, self.where
        )

    def _rdata(self, rtype: str, value: str) -> dns.rdata.Rdata:
        if rtype == "TXT":
            strings = [s.encode("ascii") for s in split_txt(value, self.max_string_length)]
            return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings)
        text = value + "." if rtype == "NS" else value  # an NS target is absolute
        return dns.rdata.from_text(dns.rdataclass.IN, _TYPES[rtype], text)

    def _query(self, name: str) -> RecordSet | None:
        query = dns.message.make_query(name + ".", dns.rdatatype.TXT)
        query.use_tsig(self._key)
        response = self._send(query, f"query of {name}")
        rcode = response.rcode()
        if rcode != dns.rcode.NXDOMAIN:
            self._check_rcode(rcode, f"query of {name}", _extended_errors(response))
        owner = dns.name.from_text(name)
        for rrset in response.answer:
            if rrset.name == owner and rrset.rdtype == dns.rdatatype.TXT:
                return RecordSet(name, _texts(rrset), rrset.ttl)
        return None

    def _transfer(self) -> dns.zone.Zone:
        """The whole zone, by AXFR (occluded glue included)."""
        zone = dns.zone.Zone(self.zone + ".", relativize=False)
        query, _ = dns.xfr.make_query(zone, keyring=self._key)
        try:
            dns.query.inbound_xfr(
                self.server,
                zone,
                query,
                port=self.port,
                timeout=self.timeout,
                lifetime=self.timeout,
            )
        except dns.xfr.TransferError as exc:
            rcode = exc.rcode
            what = "zone transfer (AXFR must be allowed for the TSIG key)"
            self._check_rcode(rcode, what)
            raise ProviderError(self._message(what, dns.rcode.to_text(rcode))) from None
        except Exception as exc:
            raise self._error(exc, "zone transfer") from None
        return zone

    def _send(self, message: dns.message.Message, what: str) -> dns.message.Message:
        try:
            return dns.query.tcp(message, self.server, timeout=self.timeout, port=self.port)
        except Exception as exc:
            raise self._error(exc, what) from None

    def _error(self, exc: Exception, what: str) -> ProviderError:
        """Map a transport or TSIG failure; the message names server, zone and record."""
        if isinstance(exc, dns.tsig.PeerError | dns.tsig.BadSignature | dns.message.UnknownTSIGKey):
            return ProviderAuthError(
                self._message(what, f"TSIG key {self.tsig_name} rejected ({exc})")
            )
        if isinstance(exc, dns.exception.Timeout):
            return ProviderServerError(self._message(what, f"timed out after {self.timeout}s"))
        if isinstance(exc, OSError | EOFError):
            return ProviderServerError(self._message(what, f"connection failed ({exc})"))
        if isinstance(exc, dns.exception.DNSException):
            return ProviderError(self._message(what, str(exc)))
        raise exc

    def _check_rcode(self, rcode: dns.rcode.Rcode, what: str, detail: str = "") -> None:
        if rcode == dns.rcode.NOERROR:
            return
        reason = f"server answered {dns.rcode.to_text(rcode)}" + (f" [{detail}]" if detail else "")
        if rcode in _AUTH_RCODES:
            hint = f"TSIG key {self.tsig_name} not allowed, or zone not served there"
            raise ProviderAuthError(self._message(what, f"{reason} ({hint})"))
        if rcode == dns.rcode.SERVFAIL:
            raise ProviderServerError(self._message(what, reason))
        raise ProviderError(self._message(what, reason))

    def _message(self, what: str, reason: str) -> str:
        return f"rfc2136: {what} (zone {self.zone}, server {self.where}): {reason}"


def _extended_errors(response: dns.message.Message) -> str:
    """The answer's Extended DNS Errors (RFC 8914), as "EDE 18 (Prohibited): text"."""
    return "; ".join(option.to_text() for option in response.extended_errors())


def _record_sets(zone: dns.zone.Zone, rtype: str) -> list[RecordSet]:
    """The ``rtype`` record sets of a transferred zone, values in the change model's form."""
    found = []
    for owner, rdataset in zone.iterate_rdatasets(_TYPES[rtype]):
        name = owner.to_text(omit_final_dot=True).lower()
        values = _texts(rdataset) if rtype == "TXT" else _values(rdataset)
        found.append(RecordSet(name, values, rdataset.ttl, rtype))
    return found


def _values(rdatas: Iterable[Any]) -> tuple[str, ...]:
    """NS targets (lower case, no trailing dot) or A/AAAA addresses (short form), sorted."""
    values = []
    for rd in rdatas:
        if isinstance(rd, dns.rdtypes.ANY.NS.NS):
            values.append(rd.target.to_text(omit_final_dot=True).lower())
        elif isinstance(rd, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA):
            values.append(str(ipaddress.ip_address(rd.address)))
    return tuple(sorted(values))


def _texts(rdatas: Iterable[Any]) -> tuple[str, ...]:
    """The logical values of TXT rdatas, sorted: character-strings joined (RFC 7208 3.3)."""
    return tuple(
        sorted(
            b"".join(rd.strings).decode("ascii", "replace")
            for rd in rdatas
            if isinstance(rd, dns.rdtypes.ANY.TXT.TXT)
        )
    )
