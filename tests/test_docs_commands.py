"""Every ``spfmanager`` command the docs show runs, offline, as written, with the exit status
the docs promise (issue 12).

Commands are taken from the ```bash / ```sh / ```console / ```shell blocks of each file of
:data:`DOCS`: lines starting with ``spfmanager `` or ``$ spfmanager ``, ``\\``
continuations joined, ``# comments`` dropped. Each file's commands run in order, in one
fresh directory laid out as the docs assume (:func:`workdir_for`): the file's own
``spfmanager.yaml`` example, a ``dns-snapshot.yaml`` for it (:func:`snapshot_for`) and the
repository's ``tests/data``. Whatever needs a network gets it on 127.0.0.1 only: a small
DNS server for ``--nameserver 127.0.0.1``, moto's Route 53 (through ``AWS_ENDPOINT_URL``)
for a config publishing to Route 53.

A command that crashes (a traceback), exits with a status :data:`EXPECTED` does not allow,
or is not in :data:`EXPECTED` at all fails the test: a new command in the docs must be
classified here (the longest matching prefix wins).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
import yaml
from moto.server import ThreadedMotoServer

from tests.cli.run import run_cli

ROOT = Path(__file__).parent.parent
DOCS = ("README.md", "docs/config.md")
LOOPBACK_DNS_PORT = 5353  # the port the README's --nameserver example uses


@dataclass(frozen=True)
class Skip:
    """A command the test does not run, and why (keep this list short)."""

    reason: str


# Expected exit statuses by command prefix (the words after ``spfmanager``; the longest
# matching prefix wins; a final ``$``: the whole command), as the docs state them. Extend it
# when the docs show a new command.
EXPECTED: dict[str, frozenset[int] | Skip] = {
    "init": frozenset({0}),
    "validate": frozenset({0}),  # "exit 0 or 1": 0 for the file init just wrote
    "services": frozenset({0}),
    "snapshot": Skip("records live DNS by design; the test writes dns-snapshot.yaml instead"),
    "build": frozenset({0}),
    "plan": frozenset({0, 2}),  # "exit 0 in sync, 2 changes pending, 1 error"
    "apply": frozenset({0}),
    "daemon": Skip("runs until stopped and resolves live DNS on its schedule"),
    "run-once": Skip("one pass of the daemon over live DNS (no --dns-snapshot in the docs)"),
    "status": frozenset({0, 2}),  # 2: "something held, failing or waiting"
    "approve": frozenset({1}),  # nothing is held after a clean apply: said on stderr
    "history": frozenset({0}),
    "rollback": frozenset({1}),  # one apply so far: "no earlier applied run to go back to"
    "flatten": frozenset({0}),
    "check example.com $": Skip("the docs' one live-DNS example ('# live DNS')"),
    "check github.com --dns-snapshot": frozenset({2}),  # the snapshot's github.com has 2 errors
    "check github.com --ip": frozenset({2}),  # "with --ip: not pass" is 2
    "check example.com --nameserver 127.0.0.1": frozenset({0}),  # the loopback DNS server
    "check example.com --zone": frozenset({0}),  # the zone file 'apply' wrote: no problems
    "explain": frozenset({2}),  # the sample message fails SPF now: 2
    # discover: "0 nothing legitimate fails, 2 suggestions exist"; the samples' senders are
    # unknown or failing depending on the config: either is as documented.
    "discover": frozenset({0, 2}),
    "schema": frozenset({0}),
    # The README's macro-mode commands run from the repository root (examples/macro/ is not
    # in this test's work directory): tests/cli/test_macro_server.py runs exactly them.
    "plan -c examples/macro/spfmanager.yaml": Skip("run by tests/cli/test_macro_server.py"),
    "apply -c examples/macro/spfmanager.yaml": Skip("run by tests/cli/test_macro_server.py"),
    "macro-server": Skip("run from the repo root by tests/cli/test_macro_server.py"),
}


@dataclass(frozen=True)
class DocCommand:
    """One command of a doc file: where it is, as written, and its arguments."""

    doc: str
    line: int
    text: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: spfmanager {shlex.join(self.args)}"


_FENCE = re.compile(r"^\s*```\s*([A-Za-z]*)")
_SHELL = {"bash", "sh", "console", "shell"}


def extract(doc: str) -> list[DocCommand]:
    """The spfmanager commands of ``doc``'s shell blocks, in order."""
    commands: list[DocCommand] = []
    language: str | None = None
    lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
    number = 0
    while number < len(lines):
        line, start = lines[number], number + 1
        number += 1
        fence = _FENCE.match(line)
        if fence:
            language = None if language is not None else fence.group(1).lower()
            continue
        if language not in _SHELL:
            continue
        text = line.strip()
        while text.endswith("\\") and number < len(lines):
            text = text[:-1] + " " + lines[number].strip()
            number += 1
        text = text.removeprefix("$ ")
        if text.startswith("spfmanager "):
            words = shlex.split(text, comments=True)
            commands.append(DocCommand(doc, start, text, tuple(words[1:])))
    return commands


