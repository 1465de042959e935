"""The timeline's drawing: merged flag ticks and the cached lanes stay true to the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtGui import QColor
from pytestqt.qtbot import QtBot

from tests.gui.conftest import add_flagged_track
from tracker_annotate.core import commands
from tracker_annotate.gui import style
from tracker_annotate.gui.main_window import MainWindow
from tracker_annotate.gui.timeline import RULER_H, tick_spans


@pytest.mark.parametrize(
    ("left", "width", "expected"),
    [
        ([], 1.0, []),  # no ticks, no rectangles
        ([10.0], 2.0, [(10.0, 12.0)]),  # one tick is its own span
        ([10.0, 11.0, 12.0], 1.0, [(10.0, 13.0)]),  # touching ticks merge into one
        ([10.0, 10.4, 10.8], 1.0, [(10.0, 11.8)]),  # sub-pixel spacing (long video) merges
        ([10.0, 20.0], 1.0, [(10.0, 11.0), (20.0, 21.0)]),  # a visible gap stays a gap
    ],
)
def test_tick_spans(left: list[float], width: float, expected: list[tuple[float, float]]) -> None:
    assert tick_spans(np.asarray(left, dtype=float), width) == expected


def _lane_pixel(win: MainWindow, frame: int) -> QColor:
    lanes = win.timeline.lanes
    img = lanes.grab().toImage()
    dpr = img.devicePixelRatio()
    x = win.timeline.x_of(frame + 0.5)
    return img.pixelColor(round(x * dpr), round((RULER_H + 8) * dpr))


@pytest.mark.gui
def test_lanes_redraw_after_an_accept_while_cursor_moves(
    qtbot: QtBot, window: MainWindow, video: Path
) -> None:
    """The lanes are drawn once and reused while stepping; an edit must still show."""
    assert window.open_path(video)
    tid = add_flagged_track(window, flagged_frames=(9,))
    s, p = window.doc.session, window.doc.project  # type: ignore[union-attr]
    window.timeline.set_px_per_frame(8.0)  # wide ticks, easy to sample
    assert _lane_pixel(window, 9) == style.WARNING
    s.seek(3)
    assert _lane_pixel(window, 9) == style.WARNING  # reused backdrop, still right
    commands.accept_box(p, tid, 9)
    assert _lane_pixel(window, 9) != style.WARNING  # the accepted flag is gone
    s.seek(4)
    assert _lane_pixel(window, 9) != style.WARNING


@pytest.mark.gui
def test_a_proposed_object_s_lane_shows_no_flag_until_accepted(
    window: MainWindow, video: Path
) -> None:
    from tracker_annotate.core.boxes import BoxXYXY
    from tracker_annotate.core.proposals import Proposal, accept_proposal, add_proposals

    assert window.open_path(video)
    p = window.doc.project  # type: ignore[union-attr]
    window.timeline.set_px_per_frame(8.0)
    (tid,) = add_proposals(p, [Proposal(3, BoxXYXY(10, 10, 50, 60), 0.7, "car")])
    assert p.box(tid, 3).flagged  # type: ignore[union-attr]
    assert _lane_pixel(window, 3) != style.WARNING  # "new object?" waits apart
    accept_proposal(p, tid, 3, BoxXYXY(12, 10, 52, 60))
    with p.edit("a flag") as tx:
        tx.set_box(tid, p.box(tid, 3).with_(flagged=True, flag_reason="drift"))  # type: ignore[union-attr]
    assert _lane_pixel(window, 3) == style.WARNING  # an accepted track's flag shows
