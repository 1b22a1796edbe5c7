"""The live resolver: queries DNS through dnspython, with a per-run TTL-honouring cache.

Answers are mapped onto :class:`~spfmanager.dns.base.Answer`: NXDOMAIN is
``Answer(nxdomain=True)``, NODATA an empty Answer, and every failure that a retry might
cure (timeout, SERVFAIL, REFUSED, no usable nameserver, a malformed reply) raises
:class:`~spfmanager.errors.DNSTemporaryError`. CNAME chains in the answer are followed
by dnspython; the records returned are those of the type asked for.

Only a clean answer is believed, because an empty answer read wrongly makes a vendor's
addresses vanish from the published record:

* records of the type asked for (at the end of any CNAME chain);
* NODATA: an empty answer with an SOA in the authority section whose zone holds the name
  the answer is about (the last name of the CNAME chain), or, for a name without CNAME,
  an empty answer with AA set (the server speaks for the name);
* NXDOMAIN (which, after a CNAME chain, is about its last name: RFC 6604).

Anything else raises DNSTemporaryError: an answer with TC set (dnspython retries a
truncated UDP answer over TCP, but takes a TCP answer with TC set as it is: possibly
partial or empty), a CNAME chain that stops without the records or an SOA for its last
name (a cut chain: a resolver that gave up, or an out-of-zone target an authoritative
server does not chase), a CNAME loop, a referral or any other empty answer from a server
that is not authoritative and gives no SOA.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv6Address

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
from dns.rdtypes.ANY.MX import MX as MXRdata
from dns.rdtypes.ANY.TXT import TXT as TXTRdata
from dns.rdtypes.IN.A import A as ARdata
from dns.rdtypes.IN.AAAA import AAAA as AAAARdata
from dns.rdtypes.nsbase import NSBase

from spfmanager.dns.base import Answer, MXRecord, RData, RRType, TXTRecord, normalize_name
from spfmanager.errors import ConfigError, DNSTemporaryError

log = logging.getLogger(__name__)

MAX_CACHE_TTL = 86_400  # cap on how long any answer is kept, whatever its TTL
NEGATIVE_TTL_WITHOUT_SOA = 60  # negative answers without an SOA (RFC 2308 5 wants one)


@dataclass(frozen=True, slots=True)
class _Entry:
    answer: Answer
    expires: float


class LiveResolver:
    """Resolves through real DNS servers; implements :class:`~spfmanager.dns.base.Resolver`.

    ``nameservers`` are IP addresses (else ConfigError) queried on ``port``; without them
    the system configuration (``/etc/resolv.conf``) is used. ``timeout`` bounds one
    attempt and ``lifetime`` the whole query (every attempt, every server, and dnspython's
    short back-off between rounds); :meth:`query_within` bounds one query further, for
    callers with a deadline. Truncated UDP answers are retried over TCP.

    With ``cache`` (the default) answers are kept for their TTL, negative ones for the
    zone's negative TTL (RFC 2308). ``queries`` counts queries sent to the network,
    ``cache_hits`` those answered from the cache. Safe to share between threads.
    ``clock`` (seconds, monotonic) is injectable for tests.
    """

    def __init__(
        self,
        nameservers: list[str] | None = None,
        port: int = 53,
        timeout: float = 2.0,
        lifetime: float = 5.0,
        *,
        cache: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            self._resolver = dns.resolver.Resolver(configure=nameservers is None)
        except dns.resolver.NoResolverConfiguration as exc:
            raise DNSTemporaryError(f"no DNS resolver configured: {exc}") from None
        if nameservers is not None:
            try:
                self._resolver.nameservers = list(nameservers)
            except ValueError:
                raise ConfigError([f"nameservers: not IP addresses: {nameservers}"]) from None
        self._resolver.port = port
        self._resolver.timeout = timeout
        self._resolver.lifetime = lifetime
        self._cache_enabled = cache
        self._clock = clock
        self._cache: dict[tuple[str, RRType], _Entry] = {}
        self._lock = threading.Lock()
        self.queries = 0
        self.cache_hits = 0

    @property
    def nameservers(self) -> list[str]:
        """The addresses queried."""
        return [str(ns) for ns in self._resolver.nameservers]

    def clear_cache(self) -> None:
        """Forget every cached answer (the counters are kept)."""
        with self._lock:
            self._cache.clear()

    def query(self, name: str, rrtype: RRType) -> Answer:
        """Answer one query, from the cache when a fresh answer is there."""
        return self._query(name, rrtype, self._resolver.lifetime)

    def query_within(self, name: str, rrtype: RRType, seconds: float) -> Answer:
        """Like :meth:`query`, giving up (DNSTemporaryError) after at most ``seconds``."""
        return self._query(name, rrtype, min(self._resolver.lifetime, seconds))

    def _query(self, name: str, rrtype: RRType, lifetime: float) -> Answer:
        key = (normalize_name(name), rrtype)
        if self._cache_enabled:
            with self._lock:
                entry = self._cache.get(key)
                now = self._clock()
                if entry is not None and entry.expires > now:
                    self.cache_hits += 1
                    remaining = math.ceil(entry.expires - now)
                    return replace(entry.answer, name=name, ttl=remaining)
        answer = self._resolve(name, rrtype, lifetime)
        if self._cache_enabled and answer.ttl > 0:
            ttl = min(answer.ttl, MAX_CACHE_TTL)
            with self._lock:
                self._cache[key] = _Entry(answer, self._clock() + ttl)
        return answer

    def _resolve(self, name: str, rrtype: RRType, lifetime: float) -> Answer:
        qname = dns_name(name)
        if qname is None:
            # A name DNS cannot carry (empty or over-long label) cannot exist.
            log.debug("not querying %r: not a valid DNS name", name)
            return Answer(name, rrtype, (), nxdomain=True, ttl=0)
        where = f"{name} {rrtype}"
        if lifetime <= 0:
            raise DNSTemporaryError(f"timeout querying {where} (no time left to send it)")
        with self._lock:
            self.queries += 1
        try:
            result = self._resolver.resolve(
                qname, rrtype.value, raise_on_no_answer=False, search=False, lifetime=lifetime
            )
        except dns.resolver.NXDOMAIN as exc:
            for response in _responses(exc):
                _check_not_truncated(response, where)
            return Answer(name, rrtype, (), nxdomain=True, ttl=_negative_ttl(exc))
        except dns.exception.Timeout:
            raise DNSTemporaryError(f"timeout querying {where}") from None
        except dns.resolver.NoNameservers as exc:
            # SERVFAIL, REFUSED and the like from every server, or no server at all; also
            # a CNAME loop (dnspython's chain limit) and other unusable answers.
            raise DNSTemporaryError(f"no nameserver answered {where}: {_reasons(exc)}") from None
        except dns.message.ChainTooLong:
            raise DNSTemporaryError(f"CNAME chain too long at {where}") from None
        except dns.exception.DNSException as exc:
            raise DNSTemporaryError(f"DNS error querying {where}: {exc}") from None
        _check_not_truncated(result.response, where)
        chain = result.chaining_result
        if result.rrset is None:
            _check_no_data(result.response, qname, chain.canonical_name, where)
            return Answer(name, rrtype, (), ttl=chain.minimum_ttl)
        return Answer(name, rrtype, _records(result.rrset), ttl=chain.minimum_ttl)


def dns_name(name: str) -> dns.name.Name | None:
    """``name`` as an absolute DNS name, each label taken literally (no escapes, no IDNA).

    None when DNS cannot carry it (an empty label, a label over 63 or a name over 255 octets).
    """
    text = name.rstrip(".")
    labels = [label.encode("utf-8") for label in text.split(".")] if text else []
    try:
        return dns.name.Name([*labels, b""])
    except (dns.name.EmptyLabel, dns.name.LabelTooLong, dns.name.NameTooLong):
        return None


def _check_not_truncated(response: dns.message.Message, where: str) -> None:
    """A final answer with TC set (over TCP: dnspython retries UDP ones) may be partial."""
    if response.flags & dns.flags.TC:
        raise DNSTemporaryError(
            f"truncated answer for {where} even over TCP (TC set): its records may be incomplete"
        )


def _check_no_data(
    response: dns.message.Message, qname: dns.name.Name, last: dns.name.Name, where: str
) -> None:
    """Raise unless an empty answer really says "no such records" (see the module doc).

    ``last`` is the last name of the CNAME chain (``qname`` without one): the name the
    answer is about. An SOA covering it shows the answer comes from its zone's authority.
    The AA bit only speaks for the query name (RFC 1035 4.1.1), so after a CNAME it is not
    enough.
    """
    if _soa_covers(response, last):
        return
    if last == qname:
        if response.flags & dns.flags.AA:
            return
        raise DNSTemporaryError(
            f"empty answer for {where} from a server that is not authoritative and gave no "
            "SOA (a referral, or a broken server): not a trustworthy NODATA"
        )
    raise DNSTemporaryError(
        f"the CNAME chain of {where} stops at {_name_text(last)} without its records or an "
        "SOA for it (a cut chain or a dangling alias): not a trustworthy NODATA"
    )


def _soa_covers(response: dns.message.Message, name: dns.name.Name) -> bool:
    return any(
        rrset.rdtype == dns.rdatatype.SOA
        and rrset.rdclass == dns.rdataclass.IN
        and name.is_subdomain(rrset.name)
        for rrset in response.authority
    )


def _responses(exc: dns.resolver.NXDOMAIN) -> list[dns.message.QueryMessage]:
    responses: dict[dns.name.Name, dns.message.QueryMessage] = exc.kwargs.get("responses") or {}
    return list(responses.values())


def _negative_ttl(exc: dns.resolver.NXDOMAIN) -> int:
    for response in _responses(exc):
        try:
            return int(response.resolve_chaining().minimum_ttl)
        except dns.exception.DNSException:
            break
    return NEGATIVE_TTL_WITHOUT_SOA


def _reasons(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    if not errors:
        return "no nameservers"
    return "; ".join(f"{server}: {error}" for server, _tcp, _port, error, *_ in errors)


def _records(rrset: dns.rrset.RRset) -> tuple[RData, ...]:
    return tuple(_rdata(rdata) for rdata in rrset)


def _rdata(rdata: dns.rdata.Rdata) -> RData:
    if isinstance(rdata, TXTRdata):
        return TXTRecord(tuple(rdata.strings))
    if isinstance(rdata, MXRdata):
        return MXRecord(rdata.preference, _name_text(rdata.exchange))
    if isinstance(rdata, NSBase):  # PTR, CNAME
        return _name_text(rdata.target)
    if isinstance(rdata, ARdata):
        return IPv4Address(rdata.address)
    if isinstance(rdata, AAAARdata):
        return IPv6Address(rdata.address)
    raise DNSTemporaryError(f"unexpected {dns.rdatatype.to_text(rdata.rdtype)} record in answer")


def _name_text(name: dns.name.Name) -> str:
    """A name from an answer as a plain string: labels decoded literally, lower case."""
    return ".".join(label.decode("utf-8", "replace") for label in name.labels if label).lower()
