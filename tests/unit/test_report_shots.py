"""``bsin_dev.report_shots``: which widths of a page share one Chromium window."""

from __future__ import annotations

import pytest
from bsin_dev.report_shots import MAX_SHOT_HEIGHT, frame_batches


@pytest.mark.parametrize(
    ("heights", "limit", "expected"),
    [
        ({375: 3000, 600: 2900}, 16000, [[375, 600]]),
        ({375: 9000, 600: 8000}, 16000, [[375], [600]]),
        ({375: 8000, 600: 8000}, 16000, [[375, 600]]),  # exactly the limit still fits
        ({375: 20000, 600: 100, 800: 100}, 16000, [[375], [600, 800]]),
        ({}, 16000, []),
    ],
)
def test_frames_share_a_window_while_they_fit(heights, limit, expected):
    assert frame_batches(heights, limit) == expected


def test_every_width_is_photographed_once_in_order():
    heights = {w: h for w, h in zip(range(300, 1300, 100), range(1000, 11000, 1000), strict=True)}
    batches = frame_batches(heights, MAX_SHOT_HEIGHT)
    assert [w for b in batches for w in b] == list(heights)
    assert all(sum(heights[w] for w in b) <= MAX_SHOT_HEIGHT for b in batches if len(b) > 1)
