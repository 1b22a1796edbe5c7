"""Drive libspf2's ``spfquery`` in batch, inside a private network namespace.

libspf2 resolves through the C library's resolver, which reads ``/etc/resolv.conf`` and
only ever talks to port 53. So :mod:`tests.conformance.receivers` runs this module as
``unshare --mount --net -- python -m tests.conformance.drivers.libspf2_netns``: in the new
namespace the only network is a fresh loopback, ``/etc/resolv.conf`` is bind-mounted (in
the private mount namespace only) to a file naming 127.0.0.1, and a
:class:`~tests.integration.bind.BindServer` listens on 127.0.0.1:53. Nothing can leave
the namespace: it has no other interface.

Reads one JSON document on stdin, ``{"batches": [{"zonedata": ..., "queries": [{"ip",
"mailfrom", "helo"}, ...]}, ...]}``, serves each batch's zonedata in turn and writes
``{"batches": [[{"result", "detail"}, ...], ...]}``: libspf2's own result names
(``SPF_strresult``: ``pass``, ..., ``(invalid)``).

Queries go to ``spfquery -file`` in runs (one process per run of consecutive queries);
``-debug`` makes it print a ``Context: Main query`` block with ``Response result:`` for
each query, the one unambiguous delimiter in its output (without it, error blocks replace
or precede the result lines). A query the file format cannot carry (a space in MAIL FROM
or HELO, an empty field) is run on its own with ``-ip``/``-sender``/``-helo``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.integration.bind import BindServer

SPFQUERY = "spfquery.libspf2"  # Debian's name; /usr/bin/spfquery is an alternative
RESOLV_CONF = "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n"
RUN_TIMEOUT = 20.0  # seconds per spfquery process, plus PER_QUERY each query
PER_QUERY = 2.0

_MAIN_QUERY = re.compile(r"^Context: Main query\nResponse result: (.*)$", re.MULTILINE)
_DETAIL = re.compile(r"^Response err: (.*)$", re.MULTILINE)

Query = dict[str, str]
Outcome = dict[str, str]


def isolate(directory: Path) -> None:
    """Bring up loopback and point the C resolver at 127.0.0.1 (this namespace only)."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
    resolv = directory / "resolv.conf"
    resolv.write_text(RESOLV_CONF, encoding="ascii")
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True, timeout=10)


def fits_file_format(query: Query) -> bool:
    """Whether spfquery's ``-file`` line (``ip sender helo``, split at blanks) carries it."""
    fields = (query["ip"], query["mailfrom"], query["helo"])
    return all(field and not any(c.isspace() for c in field) for field in fields) and not (
        query["ip"].startswith("#")
    )


def run_file(queries: Sequence[Query], directory: Path) -> list[Outcome]:
    lines = "".join(f"{q['ip']} {q['mailfrom']} {q['helo']}\n" for q in queries)
    path = directory / "queries.txt"
    path.write_text(lines, encoding="utf-8")
    return _spfquery(["-file", str(path)], len(queries))


def run_args(query: Query) -> list[Outcome]:
    args = ["-ip", query["ip"], "-sender", query["mailfrom"]]
    if query["helo"]:
        args += ["-helo", query["helo"]]
    return _spfquery(args, 1)


def _spfquery(args: list[str], expected: int) -> list[Outcome]:
    completed = subprocess.run(
        [SPFQUERY, "-debug=1", *args],
        capture_output=True,
        timeout=RUN_TIMEOUT + PER_QUERY * expected,
        check=False,
    )
    out = completed.stdout.decode("utf-8", errors="replace")
    blocks = out.split("--vv--\n")[1:]
    outcomes = []
    for block in blocks:
        found = _MAIN_QUERY.search(block)
        if found is None:
            continue  # an RCPT-TO or fallback block: not used here
        detail = _DETAIL.search(block)
        outcomes.append(
            {"result": found.group(1).strip(), "detail": detail.group(1) if detail else ""}
        )
    if len(outcomes) != expected:
        err = completed.stderr.decode("utf-8", errors="replace")
        raise RuntimeError(
            f"spfquery {args}: {len(outcomes)} results for {expected} queries "
            f"(exit {completed.returncode})\n{out[-3000:]}\n{err[-2000:]}"
        )
    return outcomes


def run_batch(queries: Sequence[Query], directory: Path) -> list[Outcome]:
    outcomes: list[Outcome] = []
    pending: list[Query] = []
    for query in queries:
        if fits_file_format(query):
            pending.append(query)
            continue
        if pending:
            outcomes += run_file(pending, directory)
            pending = []
        outcomes += run_args(query)
    if pending:
        outcomes += run_file(pending, directory)
    return outcomes


def main() -> None:
    job: dict[str, Any] = json.load(sys.stdin)
    results = []
    with tempfile.TemporaryDirectory(prefix="spfmanager-spfquery-") as tmp:
        isolate(Path(tmp))
        with BindServer({".": {}}, port=53) as server:
            for batch in job["batches"]:
                server.load({".": batch["zonedata"]})
                results.append(run_batch(batch["queries"], Path(tmp)))
    json.dump({"batches": results}, sys.stdout)


if __name__ == "__main__":
    main()
