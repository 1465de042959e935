"""The quality loop in the app, driven by keys and buttons; assertions on the model."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.gui.conftest import add_flagged_track, drag, view_point
from tracker_annotate.core import audit
from tracker_annotate.core.boxes import BoxSource
from tracker_annotate.core.review import suggest_keyframe
from tracker_annotate.gui.main_window import MainWindow
from tracker_annotate.io.store import ProjectStore

pytestmark = pytest.mark.gui
K = Qt.Key
M = Qt.KeyboardModifier


@pytest.fixture
def opened(window: MainWindow, video: Path) -> MainWindow:
    assert window.open_path(video)
    window.controller.audit.new_seed = lambda: 4242
    return window


def _set_target(qtbot: QtBot, win: MainWindow, percent: str) -> None:
    spin = win.review.target
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, percent)
    qtbot.keyClick(spin, K.Key_Return)
    win.canvas.setFocus()


def test_target_flags_then_audit_walked_with_flag_keys(
    qtbot: QtBot, opened: MainWindow, shown_errors: list[str]
) -> None:
    win = opened
    tid = add_flagged_track(win)  # flags on 5, 9, 14
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    with p.edit("spread the confidences") as tx:  # the rest 0.80 ... 0.99
        for f, b in p.boxes(tid).items():
            if b.is_derived and not b.flagged:
                tx.set_box(tid, b.with_(confidence=0.8 + 0.01 * f))
    _set_target(qtbot, win, "5")
    assert p.quality.target == pytest.approx(0.05)
    assert "For the target" in win.review.prediction.text()
    win.actions_by_name["apply_target"].trigger()
    flagged = [f for f, b in p.boxes(tid).items() if b.flagged]
    assert len(flagged) > 3 and p.quality.threshold is not None
    assert "For the target" not in win.review.prediction.text()  # flagged what it needs

    # an audit before the flags are reviewed is refused, with the reason shown
    win.actions_by_name["start_audit"].trigger()
    assert shown_errors and "still unreviewed" in shown_errors[-1]
    assert audit.current_round(p) is None

    # review every flag with the keys: F then Shift+Enter (accept the stretch)
    for _ in range(20):
        if not [b for b in p.boxes(tid).values() if b.flagged and not b.verified]:
            break
        qtbot.keyClick(win.canvas, K.Key_F)
        qtbot.keyClick(win.canvas, K.Key_Return, M.ShiftModifier)
    assert not [b for b in p.boxes(tid).values() if b.flagged and not b.verified]

    win.actions_by_name["start_audit"].trigger()
    rnd = audit.current_round(p)
    assert rnd is not None and rnd.seed == 4242, shown_errors
    n = len(rnd.samples)
    assert win.review.counter.text().startswith(f"{n} audit samples to check")
    first = rnd.samples[0]
    assert (s.frame, s.selected) == (first.frame, first.track_id)  # went to the first one

    # Enter: this sample is right
    qtbot.keyClick(win.canvas, K.Key_Return)
    rnd = audit.current_round(p)
    assert rnd is not None and rnd.samples[0].outcome == "ok"
    assert p.box(first.track_id, first.frame).verified  # type: ignore[union-attr]
    second = rnd.samples[1]
    assert (s.frame, s.selected) == (second.frame, second.track_id)  # advanced like a flag

    # correcting the box by a drag: this sample was wrong
    box = p.box(second.track_id, second.frame)
    assert box is not None
    win.canvas.show_frame(second.frame)
    x1, y1, _, _ = box.xyxy.as_tuple()
    vp = win.canvas.viewport()
    drag(qtbot, vp, view_point(win, x1 + 10, y1 + 10), view_point(win, x1 + 22, y1 + 10))
    rnd = audit.current_round(p)
    assert rnd is not None and rnd.samples[1].outcome == "wrong"
    fixed = p.box(second.track_id, second.frame)
    assert fixed is not None and fixed.source is BoxSource.MANUAL

    # undo takes the outcome back with the box
    qtbot.keyClick(win.canvas, K.Key_Z, M.ControlModifier)
    rnd = audit.current_round(p)
    assert rnd is not None and rnd.samples[1].outcome is None
    qtbot.keyClick(win.canvas, K.Key_Z, M.ControlModifier | M.ShiftModifier)

    # walk the rest with F / Enter
    for _ in range(n):
        if not audit.pending_samples(p):
            break
        qtbot.keyClick(win.canvas, K.Key_F)
        qtbot.keyClick(win.canvas, K.Key_Return)
    rnd = audit.current_round(p)
    assert rnd is not None and rnd.checked == n and rnd.wrong == 1
    est = audit.estimate(rnd)
    assert est is not None
    assert est.summary() in win.review.audit_status.text()
    assert win.review.audit_status.text().startswith(f"Audit: {n} checked, 1 wrong → ≈ ")

    # it survives a restart
    path = win.doc.path  # type: ignore[union-attr]
    win.close_document()
    with ProjectStore.open(path, check_media=False) as store:
        again = audit.current_round(store.project)
        assert again is not None and again == rnd and store.project.quality.target == 0.05


def test_g_goes_to_the_suggested_keyframe(qtbot: QtBot, opened: MainWindow) -> None:
    win = opened
    add_flagged_track(win)
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    hit = suggest_keyframe(p)
    assert hit is not None
    qtbot.keyClick(win.canvas, K.Key_G)
    assert (s.frame, s.selected) == hit[:2]
    assert "Suggested keyframe" in win.statusBar().currentMessage()  # type: ignore[union-attr]


def test_review_rows_show_their_whole_reason(opened: MainWindow) -> None:
    win = opened
    add_flagged_track(win, flagged_frames=(5, 6, 7, 12))
    lst = win.review.list
    assert lst.wordWrap()
    assert lst.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    for i, st in enumerate(win.review.stretches):
        item = lst.item(i)
        assert item is not None
        assert st.explain() in item.text() and st.explain() in item.toolTip()
        assert "appearance drift" in item.text()


def test_export_with_unreviewed_flags_warns(
    opened: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shown_errors: list[str]
) -> None:
    import json

    from PyQt6.QtWidgets import QFileDialog

    win = opened
    add_flagged_track(win)
    out = tmp_path / "out.json"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "COCO file (*.json)")
    )
    win.actions_by_name["export"].trigger()
    assert out.exists()
    assert shown_errors and shown_errors[-1].startswith("Exported with warnings")
    assert "3 flagged boxes in 3 stretches are not reviewed" in shown_errors[-1]
    assert "no audit" in shown_errors[-1]
    info = json.loads(out.read_text())["info"]["tracker_annotate_quality"]
    assert info["unreviewed_flags"] == 3


def test_deleting_an_audit_sample_records_it_wrong_and_undo_restores_both(
    qtbot: QtBot, opened: MainWindow
) -> None:
    win = opened
    tid = add_flagged_track(win, flagged_frames=())
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    win.actions_by_name["start_audit"].trigger()
    rnd = audit.current_round(p)
    assert rnd is not None
    first = rnd.samples[0]
    assert (s.frame, s.selected) == (first.frame, tid)
    qtbot.keyClick(win.canvas, K.Key_Delete)
    assert p.box(tid, first.frame) is None
    assert audit.current_round(p).samples[0].outcome == "wrong"  # type: ignore[union-attr]
    qtbot.keyClick(win.canvas, K.Key_Z, M.ControlModifier)
    assert p.box(tid, first.frame) is not None
    assert audit.current_round(p).samples[0].outcome is None  # type: ignore[union-attr]
