"""The work record through the real window: a scripted review driven with the mouse and
keys, then ``report``'s counts checked against what the script did; and Preferences off
recording nothing."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.gui.conftest import drag, object_xyxy, view_point
from tracker_annotate.app import report
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.gui.main_window import MainWindow
from tracker_annotate.gui.preferences import Preferences
from tracker_annotate.io import store_worklog

pytestmark = pytest.mark.gui

FLAGGED = (5, 9, 10, 11, 14, 17)


def _draw(qtbot: QtBot, win: MainWindow, xyxy: tuple[int, int, int, int]) -> None:
    x1, y1, x2, y2 = xyxy
    drag(qtbot, win.canvas.viewport(), view_point(win, x1, y1), view_point(win, x2, y2))


def _tracked(win: MainWindow, tid: int) -> None:
    """What a tracking run leaves (tracked boxes 1..19, some flagged), without running one."""
    assert win.doc is not None
    p = win.doc.project
    with p.edit("Track") as tx:
        for f in range(1, 20):
            tx.set_box(
                tid,
                FrameBox(
                    f,
                    BoxXYXY(*object_xyxy(f)),
                    BoxSource.TRACKED,
                    0.3 if f in FLAGGED else 0.9,
                    flagged=f in FLAGGED,
                    flag_reason="drift" if f in FLAGGED else "",
                ),
            )


def test_a_scripted_review_is_what_the_report_counts(
    qtbot: QtBot, window: MainWindow, video: Path, shown_errors: list[str]
) -> None:
    assert window.open_path(video)
    doc = window.doc
    assert doc is not None and window.work.recorder is not None
    p, s, path = doc.project, doc.session, doc.path
    canvas = window.canvas
    _draw(qtbot, window, object_xyxy(0))  # draw 1
    tid = s.selected
    assert tid is not None
    _draw(qtbot, window, (230, 170, 280, 220))  # draw 2: another object
    s.select(tid)
    _tracked(window, tid)

    s.go_to(5, tid)  # navigation is not an action
    qtbot.keyClick(canvas, Qt.Key.Key_Return)  # accept 5
    s.go_to(10, tid)
    qtbot.keyClick(canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # 9..11
    s.go_to(14, tid)
    canvas.show_frame(14)
    box = p.box(tid, 14)
    assert box is not None
    bx, by = box.xyxy.x1 + 10, box.xyxy.y1 + 10
    drag(qtbot, canvas.viewport(), view_point(window, bx, by), view_point(window, bx + 6, by))
    assert p.box(tid, 14).source is BoxSource.MANUAL  # type: ignore[union-attr]
    s.go_to(17, tid)
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)  # reject 17
    assert p.box(tid, 17) is None
    s.go_to(19, tid)
    qtbot.keyClick(canvas, Qt.Key.Key_O)  # the object leaves at 19
    assert p.box(tid, 19).outside  # type: ignore[union-attr]
    assert shown_errors == []
    window.close_document()  # the rest of the record is written

    fig = report.read_project(path)
    assert fig.work.actions == {
        "draw": 2,
        "accept": 1,
        "stretch": 1,
        "adjust": 1,
        "reject": 1,
        "outside": 1,
    }
    assert fig.boxes == {
        "drawn": 2,
        "corrected": 1,
        "tracked_accepted": 1 + 3,
        "tracked_unseen": 18 - len(FLAGGED),
        "proposed_accepted": 0,
        "imported": 0,
        "flags_left": 0,
    }
    assert fig.work.flags_reviewed == len(FLAGGED)
    assert fig.work.annotators == (window.prefs.annotator,)
    durations = fig.log.duration_s
    assert (durations >= 0).all() and fig.work.time_worked_s == pytest.approx(durations.sum())


def test_preferences_off_record_nothing(
    qtbot: QtBot, window: MainWindow, video: Path, prefs: Preferences
) -> None:
    prefs = replace(prefs, record_work=False)
    window.set_prefs(prefs)
    assert window.open_path(video)
    doc = window.doc
    assert doc is not None and window.work.recorder is None
    path = doc.path
    _draw(qtbot, window, object_xyxy(0))
    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    assert len(doc.project.tracks) == 1
    # turned on mid-session it starts recording; off again, it stops
    window.set_prefs(replace(prefs, record_work=True, annotator="zoe"))
    assert window.work.recorder is not None
    _draw(qtbot, window, (230, 170, 280, 220))
    window.set_prefs(replace(prefs, record_work=False))
    assert window.work.recorder is None and window.controller.worklog is None
    _draw(qtbot, window, (150, 20, 190, 60))
    assert len(doc.project.tracks) == 3
    window.close_document()
    con = sqlite3.connect(path)
    log = store_worklog.read_worklog(con, str(path))
    con.close()
    assert log.kind_names() == ["draw"] and log.annotator.tolist() == ["zoe"]


def test_the_input_filter_is_armed_only_after_a_quiet_spell(
    qtbot: QtBot, window: MainWindow, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps and other commands reach the record as their QAction's trigger; the filter
    that sees every event of the application is there only after a quiet spell."""
    from tracker_annotate.gui import work_record

    assert window.open_path(video)
    hook = window.work
    rec = hook.recorder
    assert rec is not None
    hook._tick()
    assert not hook.armed  # just opened: not quiet
    monkeypatch.setattr(work_record, "ARM_AFTER_S", 0.0)
    hook._tick()
    assert hook.armed
    qtbot.mouseMove(window.canvas.viewport())  # back at the desk
    qtbot.mouseMove(window.canvas.viewport(), window.canvas.viewport().rect().center())
    assert not hook.armed and rec.quiet_for() < 1.0
    hook._tick()
    assert hook.armed
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)  # a step: its action disarms it too
    assert not hook.armed and window.doc is not None and window.doc.session.frame == 1
