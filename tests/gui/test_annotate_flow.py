"""The annotator's main loop, driven like a user: draw, track, jump to a flag, fix, undo."""

from __future__ import annotations

import dataclasses
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
    # This clean clip's object stays in view to the last frame, so no box is in doubt (and
    # a track that reaches the last frame has no end to confirm): flag every box short of
    # certainty, so the loop has flags to walk.
    window.set_prefs(dataclasses.replace(window.prefs, flag_threshold=1.0))
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
    assert n_flags > 0
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


def test_a_box_cannot_be_dragged_past_the_image_edge(
    qtbot: QtBot, window: MainWindow, video: Path
) -> None:
    from tests.gui.conftest import H, W
    from tracker_annotate.core import commands
    from tracker_annotate.core.boxes import BoxXYXY

    assert window.open_path(video)
    doc = window.doc
    assert doc is not None
    p, s = doc.project, doc.session
    tid = commands.add_track(p, 0, BoxXYXY(250, 100, 300, 150))
    s.select(tid)
    vp = window.canvas.viewport()
    # the body, 200 px right and 200 px down: far past the 320x240 frame's corner
    drag(qtbot, vp, view_point(window, 275, 125), view_point(window, 475, 325))
    box = p.box(tid, 0)
    assert box is not None
    assert box.xyxy.x2 <= W + 1e-6 and box.xyxy.y2 <= H + 1e-6, box.xyxy
    assert box.xyxy.width == pytest.approx(50, abs=0.5)  # slid along the edge, not squashed
    # a resize handle stops at the edge too
    drag(qtbot, vp, view_point(window, box.xyxy.x1, box.xyxy.y1), view_point(window, -80, -80))
    box = p.box(tid, 0)
    assert box is not None and box.xyxy.x1 >= -1e-6 and box.xyxy.y1 >= -1e-6, box.xyxy


def test_labels_of_overlapping_boxes_do_not_overlap(window: MainWindow, video: Path) -> None:
    from tracker_annotate.core import commands
    from tracker_annotate.core.boxes import BoxXYXY

    assert window.open_path(video)
    p = window.doc.project  # type: ignore[union-attr]
    for dx in (0, 4, 8):  # three boxes whose top-left corners nearly coincide
        commands.add_track(p, 0, BoxXYXY(100 + dx, 100 + dx, 180, 180))

    def on_screen() -> list[object]:
        vt = window.canvas.viewportTransform()
        return [
            item.tag.deviceTransform(vt).mapRect(item.tag.boundingRect())
            for item in window.canvas.box_items()
        ]

    tags = on_screen()
    assert len(tags) == 3
    for i in range(3):
        for j in range(i + 1, 3):
            assert not tags[i].intersects(tags[j]), (tags[i], tags[j])  # type: ignore[attr-defined]
    window.canvas.set_zoom(window.canvas.zoom / 3)  # tags are screen-sized: re-laid out
    tags = on_screen()
    assert not any(
        tags[i].intersects(tags[j])  # type: ignore[attr-defined]
        for i in range(3)
        for j in range(i + 1, 3)
    )


def test_status_messages_can_be_read_again(
    qtbot: QtBot, window: MainWindow, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Status messages vanished after 10 s with no way to see them again."""
    from tracker_annotate.gui import message_log

    assert window.open_path(video)
    window.controller.status.emit("Track 3: 40 boxes in 1.2 s")
    window.controller.status.emit("Wrapped around to the first flagged box (2 left)")
    sb = window.statusBar()
    assert sb is not None
    sb.clearMessage()  # what the timeout does
    shown: list[str] = []
    monkeypatch.setattr(
        message_log.MessagesDialog,
        "exec",
        lambda self: shown.append(self.text.toPlainText()) or 0,
    )
    window.actions_by_name["messages"].trigger()
    lines = shown[0].splitlines()
    assert lines[0].endswith("Wrapped around to the first flagged box (2 left)")
    assert lines[1].endswith("Track 3: 40 boxes in 1.2 s")
    assert any("Opened" in line for line in lines)
