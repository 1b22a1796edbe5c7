"""A loopback DNS server (TCP) that answers every TSIG-signed message with one error.

The answer carries the rcode and an Extended DNS Error (RFC 8914) whose text the test
chooses, and is signed with the same TSIG key, as a real primary's would be::

    with CannedDNSServer(key, dns.rcode.SERVFAIL, "text") as server:
        ...  # server.port, server.queries
"""

from __future__ import annotations

import socket
import struct
import threading

import dns.edns
import dns.exception
import dns.message
import dns.rcode
import dns.tsig


class CannedDNSServer:
    """Answers on 127.0.0.1:``port`` with ``rcode`` and an EDE ``text``."""

    def __init__(
        self,
        key: dns.tsig.Key,
        rcode: dns.rcode.Rcode,
        text: str,
        code: dns.edns.EDECode = dns.edns.EDECode.PROHIBITED,
    ) -> None:
        self.key, self.rcode, self.text, self.code = key, rcode, text, code
        self.queries = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self.port = int(self._socket.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> CannedDNSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        try:
            (length,) = struct.unpack("!H", _read(connection, 2))
            query = dns.message.from_wire(_read(connection, length), keyring=self.key)
        except (OSError, EOFError, dns.exception.DNSException):
            return
        self.queries += 1
        response = dns.message.make_response(query)  # signed: the query was
        response.set_rcode(self.rcode)
        response.use_edns(0, options=[dns.edns.EDEOption(self.code, self.text)])
        wire = response.to_wire()
        connection.sendall(struct.pack("!H", len(wire)) + wire)


def _read(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data
