"""The inclusive integer range algebra the coverer and the drift report share."""

from __future__ import annotations

from spfmanager.spf.ranges import subtract_ranges


def test_subtract_ranges_keeps_what_no_cut_covers() -> None:
    assert subtract_ranges([(0, 9)], [(3, 4), (8, 20)]) == [(0, 2), (5, 7)]
    assert subtract_ranges([(0, 9), (20, 29)], [(0, 9)]) == [(20, 29)]
    assert subtract_ranges([(5, 5)], [(0, 4), (6, 9)]) == [(5, 5)]
    assert subtract_ranges([(0, 9)], []) == [(0, 9)]
