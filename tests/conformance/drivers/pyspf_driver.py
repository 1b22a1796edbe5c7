"""Drive pyspf (module ``spf``) in batch against one DNS server on 127.0.0.1.

``python -m tests.conformance.drivers.pyspf_driver PORT`` reads ``{"ip", "mailfrom",
"helo"}`` JSON lines on stdin and writes ``{"result", "detail"}`` lines: pyspf's own result
names (``check()[0]``), its explanation or error text as detail.

pyspf resolves with dnspython's module-level ``dns.resolver.query``, that is through the
default resolver; replacing that resolver (no system configuration, only 127.0.0.1:PORT)
makes every query of this process go to the test server.
"""

from __future__ import annotations

import json
import sys

import dns.resolver
import spf  # type: ignore[import-untyped]  # pyspf ships no type information

TIMEOUT = 5.0  # seconds, per DNS query (pyspf's ``timeout``); the server is local


def point_at(port: int) -> None:
    """Send every dnspython query of this process to 127.0.0.1:``port``, and nowhere else."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.timeout = 2.0
    resolver.lifetime = TIMEOUT
    dns.resolver.default_resolver = resolver


def check(ip: str, mailfrom: str, helo: str) -> dict[str, str]:
    try:
        result, _code, detail = spf.query(i=ip, s=mailfrom, h=helo, timeout=TIMEOUT).check()
    except Exception as exc:  # a crash of the library is a finding, not a driver failure
        return {"result": "exception", "detail": f"{type(exc).__name__}: {exc}"}
    return {"result": str(result), "detail": str(detail)}


def main() -> None:
    point_at(int(sys.argv[1]))
    for line in sys.stdin:
        if line.strip():
            query = json.loads(line)
            outcome = check(query["ip"], query["mailfrom"], query["helo"])
            sys.stdout.write(json.dumps(outcome) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
