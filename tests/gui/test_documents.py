"""Projects on disk through the app: reopen restores, errors in the window, media moved,
import/export, drag and drop, closing mid-tracking, a killed process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent
from PyQt6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from tests.gui.conftest import add_flagged_track, drag, object_xyxy, view_point, write_video
from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.errors import TrackingError
from tracker_annotate.gui import file_flows
from tracker_annotate.gui.main_window import MainWindow
from tracker_annotate.io.store import ProjectStore

pytestmark = pytest.mark.gui


def test_reopen_restores_edit_frame_zoom_and_selection(
    qtbot: QtBot, window: MainWindow, video: Path
) -> None:
    assert window.open_path(video)
    vp = window.canvas.viewport()
    assert vp is not None
    drag(qtbot, vp, view_point(window, 40, 80), view_point(window, 90, 140))
    doc = window.doc
    assert doc is not None
    tid = doc.session.selected
    doc.session.seek(7)
    window.canvas.set_zoom(window.canvas.zoom * 2)
    zoom = window.canvas.zoom
    window.close_document()
    assert window.doc is None

    assert window.open_path(video)  # the media again: its project is reopened
    doc = window.doc
    assert doc is not None
    assert doc.path == video.with_suffix(".taproj")
    box = doc.project.box(tid, 0)  # type: ignore[arg-type]
    assert box is not None and box.xyxy.iou(BoxXYXY(40, 80, 90, 140)) > 0.9
    assert doc.session.frame == 7 and doc.session.selected == tid
    assert window.canvas.zoom == pytest.approx(zoom, rel=1e-3)


@pytest.mark.parametrize(
    ("name", "content", "expect"),
    [
        ("bad.mp4", b"this is not a video", "bad.mp4"),  # garbage with a video extension
        ("notes.txt", b"hello", "unknown media type"),  # not media at all
        ("missing.avi", None, "no such file"),  # gone
        ("broken.taproj", b"not sqlite", "broken.taproj"),  # a damaged project file
    ],
)
def test_open_errors_are_shown_in_the_window(
    window: MainWindow,
    tmp_path: Path,
    shown_errors: list[str],
    name: str,
    content: bytes | None,
    expect: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert not window.open_path(path)
    assert window.doc is None
    assert len(shown_errors) == 1
    assert expect in shown_errors[0]
    assert "Traceback" not in shown_errors[0]


def test_moved_media_is_relinked(
    window: MainWindow, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert window.open_path(video)
    commands.add_track(window.doc.project, 3, BoxXYXY(10, 10, 50, 50))  # type: ignore[union-attr]
    window.close_document()
    moved = tmp_path / "elsewhere" / "clip.avi"
    moved.parent.mkdir()
    shutil.move(video, moved)
    asked: list[str] = []
    said: list[str] = []

    def choose(win: MainWindow, expected: str, message: str) -> str:
        asked.append(expected)
        said.append(message)
        return str(moved)

    monkeypatch.setattr(file_flows, "_choose_media", choose)
    assert window.open_path(video.with_suffix(".taproj"))
    assert asked == [str(video)]
    # plain words for an annotator, no Python API
    assert "not where it was" in said[0] and "ProjectStore" not in said[0]
    doc = window.doc
    assert doc is not None and doc.project.media is not None
    assert doc.project.media.path == str(moved)
    assert len(doc.project.tracks) == 1
    # cancelling the question opens nothing and shows no error
    window.close_document()
    shutil.move(moved, tmp_path / "gone.avi")
    monkeypatch.setattr(file_flows, "_choose_media", lambda *a: None)
    assert not window.open_path(video.with_suffix(".taproj"))


def test_export_then_import_round_trip(
    window: MainWindow, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert window.open_path(video)
    tid = add_flagged_track(window)
    out = tmp_path / "gt"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "MOT file (*.txt)")
    )
    window.actions_by_name["export"].trigger()
    assert (tmp_path / "gt.txt").is_file()
    p = window.doc.project  # type: ignore[union-attr]
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "gt.txt"), "")
    )
    window.actions_by_name["import_annotations"].trigger()
    assert len(p.tracks) == 2
    new = max(p.tracks)
    assert sorted(p.boxes(new)) == sorted(p.boxes(tid))
    window.actions_by_name["undo"].trigger()  # the whole import is one step
    assert list(p.tracks) == [tid]


def test_importing_an_empty_file_changes_nothing_and_says_so(
    window: MainWindow,
    video: Path,
    tmp_path: Path,
    shown_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert window.open_path(video)
    p = window.doc.project  # type: ignore[union-attr]
    labels, undo = dict(p.labels), p.history.undo_text()
    empty = tmp_path / "empty.json"
    empty.write_text('{"images": [], "annotations": [], "categories": [{"id": 1, "name": "z"}]}')
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(empty), ""))
    window.actions_by_name["import_annotations"].trigger()
    assert dict(p.labels) == labels and not p.tracks and p.history.undo_text() == undo
    assert len(shown_errors) == 1 and "holds no boxes" in shown_errors[0]


def test_drop_a_video_on_the_window_opens_it(window: MainWindow, video: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(video))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.doc is not None and window.doc.session.n_frames == 40


def test_tracking_failure_leaves_project_and_shows_error(
    qtbot: QtBot,
    window: MainWindow,
    video: Path,
    shown_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracker_annotate.tracking import engine

    def broken(*args: object, **kwargs: object) -> None:
        raise TrackingError("keyframe on frame 0 is outside the image")

    monkeypatch.setattr(engine, "track_project", broken)
    assert window.open_path(video)
    p = window.doc.project  # type: ignore[union-attr]
    tid = commands.add_track(p, 0, BoxXYXY(*object_xyxy(0)))
    qtbot.keyClick(window.canvas, Qt.Key.Key_T)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=10_000)
    assert sorted(p.boxes(tid)) == [0]
    assert len(shown_errors) == 1
    assert "project is unchanged" in shown_errors[0] and "outside the image" in shown_errors[0]


def test_cancel_and_close_mid_tracking_keep_committed_state(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, shown_errors: list[str]
) -> None:
    long_video = write_video(tmp_path / "long.avi", n=80)
    assert window.open_path(long_video)
    p = window.doc.project  # type: ignore[union-attr]
    tid = commands.add_track(p, 0, BoxXYXY(*object_xyxy(0)))
    window.actions_by_name["track_all"].trigger()
    assert window.controller.busy and window.cancel_button.isVisibleTo(window)
    window.close_document()  # closing mid-run: the run is dropped, nothing half-applied
    assert window.controller.worker is None
    with ProjectStore.open(long_video.with_suffix(".taproj")) as store:
        assert sorted(store.project.boxes(tid)) == [0]
    assert shown_errors == []


def test_killed_process_loses_no_committed_edit(video: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os, signal
        from tracker_annotate.core.boxes import BoxXYXY
        from tracker_annotate.gui.app import make_app
        from tracker_annotate.gui.main_window import MainWindow
        from tracker_annotate.gui.preferences import Preferences
        app = make_app()
        win = MainWindow(Preferences(auto_retrack=False))
        win.show()
        assert win.open_path({str(video)!r})
        win.controller.draw_box(4, BoxXYXY(10, 20, 60, 90))
        win.doc.session.seek(9)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env["XDG_CONFIG_HOME"] = str(video.parent / "cfg")
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with ProjectStore.open(video.with_suffix(".taproj")) as store:
        boxes = store.project.boxes_at(4)
        assert len(boxes) == 1 and boxes[0][1].xyxy == BoxXYXY(10, 20, 60, 90)


def test_killed_process_keeps_its_place_in_the_video(video: Path) -> None:
    """Frame, zoom and selection were restored only after a clean quit."""
    code = textwrap.dedent(
        f"""
        import os, signal
        from PyQt6.QtTest import QTest
        from tracker_annotate.core.boxes import BoxXYXY
        from tracker_annotate.gui.app import make_app
        from tracker_annotate.gui.main_window import MainWindow
        from tracker_annotate.gui.preferences import Preferences
        app = make_app()
        win = MainWindow(Preferences(auto_retrack=False))
        win.show()
        assert win.open_path({str(video)!r})
        win.controller.draw_box(4, BoxXYXY(10, 20, 60, 90))
        win.doc.session.seek(23)
        win.canvas.set_zoom(win.canvas.zoom * 2)
        QTest.qWait(1500)  # the debounced save (1 s), then the kill
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env["XDG_CONFIG_HOME"] = str(video.parent / "cfg")
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with ProjectStore.open(video.with_suffix(".taproj")) as store:
        state = store.get_ui_state()
    assert state["frame"] == 23 and state["selected"] == 1
    assert state["zoom"] is not None


