"""``spfmanager snapshot``: record the upstream DNS a config needs, for offline builds."""

# ruff: noqa: PLC0415  (the pipeline is imported inside the command: --help needs none of it)

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from spfmanager.cli.app import app
from spfmanager.cli.common import (
    ConfigOption,
    ExitCode,
    NameserverOption,
    PortOption,
    SnapshotOption,
    build_resolver,
    clean_errors,
    console,
    error_console,
    fail,
)
from spfmanager.cli.progress import steps


@app.command("snapshot")
def snapshot_command(
    config: ConfigOption = Path("spfmanager.yaml"),
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="Where to write the snapshot.")
    ] = Path("dns-snapshot.yaml"),
    snapshot: SnapshotOption = None,
    nameserver: NameserverOption = None,
    port: PortOption = 53,
) -> None:
    """Write every DNS answer the config's build needs as a --dns-snapshot file.

    Progress goes to stderr: a bar on a terminal, else one line per domain
    ("snapshot [2/5] example.com"). Exit status: 0 written; 1 error, or a domain could not
    be built (the file is still written, with what was resolved; each domain's problem is
    on stderr).
    """
    import yaml

    from spfmanager.compile import compile_file
    from spfmanager.dns.recording import RecordingResolver
    from spfmanager.errors import SPFManagerError
    from spfmanager.flatten import Flattener
    from spfmanager.publish.build import flatten_intent

    with clean_errors():
        recorder = RecordingResolver(build_resolver(snapshot, nameserver, port))
        _, intents = compile_file(config)
        if not intents:
            fail(f"{config}: domains: no domain is configured (add one under 'domains:')")
        flattener = Flattener(recorder)
        problems = []
        with steps("snapshot", len(intents)) as step:
            for intent in intents:
                try:
                    flatten_intent(flattener, intent)
                except SPFManagerError as exc:
                    message = str(exc)  # most already name the domain: once is enough
                    named = message.startswith(f"{intent.domain}:")
                    problems.append(message if named else f"{intent.domain}: {message}")
                    step(f"{intent.domain} (not built)")
                else:
                    step(intent.domain)
    data = recorder.zonedata()
    header = (
        f"# DNS snapshot for {config}, written by 'spfmanager snapshot'.\n"
        "# zonedata form: name -> list of {TYPE: value}; absent names are NXDOMAIN.\n"
    )
    try:
        output.write_text(header + yaml.safe_dump(data, sort_keys=True, width=1000), "utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror}")
    console().print(f"wrote {len(data)} names to {output}")
    if problems:
        errors = error_console()
        for problem in problems:  # Text, not markup: problems echo DNS data; in full
            errors.print(Text.assemble(("error", "red"), " ", problem), soft_wrap=True)
        errors.print(f"{len(problems)} of {len(intents)} domains could not be built")
        raise typer.Exit(int(ExitCode.USAGE))
