"""Fixtures starting real BIND 9 servers on 127.0.0.1 (skipped when BIND is not installed)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.integration.bind import BindFactory, BindServer, Zonedata, require_named


@pytest.fixture(scope="session")
def bind_server_factory() -> Iterator[BindFactory]:
    """Start a BindServer: ``factory(zones, tsig=..., ttl=...)``; all stop at session end."""
    servers: list[BindServer] = []

    def start(zones: Mapping[str, Zonedata] | None = None, **kwargs: Any) -> BindServer:
        require_named()
        server = BindServer(zones, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def rfc7208_bind(bind_server_factory: BindFactory) -> BindServer:
    """One server for the RFC 7208 suite: ``load({".": scenario zonedata})`` per scenario."""
    return bind_server_factory({".": {}})