def test_title_says_saved_and_undo_text(window: MainWindow, video: Path) -> None:
    assert window.window().windowTitle() == "tracker-annotate"
    assert window.open_path(video)
    assert window.windowTitle().startswith("clip.taproj \u2014 saved")
    commands.add_track(window.doc.project, 0, BoxXYXY(1, 1, 20, 20))  # type: ignore[union-attr]
    assert window.actions_by_name["undo"].text() == "&Undo Add track"
    assert not window.actions_by_name["redo"].isEnabled()
    assert "saved" in window.windowTitle()


def test_esc_before_the_first_frame_changes_nothing_and_says_so(
    qtbot: QtBot,
    window: MainWindow,
    video: Path,
    shown_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancelled before any box: no undo step, so the status must not offer Ctrl+Z (it
    would undo the box the annotator just drew)."""
    import time

    from tracker_annotate.tracking import engine
    from tracker_annotate.tracking.api import CancelToken, TrackingRun

    def waits_for_cancel(*args: object, cancel: CancelToken, **kwargs: object) -> TrackingRun:
        while not cancel.cancelled:
            time.sleep(0.01)
        return TrackingRun(cancelled=True)

    monkeypatch.setattr(engine, "track_project", waits_for_cancel)
    assert window.open_path(video)
    vp = window.canvas.viewport()
    x1, y1, x2, y2 = object_xyxy(0)
    drag(qtbot, vp, view_point(window, x1, y1), view_point(window, x2, y2))
    p = window.doc.project  # type: ignore[union-attr]
    undo_before = p.history.undo_text()
    qtbot.keyClick(window.canvas, Qt.Key.Key_T)
    assert window.controller.busy and window.cancel_button.isVisibleTo(window)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=10_000)
    assert not window.cancel_button.isVisibleTo(window)
    message = window.statusBar().currentMessage()  # type: ignore[union-attr]
    assert "nothing to undo" in message and "Ctrl+Z" not in message
    assert p.history.undo_text() == undo_before
    assert shown_errors == []


def test_read_only_media_folder_asks_once_then_finds_the_project(
    window: MainWindow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown_errors: list[str],
) -> None:
    """A shared data folder without write bits gets no project file, even for root (who
    may write anyway); the app asks, and the next visit finds the project it chose."""
    from PyQt6.QtWidgets import QMessageBox

    data = tmp_path / "shared"
    data.mkdir()
    video = write_video(data / "clip.avi")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    asked: list[str] = []

    def save_name(parent: object, title: str, start: str, *a: object) -> tuple[str, str]:
        asked.append(start)
        return start, ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    data.chmod(0o555)
    try:
        assert window.open_path(video)
        assert asked == [str(home / "clip.taproj")]
        assert not (data / "clip.taproj").exists()
        assert window.doc is not None and window.doc.path == home / "clip.taproj"
        tid = commands.add_track(window.doc.project, 0, BoxXYXY(*object_xyxy(0)))
        window.close_document()
        assert window.open_path(video)  # the second visit: no question, same project
        assert len(asked) == 1
        assert window.doc is not None and window.doc.path == home / "clip.taproj"
        assert tid in window.doc.project.tracks
    finally:
        data.chmod(0o755)
    assert shown_errors == []


def _truncated_project_with_backup(window: MainWindow, video: Path) -> tuple[Path, int]:
    assert window.open_path(video)
    doc = window.doc
    assert doc is not None
    for f in range(30):
        commands.add_track(doc.project, f, BoxXYXY(10 + f, 10, 50 + f, 50))
    path, n = doc.path, doc.project.n_boxes()
    window.close_document()  # the backup is refreshed on close
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, n


def test_a_truncated_project_is_called_damaged_and_restored_from_its_backup(
    window: MainWindow,
    video: Path,
    shown_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, n = _truncated_project_with_backup(window, video)
    asked: list[str] = []

    def yes(parent: object, title: str, text: str, *a: object) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(file_flows.QMessageBox, "question", yes)
    assert window.open_path(path)
    assert len(asked) == 1 and "damaged" in asked[0] and "seconds ago" in asked[0]
    assert window.doc is not None and window.doc.project.n_boxes() == n
    assert path.with_name(path.name + ".damaged").is_file(), "the damaged file is kept"
    assert shown_errors == []


def test_a_damaged_project_gets_no_advice_to_undo_or_reopen(
    window: MainWindow,
    video: Path,
    shown_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _ = _truncated_project_with_backup(window, video)
    monkeypatch.setattr(
        file_flows.QMessageBox, "question", lambda *a: QMessageBox.StandardButton.No
    )
    assert not window.open_path(path)
    assert len(shown_errors) == 1
    shown = shown_errors[0]
    assert "damaged" in shown and "backup" in shown
    assert "every edit was saved" not in shown and "Undo the last step" not in shown
