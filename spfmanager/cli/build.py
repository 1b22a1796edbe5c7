"""``spfmanager build``: flatten every domain of a config and show what changes in DNS."""

# ruff: noqa: PLC0415  (the pipeline is imported inside the command: --help needs none of it)

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from spfmanager.cli.app import app
from spfmanager.cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    NameserverOption,
    PortOption,
    SnapshotOption,
    clean_errors,
    console,
    error_console,
    print_json,
)
from spfmanager.cli.flatten import show_result
from spfmanager.cli.workspace import open_workspace, progress_bar
from spfmanager.publish.formats import FORMAT_HELP, ExportFormat, wants_json

if TYPE_CHECKING:
    from spfmanager.flatten.verify import Proof
    from spfmanager.publish.build import DomainBuild
    from spfmanager.publish.workflow import Workspace


@app.command("build")
def build_command(
    config: ConfigOption = Path("spfmanager.yaml"),
    output: Annotated[
        ExportFormat | None,
        typer.Option("--format", "-f", help=FORMAT_HELP),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every record.")] = False,
    snapshot: SnapshotOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
    as_json: JsonOption = False,
) -> None:
    """Compile and flatten every domain of the config; each result is proven equivalent.

    Shows the records, DNS lookups, bytes, and whether they differ from what DNS serves now.
    Exit status: 0 all domains built; 1 an error: a bad config, or a domain that could not
    be built (each named on stderr, whatever the output format).
    """
    as_json = wants_json(as_json, output)
    with clean_errors():
        workspace = open_workspace(config, snapshot, nameserver, port)
        with progress_bar(len(workspace.intents), not as_json) as advance:
            builds = workspace.build(progress=advance)
    failed = any(b.result is None for b in builds)
    if as_json:
        print_json([{**b.data, "dns_change": _dns_change(b, workspace)} for b in builds])
    elif output is not None:
        from spfmanager.publish.export import export

        results = [b.result for b in builds if b.result is not None]
        ttl = workspace.config.defaults.ttl
        typer.echo(export(results, output, ttl=ttl), nl=False)
    else:
        _show(builds, workspace, verbose)
    if failed:
        errors = error_console()
        for build in builds:
            if build.result is None:
                line = Text.assemble(("not built", "red"), f" {build.intent.domain}: {build.error}")
                errors.print(line, soft_wrap=True)  # one line, in full, for CI logs
        raise typer.Exit(int(ExitCode.USAGE))
    raise typer.Exit(int(ExitCode.OK))


def _dns_change(build: DomainBuild, workspace: Workspace) -> str:
    """'new', 'changed' or 'unchanged' versus what the provider publishes now (the zone
    'plan' compares against: one truth), 'none' when the domain was not built."""
    from spfmanager.publish.plan import serves, spf_values

    if build.result is None:
        return "none"
    zone = workspace.current(build.intent)
    if not spf_values(zone.get(build.intent.domain)):
        return "new"
    return "unchanged" if serves(build.result, zone) else "changed"


def _show(builds: list[DomainBuild], workspace: Workspace, verbose: bool) -> None:
    out = console()
    table = Table(title="spfmanager build")
    for column in ("domain", "records", "lookups", "bytes", "vs published", "proof / error"):
        # names and errors in full, never "…"; as Text: never read as markup or emoji codes
        table.add_column(column, overflow="fold")
    for build in builds:
        result = build.result
        if result is None:
            style = "yellow" if build.transient else "red"
            table.add_row(
                Text(build.intent.domain), "-", "-", "-", "-", Text(build.error or "", style)
            )
            continue
        table.add_row(
            Text(build.intent.domain),
            str(len(result.packed)),
            f"{result.lookups} (was {result.intent_lookups})",
            str(result.total_bytes),
            _dns_change(build, workspace),
            _proof_cell(result.proof),
        )
    out.print(table)
    for build in builds:
        if build.result is not None and (verbose or len(builds) == 1):
            show_result(build.result)


def _proof_cell(proof: Proof) -> Text:
    text = Text(f"proven: {proof.points_evaluated} addresses, every receiver library", "green")
    if proof.profile_differences:
        differ = sorted({name for d in proof.profile_differences for name in d.profiles})
        text.append(f"\nthe intent reads otherwise at {', '.join(differ)}", "yellow")
    return text
