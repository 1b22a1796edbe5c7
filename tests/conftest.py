"""Shared fixtures: paths to the bundled test data."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def provider_snapshot_path() -> Path:
    return DATA / "provider-snapshot.yaml"
