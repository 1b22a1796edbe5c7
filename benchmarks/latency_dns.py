"""A loopback DNS server that answers zonedata after a fixed delay, queries overlapping.

:class:`LatencyDNSServer` runs the server in a child process (its own GIL: the benchmark's
CPU work cannot delay its answers), on 127.0.0.1 only, UDP and TCP on one ephemeral port.
It serves a zonedata file (the ``--dns-snapshot`` form, read by
:class:`~spfmanager.dns.snapshot.SnapshotResolver`) as an authoritative server would: AA
set, an SOA in the authority section of NODATA and NXDOMAIN answers (so
:class:`~spfmanager.dns.resolver.LiveResolver` believes them), TC set on a UDP answer over
512 bytes (or the query's EDNS payload) and the full answer over TCP; a ``TIMEOUT`` name
gets no answer.

Every answer is sent ``rtt`` seconds after its query arrived, each on its own timer, so
concurrent queries overlap instead of queueing. The server counts the queries received and
the most received but not yet answered at any moment (:attr:`ServerStats.max_in_flight`).
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.TXT import TXT as TXTRdata

from spfmanager.dns.base import MXRecord, RData, RRType, TXTRecord
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import DNSTemporaryError

HOST = "127.0.0.1"  # loopback only, never another address
UDP_LIMIT = 512  # RFC 1035 4.2.1, without EDNS
NEGATIVE_TTL = 300  # the SOA minimum of NODATA / NXDOMAIN answers (RFC 2308)
START_TIMEOUT = 60.0  # seconds the child process has to start serving
POLL = 0.05  # seconds between the server threads' looks at the stop flag


@dataclass(frozen=True)
class ServerStats:
    """What the server saw since it started or was last reset."""

    udp: int = 0  # queries received over UDP
    tcp: int = 0  # queries received over TCP
    truncated: int = 0  # UDP answers sent with TC set (retried over TCP)
    dropped: int = 0  # queries left unanswered (TIMEOUT names, unparsable messages)
    max_in_flight: int = 0  # most queries received and not yet answered at one moment
    names: dict[str, int] = field(default_factory=dict)  # "name TYPE" -> queries

    @property
    def queries(self) -> int:
        return self.udp + self.tcp


# -- answers -----------------------------------------------------------------------------------


def _zone(qname: dns.name.Name) -> dns.name.Name:
    """The zone the server speaks for: the name's last two labels (and the root's)."""
    labels = qname.labels[-3:]
    return dns.name.Name(labels)


def _rdata(record: RData, rrtype: RRType) -> dns.rdata.Rdata:
    rdclass, rdtype = dns.rdataclass.IN, dns.rdatatype.from_text(rrtype.value)
    if isinstance(record, TXTRecord):  # zonedata strings may be longer than DNS carries
        chunks = [s[i : i + 255] for s in record.strings for i in range(0, max(len(s), 1), 255)]
        return TXTRdata(rdclass, rdtype, chunks)
    if isinstance(record, MXRecord):
        return dns.rdata.from_text(rdclass, rdtype, f"{record.preference} {record.exchange}.")
    if isinstance(record, str):  # PTR, CNAME: a name
        return dns.rdata.from_text(rdclass, rdtype, record.rstrip(".") + ".")
    return dns.rdata.from_text(rdclass, rdtype, str(record))  # A, AAAA


def respond(query: dns.message.Message, zonedata: SnapshotResolver) -> dns.message.Message | None:
    """The authoritative answer to ``query``; None for a name the zonedata times out."""
    response = dns.message.make_response(query)
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    try:
        rrtype = RRType(dns.rdatatype.to_text(question.rdtype))
    except ValueError:
        rrtype = None
    response.flags |= dns.flags.AA
    name = ".".join(label.decode("utf-8", "replace") for label in question.name.labels if label)
    answer = None
    if rrtype is not None:
        try:
            answer = zonedata.query(name, rrtype)
        except DNSTemporaryError:
            return None
    if answer is not None and answer.records:
        assert rrtype is not None
        rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, question.rdtype)
        for record in answer.records:
            rrset.add(_rdata(record, rrtype), answer.ttl)
        response.answer.append(rrset)
        return response
    zone = _zone(question.name).to_text()
    response.authority.append(
        dns.rrset.from_text(
            zone,
            NEGATIVE_TTL,
            "IN",
            "SOA",
            f"ns.{zone} hostmaster.{zone} 1 3600 600 86400 {NEGATIVE_TTL}",
        )
    )
    if answer is not None and answer.nxdomain:
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response


def _udp_wire(query: dns.message.Message, response: dns.message.Message) -> tuple[bytes, bool]:
    """The UDP form of ``response``: as is when it fits, else empty with TC set."""
    limit = max(UDP_LIMIT, query.payload) if query.edns >= 0 else UDP_LIMIT
    try:
        return response.to_wire(max_size=limit), False
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.AA | dns.flags.TC
        return truncated.to_wire(max_size=limit), True


# -- the server (child process) ----------------------------------------------------------------


class _Server:
    """UDP and TCP on one port; every answer on its own timer, ``rtt`` after its query."""

    def __init__(self, zonedata: SnapshotResolver, rtt: float) -> None:
        self.zonedata = zonedata
        self.rtt = rtt
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._names: Counter[str] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((HOST, 0))
        self.port: int = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((HOST, self.port))
        self.tcp.listen(64)
        for sock in (self.udp, self.tcp):
            sock.settimeout(POLL)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._serve_udp, name="dns-udp", daemon=True),
            threading.Thread(target=self._serve_tcp, name="dns-tcp", daemon=True),
        ]
        for thread in threads:
            thread.start()
        return threads

    def stats(self) -> ServerStats:
        with self._lock:
            return ServerStats(
                udp=self._counts["udp"],
                tcp=self._counts["tcp"],
                truncated=self._counts["truncated"],
                dropped=self._counts["dropped"],
                max_in_flight=self._max_in_flight,
                names=dict(sorted(self._names.items())),
            )

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._names.clear()
            self._max_in_flight = self._in_flight

    def close(self) -> None:
        self.stop.set()
        self.udp.close()
        self.tcp.close()

    def _received(self, transport: str, wire: bytes) -> dns.message.Message | None:
        """Count a query in; None (and counted out again) when it does not parse."""
        with self._lock:
            self._counts[transport] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            self._answered(dropped=True)
            return None
        if query.question:
            question = query.question[0]
            key = f"{question.name.to_text().rstrip('.').lower()} "
            key += dns.rdatatype.to_text(question.rdtype)
            with self._lock:
                self._names[key] += 1
        return query

    def _answered(self, *, dropped: bool = False, truncated: bool = False) -> None:
        # Counted out *before* the answer leaves: a client's next query must not find
        # this one still in flight.
        with self._lock:
            self._in_flight -= 1
            self._counts["dropped"] += dropped
            self._counts["truncated"] += truncated

    def _serve_udp(self) -> None:
        while not self.stop.is_set():
            try:
                wire, client = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            query = self._received("udp", wire)
            if query is None:
                continue
            timer = threading.Timer(self.rtt, self._answer_udp, (query, client))
            timer.daemon = True
            timer.start()

    def _answer_udp(self, query: dns.message.Message, client: Any) -> None:
        response = respond(query, self.zonedata)
        if response is None:
            self._answered(dropped=True)
            return
        wire, truncated = _udp_wire(query, response)
        self._answered(truncated=truncated)
        with suppress(OSError):
            self.udp.sendto(wire, client)

    def _serve_tcp(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(
                target=self._serve_connection, args=(conn,), name="dns-tcp-conn", daemon=True
            ).start()

    def _serve_connection(self, conn: socket.socket) -> None:
        """One connection's queries, answered in turn (dnspython sends one per connection;
        connections run concurrently, each on its own thread)."""
        conn.settimeout(5.0)
        with conn:
            while not self.stop.is_set():
                try:
                    header = _read_exactly(conn, 2)
                    if header is None:
                        return
                    wire = _read_exactly(conn, struct.unpack("!H", header)[0])
                except OSError:
                    return
                if wire is None:
                    return
                arrived = time.monotonic()
                query = self._received("tcp", wire)
                if query is None:
                    return
                response = respond(query, self.zonedata)
                time.sleep(max(0.0, arrived + self.rtt - time.monotonic()))
                if response is None:
                    self._answered(dropped=True)
                    continue
                answer = response.to_wire(max_size=65535)
                self._answered()
                try:
                    conn.sendall(struct.pack("!H", len(answer)) + answer)
                except OSError:
                    return


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    """``size`` bytes from ``conn``; None at end of stream."""
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _server_main(conn: Connection, zonedata: str, rtt: float) -> None:
    """The child process: serve until told to stop, the pipe closes or the parent dies.

    Commands over ``conn``: ``"stats"`` (answered with a :class:`ServerStats`), ``"reset"``
    (answered with True), ``"stop"``.
    """
    parent = os.getppid()
    server = _Server(SnapshotResolver.from_file(zonedata), rtt)
    threads = server.start()
    conn.send(server.port)
    try:
        while os.getppid() == parent:
            if not conn.poll(0.5):
                continue
            command = conn.recv()
            if command == "stats":
                conn.send(server.stats())
            elif command == "reset":
                server.reset()
                conn.send(True)
            else:
                break
    except (EOFError, OSError):
        pass
    finally:
        server.close()
        for thread in threads:
            thread.join(2.0)


class LatencyDNSServer:
    """The server process, seen from the benchmark: a context manager that stops it."""

    def __init__(self, zonedata: str | Path, rtt: float) -> None:
        """Serve the zonedata file ``zonedata``, answering ``rtt`` seconds after each query."""
        context = get_context("spawn")  # no fork of a threaded parent
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_server_main,
            args=(child, str(zonedata), rtt),
            name="latency-dns",
            daemon=True,
        )
        self._process.start()
        child.close()
        try:
            if not self._conn.poll(START_TIMEOUT):
                raise EOFError
            self.port: int = self._conn.recv()
        except EOFError:
            self.close()
            raise RuntimeError("the loopback DNS server did not start") from None
        self.host = HOST

    def stats(self) -> ServerStats:
        """Counts since the start or the last :meth:`reset`."""
        return self._ask("stats")  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Start counting afresh."""
        self._ask("reset")

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        if not self._conn.poll(10.0):
            raise RuntimeError(f"the loopback DNS server did not answer {command!r}")
        return self._conn.recv()

    def close(self) -> None:
        """Stop the server process (killed if it does not end within a few seconds)."""
        with suppress(OSError, BrokenPipeError):
            self._conn.send("stop")
        self._process.join(5.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5.0)
        self._conn.close()

    def __enter__(self) -> LatencyDNSServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
