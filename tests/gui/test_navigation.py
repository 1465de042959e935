"""Keyboard and mouse navigation: frames, keyframes, flags, play, go-to, timeline, zoom."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtWidgets import QInputDialog
from pytestqt.qtbot import QtBot

from tests.conftest import alone
from tests.gui.conftest import add_flagged_track, drag, view_point
from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.gui.main_window import MainWindow
from tracker_annotate.gui.timeline import HEADER_W, RULER_H

pytestmark = pytest.mark.gui

K = Qt.Key
M = Qt.KeyboardModifier


@pytest.mark.parametrize(
    ("key", "mod", "start", "expected"),
    [
        (K.Key_Right, M.NoModifier, 5, 6),  # next frame
        (K.Key_D, M.NoModifier, 5, 6),  # next frame, left hand on the keyboard
        (K.Key_Left, M.NoModifier, 5, 4),  # previous frame
        (K.Key_A, M.NoModifier, 5, 4),  # previous frame, left hand
        (K.Key_Right, M.ShiftModifier, 5, 15),  # ten forward
        (K.Key_Left, M.ShiftModifier, 15, 5),  # ten back
        (K.Key_Left, M.ShiftModifier, 3, 0),  # ten back clamps at the first frame
        (K.Key_Right, M.NoModifier, 39, 39),  # the last frame stays put
    ],
)
def test_frame_keys(
    qtbot: QtBot, window: MainWindow, video: Path, key: K, mod: M, start: int, expected: int
) -> None:
    assert window.open_path(video)
    s = window.doc.session  # type: ignore[union-attr]
    s.seek(start)
    qtbot.keyClick(window.canvas, key, mod)
    assert s.frame == expected
    assert window.frame_label.text() == f"Frame {expected} / 39"


def test_keyframe_and_flag_keys(qtbot: QtBot, window: MainWindow, video: Path) -> None:
    assert window.open_path(video)
    doc = window.doc
    assert doc is not None
    tid = add_flagged_track(window)
    commands.add_box(doc.project, tid, 12, BoxXYXY(10, 10, 60, 60))
    s = doc.session
    s.select(tid)
    qtbot.keyClick(window.canvas, K.Key_K)
    assert s.frame == 12
    qtbot.keyClick(window.canvas, K.Key_K, M.ShiftModifier)
    assert s.frame == 0
    qtbot.keyClick(window.canvas, K.Key_F)
    assert (s.frame, s.selected) == (5, tid)
    qtbot.keyClick(window.canvas, K.Key_F)
    assert s.frame == 9
    qtbot.keyClick(window.canvas, K.Key_F, M.ShiftModifier)
    assert s.frame == 5


def test_space_plays_at_video_rate_and_pauses(
    qtbot: QtBot, window: MainWindow, video: Path
) -> None:
    assert window.open_path(video)
    s = window.doc.session  # type: ignore[union-attr]
    qtbot.keyClick(window.canvas, K.Key_Space)
    assert s.playing and window.play_timer.interval() == 40  # 25 fps
    qtbot.waitUntil(lambda: s.frame >= 5, timeout=5000)
    qtbot.keyClick(window.canvas, K.Key_Space)
    assert not s.playing
    stopped = s.frame
    qtbot.wait(150)
    assert s.frame == stopped


def test_go_to_frame_dialog(
    qtbot: QtBot, window: MainWindow, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert window.open_path(video)
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (27, True))
    qtbot.keyClick(window.canvas, K.Key_G, M.ControlModifier)
    assert window.doc.session.frame == 27  # type: ignore[union-attr]


def test_timeline_click_seeks_and_selects_lane(
    qtbot: QtBot, window: MainWindow, video: Path
) -> None:
    assert window.open_path(video)
    tid = add_flagged_track(window)
    s = window.doc.session  # type: ignore[union-attr]
    s.select(None)
    lanes = window.timeline.lanes
    x = round(window.timeline.x_of(20.5))
    qtbot.mouseClick(lanes, Qt.MouseButton.LeftButton, pos=QPoint(x, RULER_H + 4))
    assert s.frame == 20 and s.selected == tid
    assert x > HEADER_W


def test_wheel_zooms_and_middle_drag_pans(qtbot: QtBot, window: MainWindow, video: Path) -> None:
    assert window.open_path(video)
    c = window.canvas
    before = c.zoom
    c.set_zoom(before * 4)
    assert c.zoom == pytest.approx(before * 4)
    h = c.horizontalScrollBar()
    assert h is not None
    h.setValue(h.maximum() // 2)
    x0 = h.value()
    vp = c.viewport()
    assert vp is not None
    drag(qtbot, vp, QPoint(300, 300), QPoint(200, 300), button=Qt.MouseButton.MiddleButton)
    assert h.value() == pytest.approx(x0 + 100, abs=2)
    assert window.doc.session.view.zoom == pytest.approx(c.zoom)  # type: ignore[union-attr]
    qtbot.keyClick(c, K.Key_0, M.ControlModifier)
    assert window.doc.session.view.zoom is None  # type: ignore[union-attr]


def test_resize_with_handle_and_copy_delete(qtbot: QtBot, window: MainWindow, video: Path) -> None:
    assert window.open_path(video)
    doc = window.doc
    assert doc is not None
    p, s = doc.project, doc.session
    tid = commands.add_track(p, 0, BoxXYXY(40, 80, 90, 140))
    s.select(tid)
    vp = window.canvas.viewport()
    assert vp is not None
    # bottom-right handle dragged 20 image px right and down
    drag(qtbot, vp, view_point(window, 90, 140), view_point(window, 110, 160))
    box = p.box(tid, 0)
    assert box is not None
    assert box.xyxy.x1 == pytest.approx(40, abs=1) and box.xyxy.x2 == pytest.approx(110, abs=1.5)
    assert box.xyxy.y2 == pytest.approx(160, abs=1.5)
    qtbot.keyClick(window.canvas, K.Key_D, M.ControlModifier)  # copy to the next frame
    assert s.frame == 1 and p.box(tid, 1) is not None
    assert p.box(tid, 1).xyxy == box.xyxy  # type: ignore[union-attr]
    qtbot.keyClick(window.canvas, K.Key_Delete)
    assert p.box(tid, 1) is None and p.box(tid, 0) is not None


def test_plain_click_on_image_deselects(qtbot: QtBot, window: MainWindow, video: Path) -> None:
    assert window.open_path(video)
    doc = window.doc
    assert doc is not None
    tid = commands.add_track(doc.project, 0, BoxXYXY(40, 80, 90, 140))
    doc.session.select(tid)
    vp = window.canvas.viewport()
    pt = window.canvas.mapFromScene(QPointF(250, 200))
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=pt)  # type: ignore[arg-type]
    assert doc.session.selected is None
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=view_point(window, 60, 100))  # type: ignore[arg-type]
    assert doc.session.selected == tid
    assert len(doc.project.tracks) == 1  # clicks never create boxes


def test_flag_keys_wrap_around_so_every_flag_is_reached(
    qtbot: QtBot, window: MainWindow, video: Path
) -> None:
    """A walk that starts after some flags (a review-list click, a re-track that flagged
    earlier frames) must not stop at the last flag while the counter says some are left."""
    assert window.open_path(video)
    tid = add_flagged_track(window)  # flags on 5, 9, 14
    doc = window.doc
    assert doc is not None
    p, s = doc.project, doc.session
    s.go_to(14, tid)
    # accept the last one in review order: go on to the head of the list, frame 5
    qtbot.keyClick(window.canvas, K.Key_Return)
    assert (s.frame, s.selected) == (5, tid)
    qtbot.keyClick(window.canvas, K.Key_F, M.ShiftModifier)  # before the head: wraps
    assert s.frame == 9
    assert "Wrapped around" in window.statusBar().currentMessage()  # type: ignore[union-attr]
    qtbot.keyClick(window.canvas, K.Key_Return)
    qtbot.keyClick(window.canvas, K.Key_Return)
    assert not [b for b in p.boxes(tid).values() if b.flagged and not b.verified]
    assert "No flagged box left" in window.statusBar().currentMessage()  # type: ignore[union-attr]


@pytest.mark.shared_data
def test_a_corrected_length_shows_without_a_key_press(
    qtbot: QtBot,
    window: MainWindow,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tree.avi's header claims 444 frames; 68 decode. The scan's answer arrived, but the
    window went on saying "Frame 0 / 443" until a key was pressed."""

    from tracker_annotate.gui import file_flows

    # the shared folder is read-only: the project goes where the user is asked to put it
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(file_flows, "_choose_project_path", lambda w, s: tmp_path / "t.taproj")
    release = hold_length_scan(monkeypatch)
    assert window.open_path(str(alone(shared_data / "videos" / "tree.avi", tmp_path)))
    assert window.frame_label.text() == "Frame 0 / 443"
    release.set()
    doc = window.doc
    assert doc is not None
    qtbot.waitUntil(lambda: doc.session.n_frames == 68, timeout=30_000)
    assert window.frame_label.text() == "Frame 0 / 67"
    assert window.timeline.hbar.maximum() <= 68


