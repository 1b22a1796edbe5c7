"""Fixtures the discover tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from spfmanager.dns.snapshot import SnapshotResolver

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def resolver() -> SnapshotResolver:
    """The providers' published records (``tests/data/provider-snapshot.yaml``), offline."""
    return SnapshotResolver.from_file(DATA / "provider-snapshot.yaml")
