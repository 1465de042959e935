"""The detector in the app, driven by keys and mouse: P proposes, Enter accepts, Delete
rejects (and the rejection is remembered), dragging fixes, Preferences choose classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.conftest import alone
from tests.gui.conftest import drag, object_xyxy, view_point
from tracker_annotate.core.boxes import BoxSource
from tracker_annotate.core.detections import Detections
from tracker_annotate.core.proposals import REASON_NEW, is_open_proposal, is_rejected
from tracker_annotate.core.review import review_items
from tracker_annotate.gui.main_window import MainWindow
from tracker_annotate.gui.preferences import Preferences, PreferencesDialog

pytestmark = pytest.mark.gui

POSTER = (230.0, 20.0, 270.0, 70.0)  # a false detection on every frame


class FakeDetector:
    """Finds the clip's moving object (a "person") and a static poster; counts calls."""

    class_names = ("person",)
    last_ms = 0.0

    def __init__(self) -> None:
        self.calls: list[int] = []

    def detect(self, bgr: np.ndarray, frame: int = 0) -> Detections:
        self.calls.append(frame)
        self.last_ms = 1.0
        boxes = [object_xyxy(frame), POSTER]
        return Detections([frame] * 2, boxes, [0.9, 0.8], [0, 0], {0: "person"})


@pytest.fixture
def prefs() -> Preferences:
    return Preferences(cache_mb=64, auto_retrack=False, detect_after_tracking=False)


