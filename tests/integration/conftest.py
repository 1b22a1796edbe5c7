"""Fixtures starting real BIND 9 and PostgreSQL servers on 127.0.0.1 (skipped if absent)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.integration.bind import BindFactory, BindServer, Zonedata, require_named
from tests.integration.postgres import PostgresServer, unavailable_reason


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 for the session (skipped when it is not installed)."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql+psycopg://postgres@127.0.0.1:PORT/spfmanager``, shared by the session."""
    return postgres_server.create_database("spfmanager")


@pytest.fixture
def postgres_db(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a database of this test's own: created empty, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)