def test_a_far_jump_while_a_new_video_is_indexed_does_not_freeze_the_window(
    qtbot: QtBot,
    window: MainWindow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown_errors: list[str],
) -> None:
    """Exact seeking needs the video's index, built in the background on first open (three
    minutes for an hour of 1080p). A jump far ahead waited on it, the window frozen; now the
    canvas says why the frame is not there yet and shows it when the index is done."""

    from tests.io.test_media import read_stamp, write_video
    from tracker_annotate.io.video import VideoSource

    video = write_video(tmp_path / "new.mp4", "mp4v", 120)
    release = hold_length_scan(monkeypatch)
    on_gui_thread: list[int] = []
    real_scan = VideoSource._run_scan

    def watched(self: VideoSource, cancel=None):  # type: ignore[no-untyped-def]
        if threading.current_thread() is threading.main_thread():
            on_gui_thread.append(1)
        return real_scan(self, cancel)

    monkeypatch.setattr(VideoSource, "_run_scan", watched)
    assert window.open_path(str(video))
    doc = window.doc
    assert doc is not None and doc.indexing
    doc.session.seek(100)  # the timeline dragged far ahead
    assert window.canvas._error_text.isVisible()
    assert "being indexed" in window.canvas._error_text.text()
    assert on_gui_thread == [] and shown_errors == []
    release.set()
    qtbot.waitUntil(lambda: not window.canvas._error_text.isVisible(), timeout=30_000)
    assert window.canvas._shown_frame == 100
    assert window.canvas._frame is not None and read_stamp(window.canvas._frame) == 100
    assert on_gui_thread == [] and shown_errors == []