@pytest.fixture
def fake(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> FakeDetector:
    det = FakeDetector()
    monkeypatch.setattr(window.controller.detect, "detector", lambda: det)
    return det


def _proposals(window: MainWindow) -> list[int]:
    p = window.doc.project  # type: ignore[union-attr]
    return [t for t in p.tracks if is_open_proposal(p, t)]


def test_p_proposes_enter_accepts_delete_rejects_and_is_remembered(
    qtbot: QtBot, window: MainWindow, video: Path, fake: FakeDetector, shown_errors: list[str]
) -> None:
    assert window.open_path(video)
    p, s = window.doc.project, window.doc.session  # type: ignore[union-attr]
    qtbot.keyClick(window.canvas, Qt.Key.Key_P)
    assert fake.calls == [0]
    obj, poster = sorted(_proposals(window))
    assert s.selected == obj  # the first proposal is selected for Enter / Delete
    # they wait in the proposal queue, not among the flags
    assert [p.box(t, 0).flag_reason for t in (obj, poster)] == [REASON_NEW, REASON_NEW]  # type: ignore[union-attr]
    assert review_items(p) == []
    assert window.review.proposals.text().startswith("2 proposed objects")
    items = {i.track_id: i for i in window.canvas.box_items()}
    assert items[obj].proposal and items[poster].proposal  # drawn in their own style
    assert items[obj].pen().style() == Qt.PenStyle.DashDotLine
    assert "proposal(s) on frame 0" in window.statusBar().currentMessage()  # type: ignore[union-attr]
    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    assert not p.track(obj).proposed
    key = p.box(obj, 0)
    assert key is not None and key.is_keyframe and key.source is BoxSource.IMPORTED
    assert s.selected == poster  # moved on to the next proposal on the frame
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert is_rejected(p, poster)
    assert not any(i.track_id == poster for i in window.canvas.box_items())  # hidden
    # P again on a later frame: the tracked-looking object has no box there, the poster is
    # remembered as rejected, so only the object is proposed
    s.seek(10)
    qtbot.keyClick(window.canvas, Qt.Key.Key_P)
    (again,) = _proposals(window)
    b = p.box(again, 10)
    assert b is not None and b.xyxy.as_tuple() == tuple(float(v) for v in object_xyxy(10))
    # on frame 0 everything is explained now: nothing new
    s.seek(0)
    qtbot.keyClick(window.canvas, Qt.Key.Key_P)
    assert _proposals(window) == [again]
    assert "nothing new" in window.statusBar().currentMessage()  # type: ignore[union-attr]
    # one undo step per gesture: undoing the reject brings the poster back as a proposal
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert is_open_proposal(p, poster)
    assert shown_errors == []


def test_dragging_a_proposal_fixes_and_accepts_it(
    qtbot: QtBot, window: MainWindow, video: Path, fake: FakeDetector
) -> None:
    assert window.open_path(video)
    p = window.doc.project  # type: ignore[union-attr]
    qtbot.keyClick(window.canvas, Qt.Key.Key_P)
    obj = sorted(_proposals(window))[0]
    x1, y1, x2, y2 = object_xyxy(0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    vp = window.canvas.viewport()
    drag(qtbot, vp, view_point(window, cx, cy), view_point(window, cx + 12, cy + 6))  # type: ignore[arg-type]
    assert not p.track(obj).proposed
    b = p.box(obj, 0)
    assert b is not None and b.source is BoxSource.MANUAL
    assert b.xyxy.x1 == pytest.approx(x1 + 12, abs=1.5) and b.xyxy.y1 == pytest.approx(
        y1 + 6, abs=1.5
    )


def test_preferences_choose_the_detector_classes(qtbot: QtBot, window: MainWindow) -> None:
    dlg = PreferencesDialog(window.prefs, window)
    qtbot.addWidget(dlg)
    dlg.classes.setText("car, dog, no such class")
    dlg.min_score.setValue(0.7)
    got = dlg.result_prefs()
    assert got.detect_classes == ("car", "dog") and got.detect_min_score == pytest.approx(0.7)
    window.set_prefs(got)
    det = window.controller.detect.detector()  # the real shipped model, for these classes
    assert det.config.classes == ("car", "dog")  # type: ignore[attr-defined]
    from tracker_annotate.gui import preferences

    preferences.save(got)
    assert preferences.load().detect_classes == ("car", "dog")


@pytest.mark.shared_data
@pytest.mark.slow
def test_new_user_detects_pedestrians_on_vtest_accepts_them_and_tracks(
    qtbot: QtBot,
    window: MainWindow,
    shared_data: Path,
    shown_errors: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's done-when: open vtest.avi, P on frame 0, accept the pedestrians, T."""
    from PyQt6.QtWidgets import QFileDialog, QMessageBox

    # the shared folder is read-only: the app asks where the project goes
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    out = str(tmp_path / "vtest.taproj")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (out, ""))
    # the fast mode: this is about the detector's proposals and the keys, and 25 walkers
    # tracked through 795 frames by the committee take three minutes of the suite
    window.set_prefs(
        Preferences(tracker="nano", cache_mb=64, auto_retrack=False, detect_classes=("person",))
    )
    assert window.open_path(alone(shared_data / "videos" / "vtest.avi", tmp_path))
    p = window.doc.project  # type: ignore[union-attr]
    qtbot.keyClick(window.canvas, Qt.Key.Key_P)
    people = _proposals(window)
    assert len(people) >= 3
    for _ in people:
        qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    assert _proposals(window) == []
    assert all(p.track(t).label == "person" for t in people)
    qtbot.keyClick(window.canvas, Qt.Key.Key_T)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=240_000)
    assert shown_errors == []
    tracked = [sum(1 for b in p.boxes(t).values() if b.is_derived) for t in people]
    assert sum(n > 50 for n in tracked) >= 3, tracked
    assert "detector:" in window.statusBar().currentMessage()  # type: ignore[union-attr]


def test_p_on_a_wrong_flagged_box_asks_the_detector_for_that_track(
    qtbot: QtBot, window: MainWindow, video: Path, fake: FakeDetector, shown_errors: list[str]
) -> None:
    from tests.gui.conftest import add_flagged_track
    from tracker_annotate.core.proposals import REASON_REFOUND

    assert window.open_path(video)
    p, s = window.doc.project, window.doc.session  # type: ignore[union-attr]
    tid = add_flagged_track(window)
    wrong = p.box(tid, 9)
    assert wrong is not None and wrong.flagged
    with p.edit("drift") as tx:  # the tracker slid 12 px off the object on frame 9
        tx.set_box(tid, wrong.with_(xyxy=wrong.xyxy.translated(12, 0)))
    s.go_to(9, tid)
    qtbot.keyClick(window.canvas, Qt.Key.Key_P)
    b = p.box(tid, 9)
    assert b is not None and b.flag_reason == REASON_REFOUND
    assert b.xyxy.as_tuple() == tuple(float(v) for v in object_xyxy(9))  # the detector's box
    assert _proposals(window) == []  # it looked for the track, it proposed nothing new
    assert "same object?" in window.statusBar().currentMessage()  # type: ignore[union-attr]
    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    b = p.box(tid, 9)
    assert b is not None and b.is_keyframe and not b.flagged
    assert shown_errors == []
