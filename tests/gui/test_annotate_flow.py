"""The annotator's main loop, driven like a user: draw, track, jump to a flag, fix, undo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.gui.conftest import drag, object_xyxy, view_point
from tracker_annotate.core.boxes import BoxSource
from tracker_annotate.core.review import review_items
from tracker_annotate.gui.main_window import MainWindow

pytestmark = pytest.mark.gui


def test_open_video_creates_project_beside_it(window: MainWindow, video: Path) -> None:
    assert window.open_path(video)
    assert (video.parent / "clip.taproj").is_file()
    assert window.doc is not None and window.doc.session.n_frames == 40
    assert "clip.taproj" in window.windowTitle() and "saved" in window.windowTitle()


def test_draw_track_flag_fix_undo_redo(
    qtbot: QtBot, window: MainWindow, video: Path, shown_errors: list[str]
) -> None:
    assert window.open_path(video)
    doc = window.doc
    assert doc is not None
    p, s = doc.project, doc.session
    vp = window.canvas.viewport()
    x1, y1, x2, y2 = object_xyxy(0)
    drag(qtbot, vp, view_point(window, x1, y1), view_point(window, x2, y2))
    assert len(p.tracks) == 1
    tid = next(iter(p.tracks))
    box = p.box(tid, 0)
    assert box is not None and box.source is BoxSource.MANUAL
    assert box.xyxy.iou(type(box.xyxy)(x1, y1, x2, y2)) > 0.9
    assert s.selected == tid

    qtbot.keyClick(window.canvas, Qt.Key.Key_T)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=60_000)
    assert shown_errors == []
    n_flags = len(review_items(p))
    assert n_flags > 0  # the prefs flag everything below 0.99
    # the status bar says what the run did to the review counter
    said = window.statusBar().currentMessage()  # type: ignore[union-attr]
    assert f"flags 0 \u2192 {n_flags} (F: next flag)" in said
    derived = [b for f, b in p.boxes(tid).items() if f > 0]
    assert len(derived) >= 20
    assert all(b.is_derived for b in derived)
    undo_text = p.history.undo_text()
    assert undo_text.startswith("Track")

    # F jumps to the first flagged box and selects it
    qtbot.keyClick(window.canvas, Qt.Key.Key_F)
    f = s.frame
    assert f > 0 and s.selected == tid
    flagged = p.box(tid, f)
    assert flagged is not None and flagged.flagged

    # fix it by dragging the box onto the object: it becomes a manual keyframe
    window.canvas.show_frame(f)
    bx1, by1, _, _ = flagged.xyxy.as_tuple()
    ox1, oy1, _, _ = object_xyxy(f)
    start = view_point(window, bx1 + 10, by1 + 10)
    end = view_point(window, bx1 + 10 + (ox1 - bx1) + 5, by1 + 10 + (oy1 - by1))
    drag(qtbot, vp, start, end)
    fixed = p.box(tid, f)
    assert fixed is not None and fixed.source is BoxSource.MANUAL and not fixed.flagged
    assert fixed.xyxy.x1 == pytest.approx(flagged.xyxy.x1 + (ox1 - bx1) + 5, abs=2)

    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert p.box(tid, f) == flagged
    qtbot.keyClick(
        window.canvas,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert p.box(tid, f) == fixed
    # undo everything back past the tracking run: one step removes all derived boxes
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert sorted(p.boxes(tid)) == [0]
    assert shown_errors == []


def test_first_time_hint_says_what_to_do_until_a_box_exists(
    qtbot: QtBot, window: MainWindow, video: Path
) -> None:
    """A new user sees the next step on the canvas: open something, then draw, then T."""
    hint = window.canvas.hint
    assert hint.isVisible() and "Open" in hint.text()
    assert window.open_path(video)
    assert hint.isVisible() and "Drag on the image" in hint.text()
    x1, y1, x2, y2 = object_xyxy(0)
    drag(qtbot, window.canvas.viewport(), view_point(window, x1, y1), view_point(window, x2, y2))
    assert window.doc is not None and len(window.doc.project.tracks) == 1
    assert not hint.isVisible()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not window.doc.project.tracks
    assert hint.isVisible()  # back to an empty project: the hint is back
