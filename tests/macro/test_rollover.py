"""Rollover: an upstream change regenerates the dataset, the running rbldnsd picks it up
(atomic replace + its 1-second check interval), and a concurrent prober never sees a wrong
answer: only the old-correct or new-correct record, never NXDOMAIN, SERVFAIL or nothing."""

from __future__ import annotations

import threading
import time
from ipaddress import IPv4Address

import pytest

from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.macro import build_macro, query_name
from tests.macro.intents import ZONE, intent
from tests.macro.servers import RbldnsdServer, require_rbldnsd

pytestmark = pytest.mark.integration

DOMAIN = "roll.example"
UPSTREAM = "_spf.vendor.example"
PROBE_SECONDS = 5.0  # the prober's bound in time
MAX_QUERIES = 50_000  # and in count


def _built(vendor: str) -> str:
    resolver = SnapshotResolver({UPSTREAM: [{"TXT": vendor}]})
    item = intent(DOMAIN, f"v=spf1 include:{UPSTREAM} ip4:192.0.2.0/24 -all")
    return build_macro([item], resolver, ZONE).dataset


def test_rollover_serves_no_wrong_answer() -> None:
    require_rbldnsd()
    old = _built("v=spf1 ip4:198.51.100.0/24 -all")
    new = _built("v=spf1 ip4:203.0.113.0/24 -all")  # the vendor moved
    assert old != new
    moving = query_name(IPv4Address("198.51.100.10"), DOMAIN, ZONE)  # pass, then fail
    steady = query_name(IPv4Address("192.0.2.10"), DOMAIN, ZONE)  # pass throughout
    arriving = query_name(IPv4Address("203.0.113.10"), DOMAIN, ZONE)  # fail, then pass
    allowed = {
        moving: {b"v=spf1 +all", b"v=spf1 -all"},
        steady: {b"v=spf1 +all"},
        arriving: {b"v=spf1 -all", b"v=spf1 +all"},
    }
    seen: dict[str, list[bytes]] = {name: [] for name in allowed}
    wrong: list[tuple[str, int, list[bytes]]] = []
    stop = threading.Event()
    with RbldnsdServer(old, ZONE) as server:
        assert server.txt(moving) == (0, [b"v=spf1 +all"])

        def probe() -> None:
            deadline = time.monotonic() + PROBE_SECONDS
            for count in range(MAX_QUERIES):
                if stop.is_set() or time.monotonic() > deadline:
                    break
                name = list(allowed)[count % 3]
                try:
                    rcode, texts = server.txt(name, timeout=1.0)
                except Exception as exc:  # a timeout is a wrong answer too
                    wrong.append((name, -1, [repr(exc).encode()]))
                    continue
                if rcode != 0 or len(texts) != 1 or texts[0] not in allowed[name]:
                    wrong.append((name, rcode, texts))
                elif not seen[name] or seen[name][-1] != texts[0]:
                    seen[name].append(texts[0])

        prober = threading.Thread(target=probe)
        prober.start()
        time.sleep(0.5)
        server.replace(new)
        prober.join(PROBE_SECONDS + 5)
        stop.set()
        assert not prober.is_alive()
        assert server.txt(moving) == (0, [b"v=spf1 -all"]), server.log_text()[-1000:]
    assert not wrong, wrong[:5]
    # Each name switched at most once, from the old answer to the new.
    assert seen[moving] == [b"v=spf1 +all", b"v=spf1 -all"]
    assert seen[arriving] == [b"v=spf1 -all", b"v=spf1 +all"]
    assert seen[steady] == [b"v=spf1 +all"]
