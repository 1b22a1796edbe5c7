"""A hostile authoritative DNS server on 127.0.0.1 for tests: real DNS over real sockets
(UDP and TCP, dnspython messages), misbehaving on purpose.

Usage::

    with HostileDNS("hostile.test") as server:
        server.add("mail.hostile.test", "A", "192.0.2.10")
        server.fanout("fan.hostile.test", width=20, depth=4)
        server.truncate("tc.hostile.test")           # TC over UDP and over TCP
        server.cname("cut.hostile.test", "elsewhere.example")  # a chain that ends nowhere
        server.silent("slow.hostile.test")            # never answers
        resolver = server.resolver()

What it serves, for names under ``origin`` (anything else is REFUSED):

* ordinary records added with :meth:`HostileDNS.add` (rdata in zone-file syntax; TXT values
  are plain text, split into 255-octet strings);
* a **fan-out include tree** (:meth:`HostileDNS.fanout`): the TXT record at ``label`` and
  at every ``n<i>.`` child down to ``depth`` levels is ``v=spf1 include:n0.<name> ...
  include:n<width-1>.<name> -all``; the leaves list one ``ip4`` each. Generated on the fly,
  so ``width ** depth`` names cost nothing until asked for;
* **truncated answers** (:meth:`HostileDNS.truncate`): over UDP an empty answer with TC
  (so clients retry over TCP), over TCP every record but the last (none when there is
  only one), TC still set;
* **CNAME chains** (:meth:`HostileDNS.cname`), chased inside the zone like an authoritative
  server does: a loop gives every CNAME of the loop and stops; a target outside ``origin``
  gives the CNAMEs alone with the zone's SOA (which does not cover the target);
* **referrals** (:meth:`HostileDNS.lame`): NOERROR, not authoritative, no answer, an NS
  record in the authority section (what a lame delegation sends a stub resolver);
* **bare NODATA** (:meth:`HostileDNS.bare`): authoritative (AA), no answer, no SOA;
* **silence** (:meth:`HostileDNS.silent`): the query is read and never answered, over UDP
  and TCP.

Otherwise it answers like a well-behaved authority: NXDOMAIN or NODATA with the zone's SOA
in the authority section, AA set. Answers too large for the client's UDP size are sent
truncated. ``queries`` counts every query received (silent ones included), ``asked`` keeps
the names asked, in order. Every thread is bounded: sockets poll a stop event, and
:meth:`HostileDNS.stop` joins them with a timeout.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import suppress
from ipaddress import IPv4Address

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.TXT import TXT

from spfmanager.dns.resolver import LiveResolver
from tests.integration.servers import LoopbackServer

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
TTL = 300
NEGATIVE_TTL = 60
MAX_CHASE = 8  # CNAMEs chased inside the zone, like BIND's limit of a few
POLL = 0.05  # seconds between looks at the stop event
JOIN_TIMEOUT = 5.0
TCP_READ_TIMEOUT = 10.0  # a client that sends nothing for this long is dropped


def _text(name: dns.name.Name | str) -> str:
    text = name.to_text() if isinstance(name, dns.name.Name) else name
    return text.rstrip(".").lower()


class HostileDNS(LoopbackServer):
    """The server; see the module docstring. Not started until :meth:`start` (or ``with``)."""

    def __init__(self, origin: str = "hostile.test") -> None:
        self.origin = _text(origin)
        self.host = HOST
        self.port = 0
        self.queries = 0
        self.asked: list[tuple[str, str]] = []
        self._records: dict[tuple[str, str], list[str]] = {}
        self._cnames: dict[str, str] = {}
        self._fanouts: dict[str, tuple[int, int]] = {}
        self._truncated: set[str] = set()
        self._silent: set[str] = set()
        self._lame: set[str] = set()
        self._bare: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []  # the UDP and the TCP listener
        self._workers: list[threading.Thread] = []  # one per TCP connection
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None

    # -- what to serve ----------------------------------------------------------------------

    def add(self, name: str, rrtype: str, *values: str) -> None:
        """Serve ``values`` (zone-file rdata; TXT as plain text) as ``name``'s ``rrtype``."""
        self._records.setdefault((_text(name), rrtype.upper()), []).extend(values)

    def cname(self, name: str, target: str) -> None:
        """``name`` is an alias of ``target``."""
        self._cnames[_text(name)] = _text(target)

    def fanout(self, label: str, width: int = 20, depth: int = 4) -> None:
        """An include tree ``width`` wide and ``depth`` deep below ``label``."""
        self._fanouts[_text(label)] = (width, depth)

    def truncate(self, name: str) -> None:
        """Answer ``name`` with TC set, over UDP and over TCP."""
        self._truncated.add(_text(name))

    def silent(self, name: str) -> None:
        """Never answer queries for ``name``."""
        self._silent.add(_text(name))

    def lame(self, name: str) -> None:
        """Answer ``name`` with a referral: no AA, no answer, NS in the authority section."""
        self._lame.add(_text(name))

    def bare(self, name: str) -> None:
        """Answer ``name`` with AA set and nothing else: no records, no SOA."""
        self._bare.add(_text(name))

    def resolver(
        self, *, cache: bool = True, timeout: float = 2.0, lifetime: float = 5.0
    ) -> LiveResolver:
        """A LiveResolver asking this server."""
        return LiveResolver(
            [self.host], port=self.port, timeout=timeout, lifetime=lifetime, cache=cache
        )

    # -- answers ----------------------------------------------------------------------------

    def _in_zone(self, name: str) -> bool:
        return name == self.origin or name.endswith("." + self.origin)

    def _fanout_record(self, name: str) -> str | None:
        """The generated TXT record at ``name``, when it is a node of a fan-out tree."""
        labels: list[str] = []
        current = name
        while current:
            if current in self._fanouts:
                width, depth = self._fanouts[current]
                if len(labels) > depth:
                    return None
                indexes = []
                for label in labels:
                    if not label.startswith("n") or not label[1:].isdigit():
                        return None
                    indexes.append(int(label[1:]))
                if any(i >= width for i in indexes):
                    return None
                if len(labels) == depth:
                    number = sum(i * width**k for k, i in enumerate(indexes)) % (1 << 24)
                    return f"v=spf1 ip4:{IPv4Address((10 << 24) + number)} -all"
                includes = " ".join(f"include:n{i}.{name}" for i in range(width))
                return f"v=spf1 {includes} -all"
            head, _, current = current.partition(".")
            labels.append(head)
        return None

    def _values(self, name: str, rrtype: str) -> list[str]:
        values = list(self._records.get((name, rrtype), []))
        if rrtype == "TXT":
            generated = self._fanout_record(name)
            if generated is not None:
                values.append(generated)
        return values

    def _exists(self, name: str) -> bool:
        return (
            any(key[0] == name for key in self._records)
            or name in self._cnames
            or self._fanout_record(name) is not None
            or name in self._truncated
            or name == self.origin
        )

    def _rrset(self, name: str, rrtype: str, values: list[str]) -> dns.rrset.RRset:
        owner = dns.name.from_text(name)
        rdtype = dns.rdatatype.from_text(rrtype)
        rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, rdtype)
        for value in values:
            if rdtype == dns.rdatatype.TXT:
                raw = value.encode("latin-1")
                chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
                rdata: dns.rdata.Rdata = TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)
            else:
                rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, value)
            rrset.add(rdata, TTL)
        return rrset

    def _soa(self) -> dns.rrset.RRset:
        value = f"ns.{self.origin}. hostmaster.{self.origin}. 1 3600 600 86400 {NEGATIVE_TTL}"
        return self._rrset(self.origin, "SOA", [value])

    def respond(self, query: dns.message.Message, tcp: bool) -> dns.message.Message | None:
        """The answer to ``query``, or None to stay silent."""
        if len(query.question) != 1:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name = _text(question.name)
        rrtype = dns.rdatatype.to_text(question.rdtype)
        if name in self._silent:
            return None
        response = dns.message.make_response(query)
        if not self._in_zone(name):
            response.set_rcode(dns.rcode.REFUSED)
            return response
        if name in self._lame:
            response.flags &= ~dns.flags.AA
            response.authority.append(self._rrset(name, "NS", [f"ns.{name}."]))
            return response
        response.flags |= dns.flags.AA
        if name in self._bare:
            return response
        if name in self._truncated:
            response.flags |= dns.flags.TC
            half = self._values(name, rrtype)[:-1]
            if tcp and half:  # a partial answer: all records but the last
                response.answer.append(self._rrset(name, rrtype, half))
            return response
        current = name
        seen = {current}
        for _ in range(MAX_CHASE):
            target = self._cnames.get(current)
            if target is None or rrtype == "CNAME":
                break
            response.answer.append(self._rrset(current, "CNAME", [target + "."]))
            if target in seen or not self._in_zone(target):
                # A loop, or a target this server knows nothing about: the chain stops
                # here. (The zone's SOA does not cover an out-of-zone target.)
                response.authority.append(self._soa())
                return response
            seen.add(target)
            current = target
        values = self._values(current, rrtype)
        if values:
            response.answer.append(self._rrset(current, rrtype, values))
        elif self._exists(current):
            response.authority.append(self._soa())
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa())
        return response

    def _answer(self, wire: bytes, tcp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        with self._lock:
            self.queries += 1
            if query.question:
                question = query.question[0]
                self.asked.append((_text(question.name), dns.rdatatype.to_text(question.rdtype)))
        response = self.respond(query, tcp)
        if response is None:
            return None
        if tcp:
            return response.to_wire(max_size=65535)
        limit = max(512, query.payload) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.TC | (response.flags & dns.flags.AA)
            return truncated.to_wire()

    # -- sockets ----------------------------------------------------------------------------

    def start(self) -> HostileDNS:
        """Bind UDP and TCP on one free port of 127.0.0.1 and serve until :meth:`stop`."""
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((HOST, 0))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((HOST, port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            break
        else:
            raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")
        tcp.listen(16)
        udp.settimeout(POLL)
        tcp.settimeout(POLL)
        self._udp, self._tcp, self.port = udp, tcp, port
        for target in (self._serve_udp, self._serve_tcp):
            thread = threading.Thread(target=target, daemon=True, name=f"hostile-dns-{port}")
            thread.start()
            self._threads.append(thread)
        log.debug("hostile DNS server for %s on %s:%d", self.origin, HOST, port)
        return self

    def stop(self) -> None:
        """Stop serving; every thread is joined (bounded) and every socket closed."""
        self._stop.set()
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT)  # no new connections after this
        with self._lock:
            workers = list(self._workers)
        for thread in workers:
            thread.join(JOIN_TIMEOUT)
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()
        self._threads.clear()
        self._workers.clear()

    def _serve_udp(self) -> None:
        assert self._udp is not None
        while not self._stop.is_set():
            try:
                wire, client = self._udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self._answer(wire, tcp=False)
            if reply is not None:
                with suppress(OSError):
                    self._udp.sendto(reply, client)

    def _serve_tcp(self) -> None:
        assert self._tcp is not None
        while not self._stop.is_set():
            try:
                connection, _ = self._tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(
                target=self._serve_connection, args=(connection,), daemon=True
            )
            thread.start()
            with self._lock:
                self._workers.append(thread)

    def _serve_connection(self, connection: socket.socket) -> None:
        connection.settimeout(POLL)
        try:
            for wire in self._messages(connection):
                reply = self._answer(wire, tcp=True)
                if reply is not None:
                    connection.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            pass
        finally:
            connection.close()

    def _messages(self, connection: socket.socket) -> Iterator[bytes]:
        """Length-prefixed messages until the client closes, goes quiet, or we stop."""
        buffer = b""
        idle = 0.0
        while not self._stop.is_set() and idle < TCP_READ_TIMEOUT:
            try:
                chunk = connection.recv(65535)
            except TimeoutError:
                idle += POLL
                continue
            if not chunk:
                return
            idle = 0.0
            buffer += chunk
            while len(buffer) >= 2:
                (size,) = struct.unpack("!H", buffer[:2])
                if len(buffer) < 2 + size:
                    break
                yield buffer[2 : 2 + size]
                buffer = buffer[2 + size :]
