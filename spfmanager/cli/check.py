"""``spfmanager check``: audit a domain's SPF record, or evaluate one connection."""

# ruff: noqa: PLC0415  (the audit and the evaluator are imported inside: --help needs neither)

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from spfmanager.cli import defaults
from spfmanager.cli.app import app
from spfmanager.cli.common import (
    ExitCode,
    JsonOption,
    NameserverOption,
    PortOption,
    build_resolver,
    clean_errors,
    console,
    fail,
    print_json,
)
from spfmanager.spf.limits import MAX_DNS_LOOKUPS, MAX_UDP_ANSWER, MAX_VOID_LOOKUPS
from spfmanager.spf.results import Result

if TYPE_CHECKING:
    from rich.tree import Tree

    from spfmanager.audit import Audit, Node
    from spfmanager.audit.receivers import ReceiverOutcome
    from spfmanager.cli.progress import Step
    from spfmanager.dns.base import Answer, Resolver, RRType
    from spfmanager.spf.evaluate import SPFResult
    from spfmanager.spf.profiles import Profile

RESULT_STYLE = {
    Result.PASS: "bold green",
    Result.FAIL: "bold red",
    Result.SOFTFAIL: "yellow",
    Result.NEUTRAL: "yellow",
    Result.NONE: "yellow",
    Result.PERMERROR: "bold red",
    Result.TEMPERROR: "bold magenta",
}

CHECK_HELP = (
    "Audit DOMAIN's SPF record and its include tree, or evaluate one connection (--ip).\n\n"
    "The audit shows the include tree with DNS lookups per branch, every problem and its "
    "fix, and the verdict: what receivers return for senders the record does not list.\n\n"
    "The whole check takes at most --deadline seconds: lookups left then are reported as "
    "not done (a deadline-exceeded finding), never waited for.\n\n"
    "Offline: --zone answers for a zone's names from the BIND zone file you are about to "
    "publish (such as zones/ZONE.zone of the zonefile provider), --dns-snapshot from a "
    "zonedata snapshot of everyone else (spfmanager snapshot); both are repeatable. Each "
    "name is answered by the first file that covers it: zone files first, in the order "
    "given, then snapshots in the order given; a name none covers is NXDOMAIN. A zone "
    "covers every name at or below its origin (a name it does not have is NXDOMAIN), "
    "except below a delegation; a snapshot covers the names it lists.\n\n"
    "Exit status: 0 no error-level findings (with --ip: the result is pass); "
    "1 usage or file error, DOMAIN's DNS unreachable, or the deadline passed before every "
    "lookup was done; 2 error-level findings (with --ip: any other result)."
)


# Repeatable here only: every other command takes one --dns-snapshot (cli/common.py).
ZoneOption = Annotated[
    list[str] | None,
    typer.Option(
        "--zone",
        metavar="[ZONE=]FILE",
        help="Answer for a zone's names from this BIND zone file (repeatable; before any "
        "--dns-snapshot). The zone is ZONE, else the file's $ORIGIN, else its name without "
        ".zone (zones/example.com.zone: example.com).",
    ),
]
SnapshotsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--dns-snapshot",
        metavar="FILE",
        help="Answer DNS queries from this zonedata YAML file instead of live DNS "
        "(repeatable: the first that lists a name answers for it).",
    ),
]


