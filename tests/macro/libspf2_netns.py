"""libspf2 (``spfquery``) against macro mode, inside a private network namespace.

Run by :mod:`tests.macro.test_live` as ``unshare --mount --net -- python -m
tests.macro.libspf2_netns``: as :mod:`tests.conformance.drivers.libspf2_netns` does,
it brings up loopback and points ``/etc/resolv.conf`` at 127.0.0.1, then starts rbldnsd
(serving the job's dataset) and, on 127.0.0.1:53, BIND serving the root records and
forwarding the macro zone to it. Reads ``{"zone", "dataset", "zonedata", "queries"}`` on
stdin and writes ``{"outcomes": [{"result", "detail"}, ...]}``.

With ``"records"`` (owner name -> TXT text, :func:`spfmanager.macro.render_records`)
instead of ``"dataset"``, the macro zone is served from those wildcard records in place of
rbldnsd, on a port of its own and forwarded the same way: by a BIND zone, or with
``"server": "powerdns"`` by a PowerDNS (sqlite3 backend) they are published to through
spfmanager's PowerDNS provider (:func:`publish_to_powerdns`).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from spfmanager.providers.powerdns import PowerDNSProvider
from spfmanager.publish.changes import Create, RecordSet
from tests.conformance.drivers.libspf2_netns import isolate, run_batch
from tests.integration.bind import BindServer
from tests.integration.pdns import PowerDNSServer
from tests.macro.servers import MacroBindServer, RbldnsdServer


def publish_to_powerdns(
    server: PowerDNSServer, zone: str, records: Mapping[str, str], ttl: int = 1
) -> PowerDNSProvider:
    """Create ``zone`` on ``server`` and publish ``records`` to it in one provider batch."""
    server.create_zone(zone)
    provider = PowerDNSProvider(zone, server.api_url, server.api_key)
    provider.apply([Create(RecordSet(name, (text,), ttl)) for name, text in records.items()])
    return provider


def serve_macro_zone(job: dict[str, Any], directory: Path, stack: ExitStack) -> int:
    """Start the server of the job's macro zone (stopped with ``stack``); its port."""
    zone = job["zone"]
    if "records" not in job:
        return stack.enter_context(RbldnsdServer(job["dataset"], zone)).port
    if job.get("server") == "powerdns":
        pdns = stack.enter_context(PowerDNSServer(directory / "pdns"))
        publish_to_powerdns(pdns, zone, job["records"])
        return pdns.dns_port
    zonedata = {name: [{"TXT": text}] for name, text in job["records"].items()}
    return stack.enter_context(BindServer({zone: zonedata}, ttl=1)).port


def main() -> None:
    job: dict[str, Any] = json.load(sys.stdin)
    with tempfile.TemporaryDirectory(prefix="spfmanager-macro-spfquery-") as tmp:
        isolate(Path(tmp))
        with ExitStack() as stack:
            port = serve_macro_zone(job, Path(tmp), stack)
            bind = stack.enter_context(MacroBindServer(port, job["zone"], port=53))
            bind.load({".": job["zonedata"]}, ttl=1)
            outcomes = run_batch(job["queries"], Path(tmp))
    json.dump({"outcomes": outcomes}, sys.stdout)


if __name__ == "__main__":
    main()
