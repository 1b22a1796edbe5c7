"""``spfmanager discover REPORTS…``: who sends as your domains, from DMARC aggregate reports.

Each source IP is attributed to a catalog service by its address ranges (resolved now) and
checked against the domain's intent; for legitimate senders that fail, the config edit to
paste, proven by compiling, flattening and evaluating the edited config.

Exit status: 0 nothing legitimate fails; 2 suggestions exist (a known service fails SPF);
1 error (no report readable, bad config, DNS or mailbox unavailable).
"""

# ruff: noqa: PLC0415  (the analysis is imported inside the command: --help needs none of it)

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    error_console,
    fail,
    print_json,
)

if TYPE_CHECKING:
    from spfmanager.discover.analyze import Analysis, Attributed
    from spfmanager.discover.model import Report, Skipped
    from spfmanager.discover.suggest import Suggestion, Suggestions

SHOWN = 100  # rows of a table before "… N more (see --json)"


@app.command("discover")
def discover_command(
    reports: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="REPORTS...",
            help="DMARC aggregate reports: .xml, .gz, .zip, .eml, mbox files or directories.",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="The spfmanager.yaml managing the domains: check sources against its "
            "intent and word the edits for it (default: the published records).",
        ),
    ] = None,
    domain: Annotated[
        str | None,
        typer.Option("--domain", metavar="DOMAIN", help="Only the reports about this domain."),
    ] = None,
    dns_snapshot: SnapshotOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
    imap: Annotated[
        str | None,
        typer.Option(
            "--imap",
            metavar="URL",
            help="Also read the reports in this IMAP mailbox, read-only: an imaps:// URL "
            "naming user, host and mailbox.",
        ),
    ] = None,
    imap_password: Annotated[
        str | None,
        typer.Option(
            "--imap-password",
            metavar="env:NAME",
            help="Where the IMAP password is: env:NAME or file:PATH (never the password).",
        ),
    ] = None,
    reverse_dns: Annotated[
        bool,
        typer.Option(
            "--reverse-dns",
            help="Look up the PTR name of sources no range matches and match the catalog's "
            "reverse-DNS patterns (queries DNS for each such source).",
        ),
    ] = False,
    json_output: JsonOption = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Also write a self-contained HTML page (tables and a chart of messages per "
            "day and SPF result).",
        ),
    ] = None,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply-suggestions",
            help="Write the proven suggestions into the -c FILE (comments and layout kept; "
            "validated after writing, restored on failure).",
        ),
    ] = False,
) -> None:
    """Discover who sends as your domains from DMARC aggregate reports: sources that are
    authorized, legitimate services that fail (with the config edit proven to fix them),
    and unknown senders with their volume.

    Exit status: 0 nothing legitimate fails; 2 suggestions exist (a known service fails
    SPF); 1 error (no report readable, bad config, DNS or mailbox unavailable).
    """
    from spfmanager.catalog import load_catalog
    from spfmanager.discover.analyze import aggregate, attribute
    from spfmanager.discover.suggest import suggest
    from spfmanager.flatten import Flattener

    if not reports and imap is None:
        fail("give REPORTS (files or directories) or --imap URL")
    if apply and config is None:
        fail("--apply-suggestions needs -c FILE: the config to write the suggestions into")
    if imap is not None and imap_password is None:
        fail("--imap needs --imap-password env:NAME (or file:PATH)")
    with clean_errors():
        loaded = None
        if config is not None:
            from spfmanager.config import load_config

            loaded = load_config(config)
        resolver = build_resolver(dns_snapshot, nameserver, port)
        read, skipped, duplicates = _read(reports or [], imap, imap_password)
        if not read:
            _print_skipped(skipped)
            fail("no DMARC report could be read" + (" (see above)" if skipped else ""))
        flattener = Flattener(resolver)
        catalog = load_catalog()
        sources = aggregate(read, domain)
        analysis = attribute(
            sources,
            catalog,
            flattener.resolver,
            config=loaded,
            reverse_dns=reverse_dns,
            flattener=flattener,
        )
        path = None if config is None else str(config)
        found = suggest(
            analysis,
            catalog,
            flattener.resolver,
            config=loaded,
            config_path=path,
            flattener=flattener,
        )
        applied: list[Suggestion] = []
        if apply and config is not None and found.edits:
            from spfmanager.discover.edit import apply_suggestions

            applied = apply_suggestions(config, found.edits)
        if html is not None:
            _write_html(html, analysis, found, len(read), skipped)
    if json_output:
        print_json(_data(analysis, found, len(read), skipped, duplicates, applied))
    else:
        _print_skipped(skipped)
        _render(analysis, found, len(read), len(skipped), duplicates)
        _print_applied(applied, config)
    raise typer.Exit(int(_status(analysis, found, applied)))