def expectation(command: DocCommand) -> frozenset[int] | Skip | None:
    """The entry of EXPECTED with the longest prefix of the command's words."""
    words = list(command.args)
    best: tuple[int, frozenset[int] | Skip] | None = None
    for prefix, expected in EXPECTED.items():
        wanted = prefix.split()
        exact = wanted[-1:] == ["$"]
        wanted = wanted[:-1] if exact else wanted
        if exact and len(words) != len(wanted):
            continue
        if words[: len(wanted)] == wanted and (best is None or len(wanted) > best[0]):
            best = (len(wanted), expected)
    return None if best is None else best[1]


def all_commands() -> list[DocCommand]:
    return [command for doc in DOCS for command in extract(doc)]


# -- what the docs assume --------------------------------------------------------------------


def config_example(doc: str) -> str:
    """The doc's example config: the yaml block headed ``# spfmanager.yaml``, else the first."""
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / doc).read_text(encoding="utf-8"), re.S)
    headed = [b for b in blocks if b.startswith("# spfmanager.yaml")]
    return (headed or blocks)[0]


def snapshot_for(config: Path) -> dict[str, object]:
    """tests/data/provider-snapshot.yaml, plus a record for every name the config's domains
    point at that it lacks (an include, an ``a`` or ``mx`` host), from 203.0.113.0/24."""
    from spfmanager.compile import compile_file  # noqa: PLC0415
    from spfmanager.spf.terms import MX, A, Include  # noqa: PLC0415

    zone: dict[str, object] = yaml.safe_load(
        (ROOT / "tests/data/provider-snapshot.yaml").read_text(encoding="utf-8")
    )
    addresses = (str(IPv4Address("203.0.113.1") + i) for i in range(250))
    _, intents = compile_file(config)
    for intent in intents:
        for term in intent.record.terms:
            if isinstance(term, Include):
                name = term.domain.render()
                zone.setdefault(name, [{"TXT": f"v=spf1 ip4:{next(addresses)} -all"}])
            elif isinstance(term, A | MX):
                host = term.domain.render() if term.domain is not None else intent.domain
                if isinstance(term, MX):
                    zone.setdefault(host, [{"MX": [10, f"mx.{host}"]}])
                    host = f"mx.{host}"
                zone.setdefault(host, [{"A": next(addresses)}])
    return zone


def workdir_for(doc: str, tmp_path: Path) -> Path:
    """A directory as ``doc`` assumes: its example config, a snapshot for it, tests/data."""
    work = tmp_path / Path(doc).stem
    shutil.copytree(ROOT / "tests" / "data", work / "tests" / "data")
    (work / "schema").mkdir()
    config = work / "spfmanager.yaml"
    config.write_text(config_example(doc), encoding="utf-8")
    snapshot = yaml.safe_dump(snapshot_for(config), sort_keys=True)
    (work / "dns-snapshot.yaml").write_text(snapshot, encoding="utf-8")
    return work


