"""``spfmanager flatten``: flatten one record ad hoc."""

# ruff: noqa: PLC0415  (the flattener is imported inside the command: --help needs none of it)

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from spfmanager.cli import defaults
from spfmanager.cli.app import app
from spfmanager.cli.common import (
    JsonOption,
    NameserverOption,
    PortOption,
    SnapshotOption,
    build_resolver,
    clean_errors,
    console,
    print_json,
)
from spfmanager.publish.formats import FORMAT_HELP, ExportFormat, wants_json

if TYPE_CHECKING:
    from spfmanager.flatten import FlattenResult


@app.command("flatten")
def flatten_command(
    record: Annotated[
        str, typer.Argument(help='The record to flatten, e.g. "v=spf1 include:... -all".')
    ],
    domain: Annotated[str, typer.Option("--domain", "-d", help="Where it will be published.")],
    keep: Annotated[
        list[str] | None,
        typer.Option("--keep", metavar="TERM", help="A term never to flatten (repeatable)."),
    ] = None,
    budget: Annotated[
        int,
        typer.Option(
            "--lookup-budget",
            min=0,
            max=10,
            help="DNS lookups the records should need; more, up to 10, is a warning.",
        ),
    ] = defaults.LOOKUP_BUDGET,
    query_budget: Annotated[
        int,
        typer.Option(
            "--query-budget", min=1, help="Most DNS queries flattening may send (else fail)."
        ),
    ] = defaults.QUERY_BUDGET,
    deadline: Annotated[
        float,
        typer.Option(
            "--deadline", min=0.001, metavar="SECONDS", help="Most time flattening may take."
        ),
    ] = defaults.FLATTEN_DEADLINE,
    output: Annotated[
        ExportFormat | None,
        typer.Option("--format", "-f", help=FORMAT_HELP),
    ] = None,
    ttl: Annotated[int, typer.Option("--ttl", min=1, help="TTL for --format output.")] = 3600,
    snapshot: SnapshotOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
    as_json: JsonOption = False,
) -> None:
    """Flatten RECORD for DOMAIN and prove the result equivalent with the bundled evaluator.

    Exit status: 0 flattened and proven; 1 when no equivalent record fits, upstream is
    broken, or flattening needs more than --query-budget queries or --deadline seconds
    (the reason is printed; with --json, also the refusal's cause on stdout).
    """
    as_json = wants_json(as_json, output)
    from spfmanager.errors import FlattenError
    from spfmanager.flatten import flatten
    from spfmanager.publish.export import export

    with clean_errors():
        resolver = build_resolver(snapshot, nameserver, port)
        try:
            result = flatten(
                record,
                domain,
                resolver=resolver,
                keep=keep or (),
                lookup_budget=budget,
                query_budget=query_budget,
                deadline=deadline,
            )
        except FlattenError as exc:
            if as_json:
                print_json(exc.data)
            raise
    if as_json:
        print_json(result.data)
    elif output is not None:
        typer.echo(export([result], output, ttl=ttl), nl=False)
    else:
        show_result(result)


def show_result(result: FlattenResult) -> None:
    """Rich table of the records with their sizes, then the proof.

    Names and records fold at the column's edge, never cut with an ellipsis, and are Text,
    never markup or emoji codes (``ip6:2001:db8:1234::`` holds ``:1234:``): what is shown is
    what to publish, on a narrow terminal too.
    """
    out = console()
    table = Table(title=f"SPF records for {result.domain}", show_lines=True)
    table.add_column("name", style="cyan", overflow="fold")
    table.add_column("record", overflow="fold")
    table.add_column("strings", justify="right", overflow="fold")
    table.add_column("answer bytes", justify="right", overflow="fold")
    for record in result.packed:
        table.add_row(
            Text(record.name),
            Text(record.text),
            str(len(record.strings)),
            str(record.answer_bytes),
        )
    out.print(table)
    out.print(
        f"DNS lookups: [bold]{result.lookups}[/] (was {result.intent_lookups}); "
        f"{len(result.packed)} record(s), {result.total_bytes} bytes"
    )
    proof = result.proof
    libraries = [name for name in proof.profiles if name != "rfc7208"]
    out.print(
        f"[green]proven equivalent[/]: {proof.ranges_compared} address ranges compared, "
        f"{proof.points_evaluated} addresses evaluated in {len(proof.classes)} classes, "
        f"under RFC 7208 and {len(libraries)} receiver libraries ({', '.join(libraries)})"
    )
    for difference in proof.profile_differences:
        out.print(Text(f"receivers differ: {difference.sentence}", style="yellow"))
    for kept in result.kept:  # Text, not markup: terms and warnings echo DNS data
        out.print(Text.assemble(("kept", "yellow"), " ", kept))
    for warning in result.warnings:
        out.print(Text.assemble(("warning", "yellow"), " ", warning))