def _read(
    paths: list[Path], imap: str | None, imap_password: str | None
) -> tuple[list[Report], list[Skipped], int]:
    """The reports (each once: the same report sent as .xml and .zip counts once), what
    was skipped, and how many duplicates were dropped."""
    from spfmanager.discover.limits import Limits
    from spfmanager.discover.model import Report, Skipped
    from spfmanager.discover.sources import read_reports

    limits = Limits()
    items: list[Report | Skipped] = list(read_reports(paths, limits)) if paths else []
    if imap is not None and imap_password is not None:
        from spfmanager.discover.imap import read_imap, resolve_password

        items += read_imap(imap, resolve_password(imap_password), limits)
    seen: set[tuple[str, str, str, object]] = set()
    read: list[Report] = []
    skipped: list[Skipped] = []
    duplicates = 0
    for item in items:
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        assert isinstance(item, Report)
        key = (item.org_name.strip().lower(), item.report_id, item.domain, item.begin)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        read.append(item)
    return read, skipped, duplicates


def _status(analysis: Analysis, found: Suggestions, applied: list[Suggestion]) -> ExitCode:
    """2 while a failing-legitimate source remains that no applied edit proved fixed."""
    from spfmanager.discover.analyze import Status

    fixed = {(s.domain, ip) for s in applied for ip in s.proven_ips}
    remaining = [
        s
        for s in analysis.with_status(Status.FAILING)
        if (s.stats.domain, str(s.stats.ip)) not in fixed
    ]
    return ExitCode.PROBLEMS if remaining else ExitCode.OK


def _data(
    analysis: Analysis,
    found: Suggestions,
    reports: int,
    skipped: list[Skipped],
    duplicates: int,
    applied: list[Suggestion],
) -> dict[str, Any]:
    return {
        "reports": reports,
        "duplicates": duplicates,
        "skipped": [{"file": s.file, "reason": s.reason} for s in skipped],
        "messages": sum(s.stats.messages for s in analysis.sources),
        "sources": [s.data for s in analysis.sources],
        "suggestions": [e.data for e in found.edits],
        "applied": [{"domain": s.domain, "service": s.service} for s in applied],
        "notes": [*analysis.notes, *found.notes],
    }


def _write_html(
    path: Path, analysis: Analysis, found: Suggestions, reports: int, skipped: list[Skipped]
) -> None:
    from spfmanager.discover.html import render_html

    page = render_html(analysis, found, reports=reports, skipped=skipped)
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


def _print_skipped(skipped: list[Skipped]) -> None:
    err = error_console()
    for item in skipped:
        err.print(
            Text.assemble(("skipped ", "yellow"), item.file, ": ", item.reason), soft_wrap=True
        )


def _print_applied(applied: list[Suggestion], config: Path | None) -> None:
    if not applied:
        return
    out = console()
    for suggestion in applied:
        out.print(
            Text.assemble(
                ("wrote ", "bold green"),
                f"{suggestion.service} into {suggestion.location} of {config} ",
                "(validated); now plan and apply",
            )
        )


