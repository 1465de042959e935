"""Tracking through the app: re-track after an edit, detections as proposed tracks,
streaming preview, and where project files go."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from tests.gui.conftest import N, drag, object_xyxy, view_point
from tracker_annotate.app.document import project_path_for
from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.gui.main_window import MainWindow
from tracker_annotate.gui.preferences import Preferences

pytestmark = pytest.mark.gui


@pytest.fixture
def prefs() -> Preferences:
    return Preferences(flag_threshold=0.5, cache_mb=64, auto_retrack=True)


def test_editing_a_tracked_box_retracks_the_segment(
    qtbot: QtBot, window: MainWindow, video: Path, shown_errors: list[str]
) -> None:
    assert window.open_path(video)
    doc = window.doc
    assert doc is not None
    p, s = doc.project, doc.session
    tid = commands.add_track(p, 0, BoxXYXY(*object_xyxy(0)))
    window.actions_by_name["track_all"].trigger()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=60_000)
    before = p.box(tid, 25)
    assert before is not None and before.source is BoxSource.TRACKED
    # the user drags the box on frame 20 sixty pixels down (a deliberate, wrong-ish edit)
    s.seek(20)
    s.select(tid)
    b20, b21 = p.box(tid, 20), p.box(tid, 21)
    assert b20 is not None
    cx, cy = b20.xyxy.center
    drag(
        qtbot, window.canvas.viewport(), view_point(window, cx, cy), view_point(window, cx, cy + 60)
    )  # type: ignore[arg-type]
    key = p.box(tid, 20)
    assert key is not None and key.source is BoxSource.MANUAL
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=60_000)
    after = p.box(tid, 21)
    assert after is not None and after.is_derived
    # the segment after the edit was recomputed from the new keyframe
    assert after.xyxy.center[1] > before.xyxy.center[1] + 20
    assert not p.stale, "the applied re-track cleared its stale mark"
    # the fix and its re-track are one step: one Ctrl+Z undoes both (it took two)
    assert p.history.undo_text() == "Move box + re-track"
    window.actions_by_name["undo"].trigger()
    assert p.box(tid, 20) == b20 and p.box(tid, 21) == b21
    assert p.history.undo_text().startswith("Track")
    window.actions_by_name["redo"].trigger()
    assert p.box(tid, 20) == key and p.box(tid, 21) == after
    assert shown_errors == []


def test_auto_retrack_setting_turns_it_off(qtbot: QtBot, window: MainWindow, video: Path) -> None:
    assert window.open_path(video)
    window.actions_by_name["auto_retrack"].trigger()  # uncheck
    assert not window.prefs.auto_retrack and not window.controller.prefs.auto_retrack
    p = window.doc.project  # type: ignore[union-attr]
    tid = commands.add_track(p, 0, BoxXYXY(*object_xyxy(0)))
    window.controller.edit_box(tid, 0, BoxXYXY(45, 80, 95, 140))
    assert not window.controller.busy


def test_detections_become_proposed_tracks(
    qtbot: QtBot,
    window: MainWindow,
    video: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown_errors: list[str],
) -> None:
    det = tmp_path / "det.txt"
    rows = []
    for f in range(N):
        x1, y1, x2, y2 = object_xyxy(f)
        rows.append(f"{f + 1},-1,{x1},{y1},{x2 - x1},{y2 - y1},0.95")
    det.write_text("\n".join(rows) + "\n")
    assert window.open_path(video)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(det), ""))
    window.actions_by_name["import_detections"].trigger()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=60_000)
    assert shown_errors == []
    p = window.doc.project  # type: ignore[union-attr]
    proposed = [t for t, info in p.tracks.items() if info.proposed]
    assert proposed, "the detections should have produced a proposed track"
    tid = proposed[0]
    assert len(p.boxes(tid)) >= N // 2
    window.tracks.table.selectRow(window.tracks.row_of(tid))
    qtbot.mouseClick(window.tracks.btn["accept"], Qt.MouseButton.LeftButton)
    assert not p.tracks[tid].proposed


def test_an_empty_detections_file_changes_nothing(
    window: MainWindow,
    video: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown_errors: list[str],
) -> None:
    """Same class as an empty annotation import: it ran a whole tracking run."""
    det = tmp_path / "det.txt"
    det.write_text("")
    assert window.open_path(video)
    p = window.doc.project  # type: ignore[union-attr]
    commands.add_track(p, 0, BoxXYXY(*object_xyxy(0)))
    undo = p.history.undo_text()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(det), ""))
    window.actions_by_name["import_detections"].trigger()
    assert not window.controller.busy, "no tracking run for no detections"
    assert p.history.undo_text() == undo and len(p.boxes(next(iter(p.tracks)))) == 1
    assert len(shown_errors) == 1 and "holds no detections" in shown_errors[0]


def test_partial_results_are_previewed_then_cleared(window: MainWindow, video: Path) -> None:
    assert window.open_path(video)
    p = window.doc.project  # type: ignore[union-attr]
    tid = commands.add_track(p, 0, BoxXYXY(*object_xyxy(0)))
    window.doc.session.seek(3)  # type: ignore[union-attr]
    partial = FrameBox(3, BoxXYXY(*object_xyxy(3)), BoxSource.TRACKED, 0.8)
    window.canvas.set_preview({tid: {3: partial}})
    items = window.canvas.box_items()
    assert len(items) == 1 and items[0].preview and "tracking in progress" in items[0].toolTip()
    window.canvas.set_preview({})
    assert window.canvas.box_items() == []


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "clip.mp4", "clip.taproj"),  # a video: same name, project suffix
        (lambda d: d / "seq", "seq.taproj"),  # a folder: beside it, named after it
        (lambda d: d / "seq" / "seqinfo.ini", "seq.taproj"),  # a MOT seqinfo.ini: its folder
        (lambda d: d / "link.mp4", "link.taproj"),  # a symlink: beside the link, not its target
    ],
)
def test_project_path_for(tmp_path: Path, make, expected: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "seq").mkdir()
    (tmp_path / "seq" / "seqinfo.ini").write_text("[Sequence]\n")
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "target.mp4").write_bytes(b"x")
    os.symlink(tmp_path / "real" / "target.mp4", tmp_path / "link.mp4")
    assert project_path_for(make(tmp_path)) == tmp_path / expected


def test_each_proposed_track_is_added_once(
    qtbot: QtBot,
    window: MainWindow,
    video: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown_errors: list[str],
) -> None:
    """One proposal from the engine is one proposed track (it was added twice)."""
    from tracker_annotate.tracking import engine
    from tracker_annotate.tracking.api import TrackingRun

    proposal = [FrameBox(f, BoxXYXY(*object_xyxy(f)), BoxSource.IMPORTED, 0.9) for f in range(3)]
    monkeypatch.setattr(
        engine, "track_project", lambda *a, **k: TrackingRun(proposed=[list(proposal)])
    )
    det = tmp_path / "det.txt"
    det.write_text("1,-1,40,80,50,60,0.95\n")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(det), ""))
    assert window.open_path(video)
    window.actions_by_name["import_detections"].trigger()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=60_000)
    assert shown_errors == []
    p = window.doc.project  # type: ignore[union-attr]
    proposed = [t for t, info in p.tracks.items() if info.proposed]
    assert len(proposed) == 1
    assert sorted(p.boxes(proposed[0])) == [0, 1, 2]
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not p.tracks  # the import is one undo step


def _project_left_stale(window: MainWindow, video: Path) -> tuple[Path, int]:
    """What a kill -9 between a drag and its re-track leaves: the moved keyframe and its
    stale mark saved (one commit), the old derived boxes around it."""
    from tracker_annotate.io.store import ProjectStore

    assert window.open_path(video)
    p = window.doc.project  # type: ignore[union-attr]
    path = window.doc.path  # type: ignore[union-attr]
    tid = commands.add_track(p, 0, BoxXYXY(*object_xyxy(0)))
    with p.edit("Track") as tx:
        for f in range(1, 30):
            tx.set_box(tid, FrameBox(f, BoxXYXY(*object_xyxy(f)), BoxSource.TRACKED, 0.9))
    window.close_document()
    with ProjectStore.open(path) as store, store.project.edit("") as tx:
        commands.set_box_geometry(store.project, tid, 20, BoxXYXY(100, 150, 150, 210))
        tx.mark_stale(tid, 20)
    return path, tid


def test_a_stale_stretch_is_flagged_and_retracked_on_open(
    qtbot: QtBot, window: MainWindow, video: Path, shown_errors: list[str]
) -> None:
    path, tid = _project_left_stale(window, video)
    assert window.open_path(path)
    p = window.doc.project  # type: ignore[union-attr]
    # flagged at once (the review queue shows it), then re-tracked from the new keyframe
    qtbot.waitUntil(lambda: not window.controller.busy and not p.stale, timeout=60_000)
    b21 = p.box(tid, 21)
    assert b21 is not None and b21.is_derived and b21.xyxy.center[1] > 160
    assert not any(b.flag_reason == commands.STALE_REASON for b in p.boxes(tid).values())
    assert shown_errors == []


def test_a_stale_stretch_stays_flagged_without_auto_retrack(
    qtbot: QtBot, window: MainWindow, video: Path, shown_errors: list[str]
) -> None:
    path, tid = _project_left_stale(window, video)
    window.actions_by_name["auto_retrack"].trigger()  # uncheck
    assert window.open_path(path)
    p = window.doc.project  # type: ignore[union-attr]
    assert not window.controller.busy and p.stale == {(tid, 20)}
    stale = {f for f, b in p.boxes(tid).items() if b.flag_reason == commands.STALE_REASON}
    assert stale == set(range(1, 20)) | set(range(21, N)) & set(p.boxes(tid))
    # tracking the track by hand answers the mark
    window.doc.session.select(tid)  # type: ignore[union-attr]
    window.controller.track(selected_only=True)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=60_000)
    assert p.stale == frozenset()
    assert shown_errors == []
