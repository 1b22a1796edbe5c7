"""``spfmanager explain MESSAGE.eml``: why a delivered, quarantined or bounced message failed SPF.

Exit status: 0 when SPF passes now, 2 when it does not, 1 on errors (unreadable file,
no headers to work with, unreadable snapshot).
"""

# ruff: noqa: PLC0415  (the explainer is imported inside the command: --help needs none of it)

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from spfmanager.cli.app import app
from spfmanager.cli.common import (
    ExitCode,
    JsonOption,
    NameserverOption,
    PortOption,
    SnapshotOption,
    build_resolver,
    clean_errors,
    console,
    fail,
    print_json,
)
from spfmanager.spf.results import Result
from spfmanager.spf.trace import StepKind

if TYPE_CHECKING:
    from spfmanager.explain import Explanation

_DECISIVE = frozenset({StepKind.CHECK, StepKind.MATCH, StepKind.LIMIT, StepKind.ERROR})
_STYLE = {
    Result.PASS: "bold green",
    Result.FAIL: "bold red",
    Result.SOFTFAIL: "yellow",
    Result.NEUTRAL: "yellow",
    Result.NONE: "yellow",
    Result.PERMERROR: "bold red",
    Result.TEMPERROR: "magenta",
}


@app.command("explain")
def explain_command(
    message: Annotated[Path, typer.Argument(metavar="MESSAGE.eml", help="The message file.")],
    dns_snapshot: SnapshotOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
    ip: Annotated[
        str | None,
        typer.Option("--ip", metavar="IP", help="The connecting IP, overriding the headers."),
    ] = None,
    full_trace: Annotated[
        bool, typer.Option("--trace", help="Show every step of the evaluation, DNS included.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Explain a message's SPF result: then, now, why, and a record change proven to fix it."""
    from spfmanager.audit.receivers import simulate
    from spfmanager.explain import explain, read_message

    address = _ip_option(ip)
    with clean_errors():
        evidence = read_message(message)
        resolver = build_resolver(dns_snapshot, nameserver, port)
        explanation = explain(evidence, resolver, ip=address)
    if json_output:
        data = explanation.data
        data["receivers"] = [o.data for o in simulate(explanation.now)]
        print_json(data)
    else:
        _render(explanation, full_trace=full_trace)
    raise typer.Exit(int(ExitCode.OK if explanation.passes else ExitCode.PROBLEMS))


def _ip_option(text: str | None) -> IPv4Address | IPv6Address | None:
    if text is None:
        return None
    try:
        return ip_address(text.strip("[]"))
    except ValueError:
        fail(f"--ip needs an IP address, not {text!r}")


def _render(explanation: Explanation, *, full_trace: bool) -> None:
    from spfmanager.audit.receivers import simulate, summarize

    out = console()
    evidence = explanation.evidence
    conn = explanation.connection
    facts = Table(
        title=f"SPF explained: {evidence.source}", show_header=False, title_justify="left"
    )
    facts.add_column(style="bold")
    facts.add_column()
    if evidence.subject:
        facts.add_row("Subject", evidence.subject)
    facts.add_row("Connecting IP", f"{conn.ip}  [dim]({conn.ip_source.value})[/]")
    facts.add_row("Envelope sender", conn.mailfrom or "<> (null sender)")
    facts.add_row("HELO", conn.helo or "-")
    recorded = explanation.recorded
    if recorded is not None:
        then = Text(recorded.raw_result, style=_STYLE.get(recorded.result or Result.NONE, ""))
        then.append(
            f"  ({recorded.kind.value} by {explanation.receiver or 'receiver'})", style="dim"
        )
        facts.add_row("Then", then)
    else:
        facts.add_row("Then", Text("not recorded", style="dim"))
    now = explanation.now
    facts.add_row("Now", Text(now.result.value, style=_STYLE[now.result]))
    facts.add_row("Reason", now.reason)
    out.print(facts)
    out.print()
    for line in explanation.lines():
        out.print(Text(line))
    out.print()
    out.print(Text(f"Receivers now: {summarize(simulate(now)).rstrip('.')}.", style="dim"))
    steps = [s for s in now.trace if full_trace or s.kind in _DECISIVE]
    if steps:
        title = "Evaluation trace" + ("" if full_trace else " (decisive steps; --trace for all)")
        trace = Table(title=title, title_justify="left")
        trace.add_column("step", style="dim")
        trace.add_column("detail")
        for step in steps:
            trace.add_row(step.kind.value, Text("  " * step.depth + step.message))
        out.print(trace)
