"""libspf2 (``spfquery``) against macro mode, inside a private network namespace.

Run by :mod:`tests.macro.test_live` as ``unshare --mount --net -- python -m
tests.macro.libspf2_netns``: as :mod:`tests.conformance.drivers.libspf2_netns` does,
it brings up loopback and points ``/etc/resolv.conf`` at 127.0.0.1, then starts rbldnsd
(serving the job's dataset) and, on 127.0.0.1:53, BIND serving the root records and
forwarding the macro zone to it. Reads ``{"zone", "dataset", "zonedata", "queries"}`` on
stdin and writes ``{"outcomes": [{"result", "detail"}, ...]}``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.conformance.drivers.libspf2_netns import isolate, run_batch
from tests.macro.servers import MacroBindServer, RbldnsdServer


def main() -> None:
    job: dict[str, Any] = json.load(sys.stdin)
    with tempfile.TemporaryDirectory(prefix="spfmanager-macro-spfquery-") as tmp:
        isolate(Path(tmp))
        with (
            RbldnsdServer(job["dataset"], job["zone"]) as rbldnsd,
            MacroBindServer(rbldnsd.port, job["zone"], port=53) as bind,
        ):
            bind.load({".": job["zonedata"]}, ttl=1)
            outcomes = run_batch(job["queries"], Path(tmp))
    json.dump({"outcomes": outcomes}, sys.stdout)


if __name__ == "__main__":
    main()
