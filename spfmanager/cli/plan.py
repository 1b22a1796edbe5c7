"""``spfmanager plan`` and ``spfmanager apply``: publish like Terraform — plan, then apply it."""

# ruff: noqa: PLC0415  (publishing is imported inside the commands: --help needs none of it)

from __future__ import annotations

import json
import sys
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
    from spfmanager.publish.macro import MacroData, ZoneChanges
    from spfmanager.publish.plan import Plan
    from spfmanager.publish.workflow import Workspace

#: The question ``apply`` asks on a terminal; only this exact answer applies.
APPROVAL_QUESTION = "Apply these changes? Only 'yes' is accepted"

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

    Per domain and service it also shows the address ranges that start (+) or stop (-)
    passing, compared with the records published now: the zone as the provider lists it at
    plan time (where nothing is published, every range is added). The output ends with a
    summary line: "Plan: 2 to create, 1 to update, 0 to delete, 3 to delete later." (JSON:
    "summary" and each domain's "range_changes").

    Exit status: 0 in sync; 2 changes pending (or retired names still waiting for their
    deletion time); 1 error (bad config, a domain that cannot be built, a provider failure).
    """
    from spfmanager.publish.render import plan_markdown

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
        _show(plan)
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
    auto_approve: Annotated[
        bool,
        typer.Option(
            "--auto-approve",
            help="Apply the plan made now without asking (on a terminal, apply asks first).",
        ),
    ] = False,
    state: StateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Apply the plan (made now, or saved with 'plan --out'), phase by phase.

    New chained records first, then the roots, then retired records that are due; macro
    mode's data file before all of them. Applying twice changes nothing; progress goes to
    stderr.

    Without --plan the plan is made now and shown as 'plan' shows it. On a terminal (stdin
    and stdout) apply then asks "Apply these changes?" and applies only on "yes";
    --auto-approve skips the question. Nothing is asked when the plan has no change, when
    not on a terminal (scripts and CI apply as before), or with --plan FILE: a saved plan is
    its own approval. --json on a terminal needs --auto-approve or --plan (JSON has no
    question to answer): without, apply refuses with status 1.

    Exit status: 0 applied (or nothing to do); 1 error, refused, or not approved.
    """
    from spfmanager.cli.progress import steps

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if as_json and interactive and plan_file is None and not auto_approve:
        fail("--json on a terminal needs --auto-approve (or --plan FILE): JSON asks no question")
    with clean_errors():
        workspace = open_workspace(config, snapshot, nameserver, port, state)
        if plan_file is not None:
            items, errors, macro, zones = _saved_plan(plan_file, force, workspace)
            with steps("apply", None, lines=not as_json) as step:
                report = workspace.apply(
                    items, force=force, progress=step, macro=macro, macro_zones=zones
                )
        else:
            with progress_bar(len(workspace.intents), not as_json) as advance:
                plan = workspace.plan(progress=advance)
            if not as_json:
                _show(plan)
            if interactive and not auto_approve and _asks(plan, force) and not _approved():
                console().print("Apply cancelled.")
                raise typer.Exit(int(ExitCode.USAGE))
            with steps("apply", None, lines=not as_json) as step:
                report = workspace.apply(plan, force=force, progress=step)
            errors = plan.errors
    if as_json:
        print_json({**report.data, "errors": errors})
    else:
        out = console()
        if report.macro_written is not None:
            out.print(f"[green]write[/] {report.macro_written} (macro data)")
        for line in report.macro_changes:
            out.print(f"[green]publish[/] {line}")
        for change in report.applied:
            out.print(f"[green]{type(change).__name__.lower()}[/] {change.name}")
        for pending in report.scheduled:
            out.print(f"[dim]scheduled deletion of {pending.name} after {pending.not_before}[/]")
        for name in report.kept:
            out.print(f"[yellow]kept[/] {name}: a record in the zone still points at it")
        if not report.applied and report.macro_written is None and not report.macro_changes:
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


def _show(plan: Plan) -> None:
    """The plan's tables, and its summary line: one line, however narrow the output."""
    from spfmanager.publish.render import plan_summary, plan_table

    out = console()
    out.print(plan_table(plan, summary=False))
    out.print(plan_summary(plan), soft_wrap=True)


def _asks(plan: Plan, force: bool) -> bool:
    """Whether there is something to approve: changes, in a plan that apply will not refuse
    anyway (an unsafe plan without --force fails at once, there is nothing to ask)."""
    return plan.has_changes and (force or not plan.unsafe)


def _approved() -> bool:
    """Ask on the terminal; True only for the answer "yes"."""
    import click

    try:
        answer = typer.prompt(APPROVAL_QUESTION, default="", show_default=False)
    except click.exceptions.Abort:  # end of input, Ctrl-C
        typer.echo()
        return False
    return str(answer).strip() == "yes"


def _saved_plan(
    path: Path, force: bool, workspace: Workspace
) -> tuple[list[ApplyItem], list[str], MacroData | None, list[ZoneChanges]]:
    """The plan's items, the errors of the domains it could not build, its macro data file
    (the proven dataset the plan holds, written first) and its macro zones' changes."""
    from spfmanager.publish.apply import ApplyItem
    from spfmanager.publish.macro import MacroData, ZoneChanges

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = ApplyItem.from_data(data)
        errors = [str(e) for e in data.get("errors") or []]
        saved = data.get("macro")
        macro = None
        zones: list[ZoneChanges] = []
        if saved and workspace.config.macro is not None:
            if saved.get("dataset"):
                macro = MacroData(
                    workspace.config.macro, Path(saved["data_file"]), str(saved["dataset"])
                )
            zones = [ZoneChanges.from_data(z) for z in saved.get("zones") or []]
    except OSError as exc:
        fail(f"{path}: cannot read the plan: {exc.strerror}")
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"{path}: not a plan written by 'spfmanager plan --out': {exc}")
    if data.get("unsafe") and not force:
        fail(f"{path}: refusing an unsafe plan (use --force): " + "; ".join(data["unsafe"]))
    return items, errors, macro, zones