@app.command("check", help=CHECK_HELP)
def check(
    domain: Annotated[str, typer.Argument(help="The domain whose SPF record to check.")],
    ip: Annotated[
        str | None,
        typer.Option("--ip", metavar="IP", help="Evaluate a connection from this address."),
    ] = None,
    sender: Annotated[
        str | None,
        typer.Option(
            "--sender", metavar="ADDRESS", help="MAIL FROM for --ip (default postmaster@DOMAIN)."
        ),
    ] = None,
    helo: Annotated[
        str | None, typer.Option("--helo", metavar="NAME", help="HELO name for --ip.")
    ] = None,
    deadline: Annotated[
        float,
        typer.Option(
            "--deadline",
            min=0.001,
            metavar="SECONDS",
            help="Most time the whole check may take; lookups left are reported not done.",
        ),
    ] = defaults.CHECK_DEADLINE,
    zones: ZoneOption = None,
    dns_snapshots: SnapshotsOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
    json_output: JsonOption = False,
) -> None:
    """Audit DOMAIN's SPF record, or evaluate one connection (see CHECK_HELP)."""
    from spfmanager.audit import NodeStatus, audit_domain
    from spfmanager.dns.base import normalize_name
    from spfmanager.spf.evaluate import is_valid_domain

    name = normalize_name(domain)
    if not is_valid_domain(name):
        fail(f"not a valid domain name: {domain!r}")
    live = not zones and not dns_snapshots
    with clean_errors():
        resolver = _resolver(zones or [], dns_snapshots or [], nameserver, port)
        if ip is not None:
            connection = _Connection.parse(name, ip, sender, helo)
            _check_connection(connection, resolver, deadline, live, json_output)
            return
        if sender is not None or helo is not None:
            fail("--sender and --helo need --ip")
        with _progress(resolver, live) as watched:
            audit = audit_domain(name, watched, deadline=deadline)
    if json_output:
        print_json(audit.data)
    else:
        _render_audit(audit, console())
    if audit.tree.status is NodeStatus.DNS_ERROR or audit.timed_out:
        # DOMAIN itself could not be queried, or not everything in time: not a verdict.
        raise typer.Exit(int(ExitCode.USAGE))
    if audit.has_errors:
        raise typer.Exit(int(ExitCode.PROBLEMS))


def _check_connection(
    connection: _Connection, resolver: Resolver, deadline: float, live: bool, json_output: bool
) -> None:
    from spfmanager.audit import DeadlineResolver
    from spfmanager.audit.receivers import ENGINES, UNKNOWN_ENGINE, simulate, summarize
    from spfmanager.spf.evaluate import evaluate
    from spfmanager.spf.profiles import RECEIVER_PROFILES

    address, mailfrom, helo = connection.address, connection.mailfrom, connection.helo
    with _progress(resolver, live) as watched:
        bounded = DeadlineResolver(watched, deadline)
        outcome = evaluate(address, mailfrom, helo, resolver=bounded)
        libraries = {
            profile: evaluate(address, mailfrom, helo, resolver=bounded, profile=profile)
            for profile in RECEIVER_PROFILES
        }
    receivers = simulate(outcome)
    if json_output:
        print_json(
            {
                "evaluation": outcome.data,
                "libraries": [_library_data(p, r, outcome) for p, r in libraries.items()],
                "receivers": [
                    {**r.data, "engine": ENGINES.get(r.receiver, UNKNOWN_ENGINE).data}
                    for r in receivers
                ],
                "summary": summarize(receivers),
            }
        )
    else:
        _render_connection(outcome, receivers, console())
        _render_libraries(outcome, libraries, console())
    if outcome.result is not Result.PASS:
        raise typer.Exit(int(ExitCode.PROBLEMS))


@dataclass(frozen=True, slots=True)
class _Connection:
    """The connection --ip, --sender and --helo describe."""

    address: IPv4Address | IPv6Address
    mailfrom: str
    helo: str

    @classmethod
    def parse(cls, domain: str, ip: str, sender: str | None, helo: str | None) -> _Connection:
        """The connection, or a usage error saying which option is wrong."""
        from spfmanager.dns.base import normalize_name

        try:
            address = ip_address(ip)
        except ValueError:
            fail(f"--ip needs an IPv4 or IPv6 address, not {ip!r}")
        mailfrom = sender or f"postmaster@{domain}"
        if "@" not in mailfrom:
            mailfrom = f"{mailfrom}@{domain}"
        if normalize_name(mailfrom.rpartition("@")[2]) != domain:
            fail(f"--sender must be an address at {domain}, not {mailfrom!r}")
        return cls(address, mailfrom, helo or domain)


# -- DNS: offline layers, live progress ---------------------------------------------------