class LoopbackDNS:
    """An authoritative DNS server on 127.0.0.1 (UDP) answering from a name -> TXT table;
    other names are NXDOMAIN."""

    def __init__(self, port: int, txt: dict[str, str]) -> None:
        self.txt = {name.lower().rstrip("."): value for name, value in txt.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                wire, client = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.AA
            question = query.question[0]
            name = question.name.to_text().lower().rstrip(".")
            if name not in self.txt:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT:
                value = f'"{self.txt[name]}"'
                reply.answer.append(dns.rrset.from_text(question.name, 300, "IN", "TXT", value))
            self.sock.sendto(reply.to_wire(), client)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def loopback_dns() -> Iterator[LoopbackDNS | None]:
    try:
        server = LoopbackDNS(LOOPBACK_DNS_PORT, {"example.com": "v=spf1 ip4:192.0.2.0/24 -all"})
    except OSError:  # the port is taken: the command that needs it is reported skipped
        yield None
        return
    yield server
    server.stop()


@pytest.fixture(scope="module")
def route53() -> Iterator[str]:
    """moto's Route 53 on 127.0.0.1 with a hosted zone example.com (the docs' domain)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    boto3.client(
        "route53",
        endpoint_url=endpoint,
        aws_access_key_id="AKIAEXAMPLEKEY123456",
        aws_secret_access_key="docs-test-secret",
        region_name="us-east-1",
    ).create_hosted_zone(Name="example.com", CallerReference="docs-test")
    yield endpoint
    server.stop()


def environment(tmp_path: Path, route53: str) -> dict[str, str]:
    """No AWS setting of the machine, instance metadata off, Route 53 on loopback, and the
    credentials the docs' ``env:`` references name; this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_ENDPOINT_URL=route53,
        AWS_ACCESS_KEY_ID="AKIAEXAMPLEKEY123456",
        AWS_SECRET_ACCESS_KEY="docs-test-secret",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        SPFMANAGER_JOBS="1",
    )
    return env


def run_doc(doc: str, tmp_path: Path, route53: str, loopback: LoopbackDNS | None) -> list[str]:
    """Run ``doc``'s commands in order; the problems found, one line each."""
    work = workdir_for(doc, tmp_path)
    env = environment(tmp_path, route53)
    problems: list[str] = []
    for command in extract(doc):
        expected = expectation(command)
        if expected is None:
            problems.append(f"{command}: not classified in EXPECTED")
            continue
        if isinstance(expected, Skip):
            continue
        if "--nameserver" in command.args and loopback is None:
            continue  # port 5353 is taken on this machine
        done = run_cli(*command.args, cwd=work, env=env, timeout=180)
        output = done.stdout + done.stderr
        if "No such command" in done.stderr:
            problems.append(f"{command}: not implemented yet ({done.stderr.strip()[-80:]})")
        elif "Traceback" in output or "internal error:" in done.stderr:
            problems.append(f"{command}: crashed:\n{done.stderr[-2000:]}")
        elif done.returncode not in expected:
            problems.append(
                f"{command}: exit {done.returncode}, expected {sorted(expected)}: "
                f"{done.stderr.strip()[-500:]}"
            )
    return problems


# -- tests -----------------------------------------------------------------------------------


def test_the_docs_show_commands() -> None:
    commands = all_commands()
    assert any(c.doc == "README.md" for c in commands)
    assert any(c.doc == "docs/config.md" for c in commands)


@pytest.mark.parametrize("command", all_commands(), ids=str)
def test_every_doc_command_is_classified(command: DocCommand) -> None:
    assert expectation(command) is not None, f"{command}: add its prefix to EXPECTED"


def test_extraction_joins_continuations_and_drops_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "```bash\n"
        'spfmanager flatten "v=spf1 -all" -d example.com \\\n'
        "    --json      # a comment\n"
        "$ spfmanager plan -c x.yaml\n"
        "bash scripts/demo\n"
        "```\n"
        "```text\nspfmanager not-a-command\n```\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = extract("doc.md")
    assert [(c.line, c.args) for c in found] == [
        (2, ("flatten", "v=spf1 -all", "-d", "example.com", "--json")),
        (4, ("plan", "-c", "x.yaml")),
    ]


@pytest.mark.integration
@pytest.mark.parametrize("doc", DOCS)
def test_doc_commands_run_as_documented(
    doc: str, tmp_path: Path, route53: str, loopback_dns: LoopbackDNS | None
) -> None:
    problems = run_doc(doc, tmp_path, route53, loopback_dns)
    assert not problems, "\n".join(problems)


# -- the last resort: no traceback for an unexpected error -----------------------------------

_BOOM = """
import sys
from spfmanager.cli import app, main

@app.command("boom")
def boom() -> None:
    raise KeyError("kaboom")

sys.argv = ["spfmanager", "boom"]
main()
"""


@pytest.mark.parametrize("debug", ["", "1"])
def test_an_unexpected_exception_is_one_line_unless_debugging(tmp_path: Path, debug: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPFMANAGER_DEBUG": debug}
    done = subprocess.run(
        [sys.executable, "-c", _BOOM],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    if debug:
        assert "Traceback" in done.stderr and "KeyError: 'kaboom'" in done.stderr
    else:
        assert done.stderr.splitlines() == [
            "internal error: KeyError: 'kaboom' (please report it; set SPFMANAGER_DEBUG=1 "
            "for the traceback)"
        ]
