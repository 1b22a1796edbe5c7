"""``spfmanager macro-server``: write macro mode's rbldnsd data file and serve it."""

# ruff: noqa: PLC0415  (the pipeline is imported inside the command: --help needs none of it)

from __future__ import annotations

import os
import shlex
import shutil
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
    clean_errors,
    console,
    error_console,
    fail,
    print_json,
)

if TYPE_CHECKING:
    from spfmanager.config.models import MacroConfig

#: Seconds between rbldnsd's checks of the data file's modification time (its -c).
CHECK_INTERVAL = 60


def rbldnsd_command(settings: MacroConfig, path: Path, binary: str = "rbldnsd") -> list[str]:
    """The rbldnsd command line serving the data file ``path`` for ``settings.zone``:
    in the foreground (``-n``), answering during reloads (``-f``), re-reading the file
    when it changes (``-c``), from its directory (``-w``)."""
    return [
        binary, "-n", "-f", "-c", str(CHECK_INTERVAL), "-b", settings.listen,
        "-w", str(path.parent.resolve()), "-t", str(settings.ttl),
        f"{settings.zone}:combined:{path.name}",
    ]  # fmt: skip


def _binary() -> str | None:
    return shutil.which("rbldnsd") or (
        "/usr/sbin/rbldnsd" if Path("/usr/sbin/rbldnsd").exists() else None
    )


@app.command("macro-server")
def macro_server_command(
    config: ConfigOption = Path("spfmanager.yaml"),
    execute: Annotated[
        bool,
        typer.Option(
            "--exec", help="Then replace this process with that rbldnsd (for containers)."
        ),
    ] = False,
    snapshot: SnapshotOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
    as_json: JsonOption = False,
) -> None:
    """Build and prove macro mode's data file, write it if it changed, print the rbldnsd
    command that serves it.

    Every macro-mode domain of the config ('mode: macro', see docs/macro.md) is built into
    one rbldnsd "combined" dataset for the 'macro:' section's zone and proven under every
    receiver profile; the file ('macro.data_file', relative to the config) is replaced
    atomically, and only when it changed. The command printed serves it on 'macro.listen'
    and re-reads it within a minute of each change. --exec runs it in place of this process
    (exec: same PID, signals go to rbldnsd). The root records themselves are published by
    'apply' or the daemon, which keep the data file current after upstream changes.

    A domain that cannot be built now (its upstream unanswered, a failed proof) keeps its
    sections of the last good file, with a warning; the others are written.

    Exit status: 0 the data file is proven and written (or unchanged), domains kept at
    their last good answers included; 1 an error (a bad config, no 'macro:' section or no
    macro-mode domain, no domain that can be built: the last good file stays; --exec
    without rbldnsd installed).
    """
    from spfmanager.cli.common import build_resolver
    from spfmanager.publish.macro import macro_intents, write_data
    from spfmanager.publish.workflow import Workspace

    with clean_errors():
        workspace = Workspace.load(config, build_resolver(snapshot, nameserver, port))
        settings = workspace.config.macro
        if settings is None:
            fail(f"{config}: no 'macro:' section: nothing to serve (see docs/macro.md)")
        if not macro_intents(workspace.intents):
            fail(f"{config}: no domain has 'mode: macro': nothing to serve")
        if settings.backend.value != "rbldnsd":
            fail(
                f"{config}: macro.backend is {settings.backend.value}: provider "
                f"{settings.provider} serves the records, there is no rbldnsd to run "
                "('spfmanager apply' publishes them)"
            )
        builds, data = workspace.macro_build()
        for build in builds:
            if build.error is not None:
                console().print(f"[red]not built[/] {build.intent.domain}: {build.error}")
        if data.text is None:
            fail(f"{data.path}: not written, the last good file stays")
        for domain in data.kept:
            error_console().print(
                f"[yellow]warning:[/] {domain} keeps its last good answers (not built now)"
            )
        written = write_data(data)
    binary = _binary()
    command = rbldnsd_command(settings, data.path, binary or "rbldnsd")
    if as_json:
        print_json(
            {
                "data_file": str(data.path),
                "zone": data.zone,
                "entries": data.entries,
                "written": written,
                "domains": [b.intent.domain for b in builds],
                "command": command,
            }
        )
    else:
        state = "written" if written else "unchanged"
        console().print(f"macro data: {data.path}: {data.entries} entries, {state}", soft_wrap=True)
        typer.echo(shlex.join(command))
    if execute:
        if binary is None:
            fail("rbldnsd is not installed (apt-get install rbldnsd)")
        sys.stdout.flush()  # exec replaces the process: nothing buffered may be lost
        os.execvp(binary, command)
    raise typer.Exit(int(ExitCode.OK))