def _resolver(
    zones: list[str], snapshots: list[Path], nameservers: list[str] | None, port: int
) -> Resolver:
    """Live DNS, one snapshot (as every command reads it), or zone files over snapshots."""
    if not zones and len(snapshots) <= 1:
        return build_resolver(snapshots[0] if snapshots else None, nameservers, port)
    if nameservers:
        fail(f"{'--zone' if zones else '--dns-snapshot'} and --nameserver cannot be used together")
    from spfmanager.dns.overlay import Layer, LayeredResolver
    from spfmanager.dns.snapshot import SnapshotResolver
    from spfmanager.dns.zonefile import ZoneResolver

    layers: list[Layer] = [
        ZoneResolver.from_file(path, origin) for origin, path in map(_zone, zones)
    ]
    layers.extend(SnapshotResolver.from_file(path) for path in snapshots)
    return LayeredResolver(layers)


def _zone(value: str) -> tuple[str | None, Path]:
    """A --zone value: ``FILE`` or ``ZONE=FILE``."""
    from spfmanager.spf.evaluate import is_valid_domain

    if "=" not in value:
        return None, Path(value)
    origin, _, path = value.partition("=")
    if not is_valid_domain(origin.rstrip(".")) or not path:
        fail(f"--zone takes FILE or ZONE=FILE, not {value!r}")
    return origin, Path(path)


class _Watched:
    """Passes queries to ``resolver``, reporting each one to ``step`` as it starts."""

    def __init__(self, resolver: Resolver, step: Step) -> None:
        self.resolver = resolver
        self.step = step

    def query(self, name: str, rrtype: RRType) -> Answer:
        self.step(f"{name} {rrtype.value}")
        return self.resolver.query(name, rrtype)

    def query_within(self, name: str, rrtype: RRType, seconds: float) -> Answer:
        from spfmanager.dns.base import query_within

        self.step(f"{name} {rrtype.value}")
        return query_within(self.resolver, name, rrtype, seconds)


@contextmanager
def _progress(resolver: Resolver, live: bool) -> Iterator[Resolver]:
    """``resolver``, showing each live lookup on a terminal (stderr; nothing in a pipe:
    a line per lookup is noise in a log). Offline answers are instant: no progress."""
    if not live:
        yield resolver
        return
    from spfmanager.cli.progress import steps

    with steps("resolving", None, lines=False) as step:
        yield _Watched(resolver, step)


# -- audit output ---------------------------------------------------------------------------


def _render_audit(audit: Audit, out: Console) -> None:
    out.print(_tree(audit.tree))
    out.print()
    out.print(_limits(audit))
    out.print()
    if audit.findings:
        out.print(_findings_table(audit))
    else:
        out.print(Text("No problems found.", style="green"))
    out.print()
    verdict = audit.verdict
    out.print(Text.assemble(("Verdict: ", "bold"), (verdict.result.value, _style(verdict.result))))
    out.print(Text(verdict.sentence))
    out.print(Text.assemble(("Fix: ", "bold"), verdict.fix))


def _tree(root: Node) -> Tree:
    from rich.tree import Tree

    tree = Tree(_label(root))
    stack: list[tuple[Node, Tree]] = [(child, tree) for child in reversed(root.children)]
    while stack:  # iterative: deep trees must not exhaust the Python stack
        node, parent = stack.pop()
        branch = parent.add(_label(node))
        stack.extend((child, branch) for child in reversed(node.children))
    return tree


def _label(node: Node) -> Text:
    from spfmanager.audit import Edge, NodeStatus

    # A branch costs its own term (1 lookup) plus everything below its target.
    lookups = node.total_lookups + (0 if node.edge is Edge.ROOT else 1)
    label = Text(node.domain if node.edge is Edge.ROOT else node.term, style="bold")
    label.append(f"  {lookups} lookup{'s' if lookups != 1 else ''}", style="cyan")
    if node.total_void_lookups:
        label.append(f", {node.total_void_lookups} void", style="yellow")
    if node.status is not NodeStatus.OK:
        style = "bold red" if node.status.is_error else "dim"
        label.append(f"  [{node.status.value}]", style=style)
    if node.record is not None:
        label.append(f"\n{node.record}", style="dim")
    return label


