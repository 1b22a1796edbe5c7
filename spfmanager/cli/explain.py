"""``spfmanager explain MESSAGE.eml``: why a delivered, quarantined or bounced message failed SPF.

Besides the record fix, a sender that is not authorised gets the config edit: the catalog
service (or the address) to add to ``domains.NAME`` of spfmanager.yaml, in the file
``-c`` names (with its line), else as a YAML snippet.

Exit status: 0 when SPF passes now, 2 when it does not, 1 on errors (unreadable file,
no headers to work with, unreadable snapshot or config).
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
    from spfmanager.explain import ConfigView, Explanation

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
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="The spfmanager.yaml managing the domain: name the config edit in it.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Explain a message's SPF result: then, now, why, a record change proven to fix it,
    and the config edit that keeps it fixed.

    Exit status: 0 the message's sender passes SPF now; 2 it does not (the fix is shown);
    1 error (unreadable message, bad config, DNS unavailable).
    """
    from spfmanager.audit.receivers import simulate
    from spfmanager.explain import explain, read_message

    address = _ip_option(ip)
    with clean_errors():
        view = None if config is None else _config_view(config)
        evidence = read_message(message)
        resolver = build_resolver(dns_snapshot, nameserver, port)
        explanation = explain(evidence, resolver, ip=address, config=view)
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


def _config_view(path: Path) -> ConfigView:
    """What explain needs of the config at ``path`` (a ConfigError when it is not valid)."""
    from spfmanager.catalog import load_catalog
    from spfmanager.config import load_config
    from spfmanager.explain import ConfigView, ManagedDomain

    config = load_config(path)
    source = config.source
    domains: dict[str, ManagedDomain] = {}
    for name, domain in config.domains.items():
        lines: dict[str, int] = {}
        if source is not None:
            lines[""] = source.line(("domains", name))
            for key in ("services", "ip4", "ip6"):
                if key in domain.model_fields_set:
                    lines[key] = source.line(("domains", name, key))
        domains[name] = ManagedDomain(
            services=tuple(use.id for use in domain.services),
            written=tuple(use.to_yaml() for use in domain.services),
            ip4=tuple(str(n) for n in domain.ip4),
            ip6=tuple(str(n) for n in domain.ip6),
            lines=lines,
        )
    return ConfigView(str(path), domains, load_catalog().extended(config.services))


def _render(explanation: Explanation, *, full_trace: bool) -> None:
    from spfmanager.audit.receivers import simulate, summarize

    out = console()
    evidence = explanation.evidence
    conn = explanation.connection
    facts = Table(
        title=f"SPF explained: {evidence.source}", show_header=False, title_justify="left"
    )
    facts.add_column(style="bold", overflow="fold")
    facts.add_column(overflow="fold")
    if evidence.subject:
        facts.add_row("Subject", Text(evidence.subject))
    facts.add_row(
        "Connecting IP", Text.assemble(str(conn.ip), (f"  ({conn.ip_source.value})", "dim"))
    )
    facts.add_row("Envelope sender", Text(conn.mailfrom or "<> (null sender)"))
    facts.add_row("HELO", Text(conn.helo or "-"))
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
    facts.add_row("Reason", Text(now.reason))
    out.print(facts)
    out.print()
    for line in explanation.lines():
        out.print(Text(line))
    edit = explanation.config_edit
    if edit is not None and edit.snippet is not None:
        out.print()
        out.print(Text(f"# {edit.file or 'spfmanager.yaml'}", style="dim"))
        out.print(Text(edit.snippet.rstrip("\n")))
    out.print()
    out.print(Text(f"Receivers now: {summarize(simulate(now)).rstrip('.')}.", style="dim"))
    steps = [s for s in now.trace if full_trace or s.kind in _DECISIVE]
    if steps:
        title = "Evaluation trace" + ("" if full_trace else " (decisive steps; --trace for all)")
        trace = Table(title=title, title_justify="left")
        trace.add_column("step", style="dim", overflow="fold")
        trace.add_column("detail", overflow="fold")
        for step in steps:
            trace.add_row(step.kind.value, Text("  " * step.depth + step.message))
        out.print(trace)