def _render(
    analysis: Analysis, found: Suggestions, reports: int, skipped: int, duplicates: int
) -> None:
    from spfmanager.discover.analyze import Status

    out = console()
    messages = sum(s.stats.messages for s in analysis.sources)
    summary = (
        f"{reports} report{'s' if reports != 1 else ''} read"
        + (
            f" ({duplicates} duplicate{'s' if duplicates != 1 else ''} ignored)"
            if duplicates
            else ""
        )
        + (f", {skipped} skipped (see stderr)" if skipped else "")
        + f"; {len(analysis.sources)} sources, {messages:,} messages."
    )
    out.print(Text(summary, style="bold"))
    authorized = analysis.with_status(Status.AUTHORIZED)
    failing = analysis.with_status(Status.FAILING)
    unknown = analysis.with_status(Status.UNKNOWN)

    table = _table(f"Authorized and passing ({len(authorized)})", "green")
    for column in ("Source", "Domain", "Messages", "Service", "SPF reported", "DKIM", "Seen"):
        _column(table, column)
    for s in authorized[:SHOWN]:
        table.add_row(*_cells(s, "service", "spf", "dkim", "seen"))
    _finish(out, table, authorized)

    table = _table(f"Legitimate but failing ({len(failing)})", "red")
    for column in ("Source", "Domain", "Messages", "Service", "SPF reported", "Why"):
        _column(table, column)
    for s in failing[:SHOWN]:
        table.add_row(*_cells(s, "service", "spf", "reason"))
    _finish(out, table, failing)
    for edit in found.edits:
        out.print(Text.assemble(("fix: ", "bold red"), edit.config_edit))
        out.print(Text(edit.snippet.rstrip("\n"), style="cyan"))
        proof = f"  proven: with it, the records pass {', '.join(edit.proven_ips)}"
        if edit.unproven_ips:
            proof += f"; not {', '.join(edit.unproven_ips)}"
        out.print(Text(proof, style="green"))

    table = _table(f"Unknown senders ({len(unknown)})", "yellow")
    for column in (
        "Source",
        "Domain",
        "Messages",
        "SPF reported",
        "DKIM",
        "Header From",
        "Reporters",
    ):
        _column(table, column)
    for s in unknown[:SHOWN]:
        table.add_row(*_cells(s, "spf", "dkim", "header_from", "reporters"))
    _finish(out, table, unknown)
    for note in (*analysis.notes, *found.notes):
        out.print(Text(f"note: {note}", style="dim"))


def _table(title: str, colour: str) -> Table:
    return Table(title=title, title_justify="left", title_style=f"bold {colour}")


def _column(table: Table, name: str) -> None:
    table.add_column(name, overflow="fold", justify="right" if name == "Messages" else "left")


def _cells(source: Attributed, *fields: str) -> list[Text]:
    stats = source.stats
    values = {
        "service": source.service or "",
        "spf": ", ".join(f"{k} {v}" for k, v in stats.spf.items()),
        "dkim": ", ".join(f"{k} {v}" for k, v in stats.dkim.items()),
        "seen": f"{stats.first_seen:%Y-%m-%d} – {stats.last_seen:%Y-%m-%d}",
        "reason": source.reason,
        "header_from": ", ".join(stats.header_from),
        "reporters": ", ".join(stats.reporters),
    }
    head = [str(stats.ip), stats.domain, f"{stats.messages:,}"]
    return [Text(v) for v in (*head, *(values[f] for f in fields))]  # Text: no markup


def _finish(out: Any, table: Table, rows: list[Attributed]) -> None:
    if not rows:
        out.print(Text(f"{table.title}: none", style="dim"))
        return
    if len(rows) > SHOWN:
        table.caption = f"… {len(rows) - SHOWN} more (see --json or --html)"
    out.print(table)