def _limits(audit: Audit) -> Text:
    def part(label: str, count: int, limit: int, unit: str = "") -> Text:
        style = "bold red" if count > limit else "green"
        return Text.assemble(f"{label}: ", (f"{count}{unit}", style), f" / {limit}{unit}")

    parts = [
        part("DNS lookups", audit.lookups, MAX_DNS_LOOKUPS),
        part("void lookups", audit.void_lookups, MAX_VOID_LOOKUPS),
    ]
    if audit.answer_size is not None:
        parts.append(part("TXT answer", audit.answer_size, MAX_UDP_ANSWER, " bytes"))
    text = Text("  ").join(parts)
    if audit.timed_out:
        text.append("  (out of time: counts are lower bounds)", style="yellow")
    elif not audit.complete:
        text.append("  (tree truncated: counts are lower bounds)", style="yellow")
    return text


def _findings_table(audit: Audit) -> Table:
    from spfmanager.audit import Severity

    severity_style = {
        Severity.ERROR: "bold red",
        Severity.WARNING: "yellow",
        Severity.INFO: "cyan",
    }
    table = Table(title=f"Findings for {audit.domain}", show_lines=True)
    table.add_column("Severity", overflow="fold")
    table.add_column("Code", overflow="fold")
    table.add_column("Problem", ratio=3, overflow="fold")
    table.add_column("Fix", ratio=2, overflow="fold")
    for finding in audit.findings:
        problem = Text(finding.message)
        if finding.detail:
            problem.append(f"\n{finding.detail}", style="dim")
        table.add_row(
            Text(finding.severity.value, style=severity_style[finding.severity]),
            finding.code.value,
            problem,
            finding.fix,
        )
    return table


# -- connection output ----------------------------------------------------------------------


def _render_connection(outcome: SPFResult, receivers: list[ReceiverOutcome], out: Console) -> None:
    from spfmanager.audit.receivers import ENGINES, UNKNOWN_ENGINE, summarize

    out.print(
        Text.assemble(
            ("Result: ", "bold"),
            (outcome.result.value, _style(outcome.result)),
            f"  for {outcome.ip} sending as {outcome.sender}",
        )
    )
    out.print(Text.assemble(("Why: ", "bold"), outcome.reason))
    if outcome.explanation:
        out.print(Text.assemble(("Explanation: ", "bold"), outcome.explanation))
    out.print(
        Text(
            f"DNS lookups: {outcome.lookups} / {MAX_DNS_LOOKUPS}, "
            f"void lookups: {outcome.void_lookups} / {MAX_VOID_LOOKUPS}"
        )
    )
    out.print()
    out.print(Text("Trace", style="bold underline"))
    for step in outcome.trace:
        out.print(Text(str(step)), soft_wrap=True)
    out.print()
    table = Table(title="What receivers do with this result")
    table.add_column("Receiver", overflow="fold")
    table.add_column("Setting", overflow="fold")
    table.add_column("Action", overflow="fold")
    table.add_column("SPF engine", overflow="fold")
    for receiver in receivers:
        engine = ENGINES.get(receiver.receiver, UNKNOWN_ENGINE)
        named = engine.profile.title + ("" if engine.documented else " (a guess)")
        table.add_row(receiver.receiver, receiver.setting, receiver.action.value, named)
    out.print(table)
    out.print(Text(summarize(receivers)))


def _library_data(profile: Profile, result: SPFResult, rfc: SPFResult) -> dict[str, object]:
    return {
        "profile": profile.name,
        "library": profile.title,
        "result": result.result.value,
        "reason": result.reason,
        "cause": result.cause.value,
        "same_as_rfc7208": result.result is rfc.result,
    }


def _render_libraries(
    outcome: SPFResult, libraries: dict[Profile, SPFResult], out: Console
) -> None:
    """The result at each receiver library (they read some records otherwise than the RFC)."""
    table = Table(title="The same connection at each receiver library")
    table.add_column("Library", overflow="fold")
    table.add_column("Used by", overflow="fold")
    table.add_column("Result", overflow="fold")
    table.add_column("Why", overflow="fold")
    for profile, result in libraries.items():
        why = "same as RFC 7208" if result.result is outcome.result else result.reason
        table.add_row(
            profile.title,
            ", ".join(profile.receivers),
            Text(result.result.value, style=_style(result.result)),
            why,
        )
    out.print(table)
    differ = [p.title for p, r in libraries.items() if r.result is not outcome.result]
    if differ:
        out.print(Text(f"Read differently by: {', '.join(differ)}.", style="yellow"))


def _style(result: Result) -> str:
    return RESULT_STYLE[result]
