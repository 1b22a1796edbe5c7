"""Open a config's :class:`~spfmanager.publish.workflow.Workspace`, with a progress bar."""

# ruff: noqa: PLC0415  (imports inside functions: the workflow loads sqlalchemy, providers...)

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from spfmanager.cli.common import build_resolver

if TYPE_CHECKING:
    from spfmanager.publish.build import Progress as ProgressCallback
    from spfmanager.publish.workflow import Workspace


def open_workspace(
    config: Path,
    snapshot: Path | None,
    nameservers: list[str] | None,
    port: int,
    state: str | None = None,
) -> Workspace:
    """Load ``config`` (ConfigError lists every problem) with the chosen DNS. A config
    without any domain is an error: a run over nothing would succeed silently."""
    from spfmanager.errors import ConfigError
    from spfmanager.publish.workflow import Workspace

    resolver = build_resolver(snapshot, nameservers, port)
    workspace = Workspace.load(config, resolver, state_url=state)
    if not workspace.intents:
        raise ConfigError(
            [
                f"{config}: domains: no domain is configured (add one under 'domains:', see "
                "docs/config.md)"
            ]
        )
    return workspace


@contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[ProgressCallback | None]:
    """A progress bar on stderr for humans with several domains; nothing otherwise."""
    if not enabled or total < 2 or not sys.stderr.isatty():
        yield None
        return
    from spfmanager.cli.progress import steps

    with steps("flattening", total, lines=False) as advance:
        yield advance


def offline_workspace(config: Path, state: str | None) -> Workspace:
    """The config and its state store, for commands that need no DNS (status, history)."""
    from spfmanager.dns.snapshot import SnapshotResolver
    from spfmanager.publish.workflow import Workspace

    return Workspace.load(config, SnapshotResolver({}), state_url=state)
