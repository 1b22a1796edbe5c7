"""``spfmanager plan`` and ``spfmanager apply``: publish like Terraform — plan, then apply it."""

# ruff: noqa: PLC0415  (publishing is imported inside the commands: --help needs none of it)

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spfmanager.cli.app import app
from spfmanager.cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    NameserverOption,
    PortOption,
    SnapshotOption,
    StateOption,
    clean_errors,
    console,
    error_console,
    fail,
    print_json,
)
from spfmanager.cli.workspace import open_workspace, progress_bar

if TYPE_CHECKING:
    from spfmanager.publish.apply import ApplyItem

PlanFileOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", metavar="FILE", help="Also save the plan (JSON) for 'apply'."),
]


@app.command("plan")
def plan_command(
    config: ConfigOption = Path("spfmanager.yaml"),
    out: PlanFileOption = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Markdown for a pull-request comment.")
    ] = False,
    snapshot: SnapshotOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
    state: StateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the DNS changes that would publish the config's records.

    Exit status: 0 in sync; 2 changes pending (or retired names still waiting for their
    deletion time); 1 error (bad config, a domain that cannot be built, a provider failure).
    """
    from spfmanager.publish.render import plan_markdown, plan_table

    with clean_errors():
        workspace = open_workspace(config, snapshot, nameserver, port, state)
        with progress_bar(len(workspace.intents), not (as_json or markdown)) as advance:
            plan = workspace.plan(progress=advance)
    if out is not None:
        try:
            out.write_text(json.dumps(plan.data, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"{out}: cannot write the plan: {exc.strerror}")
    if as_json:
        print_json(plan.data)
    elif markdown:
        typer.echo(plan_markdown(plan), nl=False)
    else:
        console().print(plan_table(plan))
    if plan.errors:
        raise typer.Exit(int(ExitCode.USAGE))
    pending = plan.has_changes or plan.waiting
    raise typer.Exit(int(ExitCode.PROBLEMS if pending else ExitCode.OK))


@app.command("apply")
def apply_command(
    config: ConfigOption = Path("spfmanager.yaml"),
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", metavar="FILE", help="Apply exactly this saved plan."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Apply even when safety checks refuse the plan.")
    ] = False,
    snapshot: SnapshotOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
    state: StateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Apply the plan (made now, or saved with 'plan --out'), phase by phase.

    New chained records first, then the roots, then retired records that are due. Applying
    twice changes nothing. Exit status: 0 applied (or nothing to do); 1 error or refused.
    """
    with clean_errors():
        workspace = open_workspace(config, snapshot, nameserver, port, state)
        if plan_file is not None:
            items, errors = _saved_plan(plan_file, force)
            report = workspace.apply(items, force=force)
        else:
            plan = workspace.plan()
            report = workspace.apply(plan, force=force)
            errors = plan.errors
    if as_json:
        print_json({**report.data, "errors": errors})
    else:
        out = console()
        for change in report.applied:
            out.print(f"[green]{type(change).__name__.lower()}[/] {change.name}")
        for pending in report.scheduled:
            out.print(f"[dim]scheduled deletion of {pending.name} after {pending.not_before}[/]")
        for name in report.kept:
            out.print(f"[yellow]kept[/] {name}: a record in the zone still points at it")
        if not report.applied:
            # Domains that could not be built have nothing to apply, and are not in sync.
            if errors:
                out.print("nothing to apply")
            elif plan_file is not None and any(item.changes for item in items):
                out.print(f"nothing to apply: every change of {plan_file} is already in effect")
            else:
                out.print("nothing to apply: DNS is in sync")
        for error in errors:
            error_console().print(f"[red]not published[/] {error}")
    raise typer.Exit(int(ExitCode.USAGE if errors else ExitCode.OK))


def _saved_plan(path: Path, force: bool) -> tuple[list[ApplyItem], list[str]]:
    """The plan's items, and the errors of the domains it could not build."""
    from spfmanager.publish.apply import ApplyItem

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = ApplyItem.from_data(data)
        errors = [str(e) for e in data.get("errors") or []]
    except OSError as exc:
        fail(f"{path}: cannot read the plan: {exc.strerror}")
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"{path}: not a plan written by 'spfmanager plan --out': {exc}")
    if data.get("unsafe") and not force:
        fail(f"{path}: refusing an unsafe plan (use --force): " + "; ".join(data["unsafe"]))
    return items, errors
