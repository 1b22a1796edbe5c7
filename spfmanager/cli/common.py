"""Helpers shared by the command modules: DNS options, resolvers, JSON, consoles, clean errors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from ipaddress import ip_address
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from spfmanager.dns.base import Resolver

# Command modules import only what their signatures need at module level (typer, rich, the
# option types); everything else inside the command, so that ``--help`` stays fast
# (tests/cli/test_startup.py).


class ExitCode(IntEnum):
    """Exit statuses every command uses."""

    OK = 0
    USAGE = 1  # bad arguments, unreadable files, DNS unavailable
    PROBLEMS = 2  # the command ran and found problems (e.g. error-level findings)


SnapshotOption = Annotated[
    Path | None,
    typer.Option(
        "--dns-snapshot",
        metavar="FILE",
        help="Answer DNS queries from this zonedata YAML file instead of live DNS.",
    ),
]
NameserverOption = Annotated[
    list[str] | None,
    typer.Option(
        "--nameserver",
        metavar="IP",
        help="Query this DNS server (repeatable); default: the system resolver.",
    ),
]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of --nameserver.")]
ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", metavar="FILE", help="The spfmanager.yaml to use."),
]
StateOption = Annotated[
    str | None,
    typer.Option("--state", metavar="URL", help="State store URL (default: from the config)."),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]


# Wide enough that no table cell is cut or folded when stdout is a pipe or a file.
PIPE_WIDTH = 10_000


def console() -> Console:
    """The console for results (stdout): the terminal's width on a terminal; in a pipe (or
    a file) as wide as the content, so nothing is cut (set COLUMNS to choose a width)."""
    out = Console(highlight=False, emoji=False)  # emoji: "ip6:…:1234:5678" holds ":1234:"
    if out.is_terminal or "COLUMNS" in os.environ:
        return out
    return Console(highlight=False, emoji=False, width=PIPE_WIDTH)


def error_console() -> Console:
    """The console for errors (stderr)."""
    return Console(stderr=True, highlight=False, emoji=False)


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    """Print a one-line error on stderr and exit with ``code``."""
    text = Text.assemble(("error:", "bold red"), " ", message)  # no markup: messages echo input
    error_console().print(text, soft_wrap=True)
    raise typer.Exit(int(code))


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn spfmanager's own errors into a clean message and exit status 1.

    A ConfigError prints every problem, one per line (each names file, line and field).
    """
    from spfmanager.errors import (  # noqa: PLC0415  (lazy: --help needs none of it)
        ConfigError,
        SnapshotError,
        SPFManagerError,
        SPFSyntaxError,
    )

    try:
        yield
    except ConfigError as exc:
        fail("\n".join(exc.problems) or "invalid configuration")
    except SnapshotError as exc:
        fail(str(exc) or "invalid DNS snapshot")
    except SPFSyntaxError as exc:
        fail(f"{exc}\n{exc.pointer()}" if exc.text else str(exc))
    except SPFManagerError as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def build_resolver(
    snapshot: Path | None, nameservers: list[str] | None = None, port: int = 53
) -> Resolver:
    """A SnapshotResolver for ``--dns-snapshot``, else a live resolver.

    Raises SnapshotError for an unreadable snapshot, and exits with a usage error for
    ``--dns-snapshot`` combined with ``--nameserver`` or a nameserver that is not an IP.
    """
    if snapshot is not None:
        if nameservers:
            fail("--dns-snapshot and --nameserver cannot be used together")
        from spfmanager.dns.snapshot import SnapshotResolver  # noqa: PLC0415

        return SnapshotResolver.from_file(snapshot)
    for server in nameservers or []:
        try:
            ip_address(server)
        except ValueError:
            fail(f"--nameserver needs an IP address, not {server!r}")
    from spfmanager.dns.resolver import LiveResolver  # noqa: PLC0415  (dnspython: load lazily)

    return LiveResolver(nameservers or None, port=port)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (no colours, no wrapping)."""
    typer.echo(json.dumps(data, indent=2, sort_keys=False))
