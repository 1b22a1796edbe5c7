"""What the daemon's commands share: the upstream resolver of each pass, the runner."""

# ruff: noqa: PLC0415  (imports inside functions: the runner loads the whole publish stack)

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from spfmanager.cli.common import build_resolver

if TYPE_CHECKING:
    from spfmanager.daemon.runner import Observer, ResolverFactory, Runner
    from spfmanager.dns.base import Resolver


def resolver_factory(
    snapshot: Path | None, nameservers: list[str] | None, port: int
) -> ResolverFactory:
    """A snapshot is read afresh for every pass (an edited file is an upstream change);
    live DNS is one resolver for the process, whose TTL cache passes share."""
    if snapshot is not None:
        from spfmanager.dns.snapshot import SnapshotResolver

        build_resolver(snapshot, nameservers, port)  # fail now on a bad file or option

        def fresh() -> Resolver:
            return SnapshotResolver.from_file(snapshot)

        return fresh
    live = build_resolver(None, nameservers, port)
    return lambda: live


def instance_name() -> str:
    """This process, as named in leases and history: host and pid."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def open_runner(
    config: Path,
    snapshot: Path | None,
    nameservers: list[str] | None,
    port: int,
    state: str | None,
    *,
    lease: float = 0.0,
    observers: tuple[Observer, ...] = (),
) -> Runner:
    from spfmanager.daemon.runner import Runner

    return Runner(
        config,
        resolver_factory(snapshot, nameservers, port),
        state_url=state,
        instance=instance_name(),
        lease=lease,
        observers=observers,
    )
