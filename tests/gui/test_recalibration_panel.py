"""The confidence learns from the annotator's verdicts in the app, says so in the review
panel, and Ctrl+Z takes it back; assertions on the model."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.gui.conftest import object_xyxy
from tracker_annotate.core import commands, recalibration
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.gui.main_window import MainWindow

pytestmark = pytest.mark.gui
K = Qt.Key
FLAGGED = tuple(range(1, 39, 3))  # 13 flagged boxes, apart: one stretch each


def test_rejections_lower_the_confidence_flag_more_and_undo_takes_it_back(
    qtbot: QtBot, window: MainWindow, video: Path, shown_errors: list[str]
) -> None:
    win = window
    assert win.open_path(video)
    p = win.doc.project  # type: ignore[union-attr]
    tid = commands.add_track(p, 0, BoxXYXY(*object_xyxy(0)))
    with p.edit("Track") as tx:
        for f in range(1, 39):
            flagged = f in FLAGGED
            tx.set_box(
                tid,
                FrameBox(
                    f,
                    BoxXYXY(*object_xyxy(f)),
                    BoxSource.TRACKED,
                    0.45 if flagged else 0.6,
                    flagged=flagged,
                    flag_reason="appearance drift" if flagged else "",
                ),
            )
    assert win.review.learned.text().startswith("Learning from reviews: 0 so far")

    # the annotator rejects flagged boxes one by one: F, then Delete
    every = recalibration.RecalParams().every
    for _ in range(every):
        qtbot.keyClick(win.canvas, K.Key_F)
        qtbot.keyClick(win.canvas, K.Key_Delete)
    assert shown_errors == []
    assert len(p.quality.reviews) == every
    assert all(o.selection == "flag" and not o.right for o in p.quality.reviews)
    st = p.quality.recal
    assert st is not None and st.direction == "lowered" and st.flagged > 0
    # the unflagged boxes at 0.6 became doubtful: flagged, with the reason
    doubtful = [b for b in p.boxes(tid).values() if b.flagged and b.confidence == 0.6]
    assert len(doubtful) == st.flagged
    assert doubtful[0].flag_reason.startswith(recalibration.REASON_PREFIX)
    line = win.review.learned.text()
    assert line == (
        f"Learned from {every} reviews: confidence lowered; {st.flagged} more boxes flagged"
    )

    # one Ctrl+Z undoes the recalibration (not the last rejection)
    win.canvas.setFocus()
    win.actions_by_name["undo"].trigger()
    assert p.quality.recal is None and len(p.quality.reviews) == every
    assert not [b for b in p.boxes(tid).values() if b.flagged and b.confidence == 0.6]
    assert win.review.learned.text() == f"{every} reviews not yet learned from"