def test_a_reopened_project_says_its_saved_frame_follows_the_index_and_goes_there(
    qtbot: QtBot,
    window: MainWindow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown_errors: list[str],
) -> None:
    """A new process without the video's index opens the project on frame 0 (no wait), says
    why, and goes to the saved frame once the background index is done."""

    from tests.io.test_media import read_stamp, write_video
    from tracker_annotate.io import video as video_mod

    video = write_video(tmp_path / "clip.mp4", "mp4v", 120)
    assert window.open_path(str(video))
    doc = window.doc
    assert doc is not None
    if doc.scan is not None:
        doc.scan.wait(30_000)
    qtbot.waitUntil(lambda: not doc.indexing, timeout=30_000)
    doc.session.seek(80)
    window.close_document()
    # a new process on another machine: nothing indexed in memory or on disk
    monkeypatch.setattr(video_mod, "_SCANS", {})
    monkeypatch.setenv("TRACKER_ANNOTATE_CACHE", str(tmp_path / "empty-cache"))
    release = hold_length_scan(monkeypatch)
    assert window.open_path(str(tmp_path / "clip.taproj"))
    again = window.doc
    assert again is not None and again.session.frame == 0 and again.pending_frame == 80
    assert "frame 80, where you left off" in window.statusBar().currentMessage()  # type: ignore[union-attr]
    release.set()
    qtbot.waitUntil(lambda: again.session.frame == 80, timeout=30_000)
    qtbot.waitUntil(lambda: window.canvas._shown_frame == 80, timeout=10_000)
    assert window.canvas._frame is not None and read_stamp(window.canvas._frame) == 80
    assert shown_errors == []


def hold_length_scan(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Hold the app's background length scan (the video's index) until the returned event
    is set: the answer comes after the window shows the document."""
    from tracker_annotate.gui import document

    release = threading.Event()
    real_run = document.LengthScan.run

    def late_run(self: document.LengthScan) -> None:
        release.wait(30)
        real_run(self)

    monkeypatch.setattr(document.LengthScan, "run", late_run)
    return release
