"""A build's collector settings are set once and restored, whatever happens inside."""

from __future__ import annotations

import gc

import pytest

from spfmanager.publish.collector import OLDEST_THRESHOLD, batch_collector


def test_settings_are_restored_and_nested_batches_leave_them_alone() -> None:
    before = gc.get_threshold()
    with batch_collector():
        assert gc.get_threshold()[2] >= OLDEST_THRESHOLD
        frozen = gc.get_freeze_count()
        assert frozen > 0  # the objects already there are out of the collector's way
        with batch_collector():  # a plan's build
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen  # the inner batch did not unfreeze
        assert gc.get_threshold()[2] >= OLDEST_THRESHOLD
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_error_inside_restores_them() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), batch_collector():
        raise RuntimeError("a build that failed")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
