"""Shared fixtures: paths to the bundled test data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def provider_snapshot_path() -> Path:
    return DATA / "provider-snapshot.yaml"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's Route 53 API server on 127.0.0.1 (a free port), for one test module."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415  (heavy: only where used)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
