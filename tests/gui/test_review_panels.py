"""Review queue, tracks panel and labels panel, driven through their buttons and keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import QItemSelectionModel, Qt
from PyQt6.QtWidgets import QInputDialog
from pytestqt.qtbot import QtBot

from tests.gui.conftest import add_flagged_track
from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.review import review_items
from tracker_annotate.gui.main_window import MainWindow
from tracker_annotate.gui.tracks_panel import COL_NAME, COL_SHOW

pytestmark = pytest.mark.gui
K = Qt.Key


@pytest.fixture
def opened(window: MainWindow, video: Path) -> MainWindow:
    assert window.open_path(video)
    return window


def test_review_accept_with_enter_counts_down_and_advances(
    qtbot: QtBot, opened: MainWindow
) -> None:
    win = opened
    tid = add_flagged_track(win)
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    assert win.review.counter.text().startswith("3 left")
    # lowest confidence first
    assert [it.frame for it in win.review.items] == [5, 9, 14]
    win.review.list.setCurrentRow(1)  # a click on a row goes there and selects the box
    assert (s.frame, s.selected) == (9, tid)
    qtbot.keyClick(win.canvas, K.Key_Return)
    accepted = p.box(tid, 9)
    assert accepted is not None and accepted.verified and not accepted.flagged
    assert win.review.counter.text().startswith("2 left")
    assert s.frame == 14  # went on to the next flag
    qtbot.keyClick(win.canvas, K.Key_Delete)  # reject: the wrong box goes
    assert p.box(tid, 14) is None
    assert win.review.counter.text().startswith("1 left")


def test_review_outside_and_unverified_filter(qtbot: QtBot, opened: MainWindow) -> None:
    win = opened
    tid = add_flagged_track(win)
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    win.review.only_derived.setChecked(True)
    assert len(win.review.items) == 19  # every tracked box, flagged or not
    win.review.only_derived.setChecked(False)
    s.go_to(9, tid)
    qtbot.keyClick(win.canvas, K.Key_O)
    box = p.box(tid, 9)
    assert box is not None and box.outside
    assert all(f <= 9 for f in p.boxes(tid))  # derived boxes after the end are gone
    assert [it.frame for it in review_items(p)] == [5]
    qtbot.keyClick(win.canvas, K.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(p.boxes(tid)) == 20


def _select_rows(win: MainWindow, tids: list[int]) -> None:
    table = win.tracks.table
    sm = table.selectionModel()
    assert sm is not None
    sm.clearSelection()
    for tid in tids:
        idx = table.model().index(win.tracks.row_of(tid), 1)  # type: ignore[union-attr]
        sm.select(
            idx, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        )


def test_tracks_panel_rename_merge_split_end_hide_delete(qtbot: QtBot, opened: MainWindow) -> None:
    win = opened
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    a = commands.add_track(p, 0, BoxXYXY(10, 10, 50, 50))
    b = commands.add_track(p, 10, BoxXYXY(20, 20, 60, 60))
    commands.add_box(p, b, 20, BoxXYXY(30, 30, 70, 70))
    # rename by editing the Name cell
    item = win.tracks.table.item(win.tracks.row_of(a), COL_NAME)
    assert item is not None
    item.setText("red car")
    assert p.tracks[a].name == "red car"
    # merge b into a
    _select_rows(win, [a, b])
    qtbot.mouseClick(win.tracks.btn["merge"], Qt.MouseButton.LeftButton)
    assert b not in p.tracks and sorted(p.boxes(a)) == [0, 10, 20]
    # split at frame 10: boxes from 10 on become a new track
    s.seek(10)
    _select_rows(win, [a])
    qtbot.mouseClick(win.tracks.btn["split"], Qt.MouseButton.LeftButton)
    new = s.selected
    assert new is not None and new != a
    assert sorted(p.boxes(a)) == [0] and sorted(p.boxes(new)) == [10, 20]
    # end the new track at frame 15
    s.seek(15)
    qtbot.mouseClick(win.tracks.btn["end"], Qt.MouseButton.LeftButton)
    end = p.box(new, 15)
    assert end is not None and end.outside
    # hide with the Show checkbox: the canvas stops drawing it
    s.seek(10)
    show = win.tracks.table.item(win.tracks.row_of(new), COL_SHOW)
    assert show is not None
    show.setCheckState(Qt.CheckState.Unchecked)
    assert p.tracks[new].hidden
    assert [it.track_id for it in win.canvas.box_items()] == []
    # delete
    _select_rows(win, [new])
    qtbot.mouseClick(win.tracks.btn["delete"], Qt.MouseButton.LeftButton)
    assert new not in p.tracks
    qtbot.keyClick(win.canvas, K.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert new in p.tracks and sorted(p.boxes(new)) == [10, 15, 20]


def test_merge_needs_two_tracks_and_says_so(qtbot: QtBot, opened: MainWindow) -> None:
    win = opened
    p = win.doc.project  # type: ignore[union-attr]
    a = commands.add_track(p, 0, BoxXYXY(10, 10, 50, 50))
    _select_rows(win, [a])
    with qtbot.waitSignal(win.tracks.status) as sig:
        qtbot.mouseClick(win.tracks.btn["merge"], Qt.MouseButton.LeftButton)
    assert "two or more" in sig.args[0]
    assert a in p.tracks


def test_labels_add_and_number_keys_relabel(
    qtbot: QtBot, opened: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    win = opened
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("car", True))
    win.labels.add_interactive()
    assert "car" in p.labels
    assert [win.label_combo.itemText(i) for i in range(win.label_combo.count())] == [
        "object",
        "car",
    ]
    tid = commands.add_track(p, 0, BoxXYXY(10, 10, 50, 50))
    s.select(tid)
    qtbot.keyClick(win.canvas, K.Key_2)
    assert p.tracks[tid].label == "car"
    qtbot.keyClick(win.canvas, K.Key_1)
    assert p.tracks[tid].label == "object"
    # a new box takes the combo's current label
    win.label_combo.setCurrentText("car")
    s.select(None)
    win.label_combo.setCurrentText("car")
    win.controller.draw_box(3, BoxXYXY(100, 100, 140, 150))
    assert p.tracks[max(p.tracks)].label == "car"


def test_removing_a_used_label_shows_an_error(opened: MainWindow, shown_errors: list[str]) -> None:
    win = opened
    p = win.doc.project  # type: ignore[union-attr]
    commands.add_track(p, 0, BoxXYXY(10, 10, 50, 50))
    win.labels.list.setCurrentRow(0)
    win.labels.remove_current()
    assert len(shown_errors) == 1 and "relabel them first" in shown_errors[0]
    assert "object" in p.labels


def test_review_rows_are_stretches_of_consecutive_flags(opened: MainWindow) -> None:
    """A tracker that loses an object flags a run of frames: one row each, not one per box."""
    win = opened
    tid = add_flagged_track(win, flagged_frames=(5, 6, 7, 12))
    s = win.doc.session  # type: ignore[union-attr]
    assert win.review.counter.text().startswith("4 left in 2 stretches")
    assert [(st.start, st.end, st.count) for st in win.review.stretches] == [(5, 7, 3), (12, 12, 1)]
    assert win.review.list.count() == 2
    assert "frames 5\u20137 (3)" in win.review.list.item(0).text()  # type: ignore[union-attr]
    s.go_to(0, tid)
    win.review.list.setCurrentRow(0)  # a click on a stretch goes to its first frame
    assert (s.frame, s.selected) == (5, tid)
    s.go_to(6, tid)  # inside the stretch: its row is the highlighted one
    assert win.review.list.currentRow() == 0


def test_shift_enter_accepts_the_whole_stretch_as_one_step(
    qtbot: QtBot, opened: MainWindow
) -> None:
    win = opened
    tid = add_flagged_track(win, flagged_frames=(5, 6, 7, 12))
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    s.go_to(6, tid)
    qtbot.keyClick(win.canvas, K.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    for f in (5, 6, 7):
        b = p.box(tid, f)
        assert b is not None and b.verified and not b.flagged
    still = p.box(tid, 12)
    assert still is not None and still.flagged
    assert win.review.counter.text().startswith("1 left")
    assert (s.frame, s.selected) == (12, tid)  # went on to the next flag
    assert p.history.undo_text() == f"Accept frames 5\u20137 of track {tid}"
    qtbot.keyClick(win.canvas, K.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert p.history.undo_text() == f"Accept frame 12 of track {tid}"  # a one-frame stretch
    qtbot.keyClick(win.canvas, K.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(win.canvas, K.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [it.frame for it in review_items(p)] == [5, 6, 7, 12]  # one undo step


def test_accept_stretch_on_an_unflagged_box_says_so(qtbot: QtBot, opened: MainWindow) -> None:
    win = opened
    tid = add_flagged_track(win, flagged_frames=(5,))
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    s.go_to(3, tid)
    before = p.history.undo_text()
    qtbot.keyClick(win.canvas, K.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert p.history.undo_text() == before
    assert "not flagged" in win.statusBar().currentMessage()  # type: ignore[union-attr]


def test_tracks_table_shows_only_the_selected_track_after_shift_enter(
    qtbot: QtBot, opened: MainWindow
) -> None:
    """Shift+Enter moves the selection to another track while Shift is down: the table
    must still show one selected row (it extended the selection, looking like two)."""
    win = opened
    a = add_flagged_track(win, flagged_frames=(5, 6))
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    b = commands.add_track(p, 0, BoxXYXY(200, 100, 260, 180))
    with p.edit("flag b") as tx:
        from tracker_annotate.core.boxes import BoxSource, FrameBox

        tx.set_box(
            b, FrameBox(8, BoxXYXY(200, 100, 260, 180), BoxSource.TRACKED, 0.1, flagged=True)
        )
    s.go_to(5, a)
    assert win.tracks.selected_tracks() == [a]
    qtbot.keyClick(win.canvas, K.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert (s.frame, s.selected) == (8, b)
    assert win.tracks.selected_tracks() == [b]
    s.select(None)  # a click on empty image: no row stays highlighted
    assert win.tracks.selected_tracks() == []


def test_typing_a_track_name_does_not_fire_one_key_shortcuts(
    qtbot: QtBot, opened: MainWindow
) -> None:
    """Renaming in the table: D, Backspace, Left and Enter edit the name; they must not
    step a frame, delete the box or accept the flag (Enter did, and the name was lost)."""
    from PyQt6.QtWidgets import QApplication, QLineEdit

    from tracker_annotate.gui.tracks_panel import COL_NAME

    win = opened
    tid = add_flagged_track(win)
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    s.go_to(5, tid)
    table = win.tracks.table
    table.setFocus()
    table.editItem(table.item(win.tracks.row_of(tid), COL_NAME))
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    qtbot.keyClicks(editor, "dogx")
    qtbot.keyClick(editor, K.Key_Backspace)
    qtbot.keyClick(editor, K.Key_Left)
    assert editor.text() == "dog"
    qtbot.keyClick(editor, K.Key_Return)
    qtbot.waitUntil(lambda: p.tracks[tid].name == "dog", timeout=2000)
    assert s.frame == 5  # neither D nor Left stepped
    box = p.box(tid, 5)
    assert box is not None and box.flagged and not box.verified  # not deleted, not accepted
    qtbot.keyClick(win.canvas, K.Key_Return)  # on the canvas Enter accepts again
    accepted = p.box(tid, 5)
    assert accepted is not None and accepted.verified


def test_tracks_panel_hides_and_ends_a_selection_as_one_step_each(
    qtbot: QtBot, opened: MainWindow
) -> None:
    win = opened
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    a = commands.add_track(p, 0, BoxXYXY(10, 10, 50, 50))
    b = commands.add_track(p, 2, BoxXYXY(80, 80, 120, 120))
    _select_rows(win, [a, b])
    qtbot.mouseClick(win.tracks.btn["hide"], Qt.MouseButton.LeftButton)
    assert p.tracks[a].hidden and p.tracks[b].hidden
    assert p.history.undo_text() == "Hide tracks"
    s.seek(6)
    _select_rows(win, [a, b])
    qtbot.mouseClick(win.tracks.btn["end"], Qt.MouseButton.LeftButton)
    assert all(p.box(t, 6).outside for t in (a, b))  # type: ignore[union-attr]
    qtbot.keyClick(win.canvas, K.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert p.box(a, 6) is None and p.box(b, 6) is None  # one undo ends neither
    assert p.tracks[a].hidden and p.tracks[b].hidden


def test_tracks_panel_refuses_a_partial_end_and_changes_nothing(
    qtbot: QtBot, opened: MainWindow, shown_errors: list[str]
) -> None:
    win = opened
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    a = commands.add_track(p, 0, BoxXYXY(10, 10, 50, 50))
    late = commands.add_track(p, 30, BoxXYXY(80, 80, 120, 120))
    undo = p.history.undo_text()
    s.seek(6)
    _select_rows(win, [a, late])
    qtbot.mouseClick(win.tracks.btn["end"], Qt.MouseButton.LeftButton)
    assert len(shown_errors) == 1 and f"track {late} has no visible box" in shown_errors[0]
    assert p.box(a, 6) is None and p.history.undo_text() == undo


def test_labels_rename_relabels_tracks_and_a_taken_name_is_refused(
    opened: MainWindow, monkeypatch: pytest.MonkeyPatch, shown_errors: list[str]
) -> None:
    win = opened
    p = win.doc.project  # type: ignore[union-attr]
    tid = commands.add_track(p, 0, BoxXYXY(10, 10, 50, 50))
    commands.add_label(p, "car")
    win.labels.list.setCurrentRow(0)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("person", True))
    win.labels.rename_current()
    assert p.tracks[tid].label == "person" and "object" not in p.labels
    assert win.label_combo.findText("person") >= 0 and win.label_combo.findText("object") < 0
    row = [win.labels.list.item(i).data(256) for i in range(win.labels.list.count())]  # type: ignore[union-attr]
    win.labels.list.setCurrentRow(row.index("person"))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("car", True))
    win.labels.rename_current()
    assert len(shown_errors) == 1 and "'car' already exists" in shown_errors[0]
    assert p.tracks[tid].label == "person" and sorted(p.labels) == ["car", "person"]


def _add_proposals(win: MainWindow) -> tuple[int, int]:
    """Two proposed objects as the detector's pass leaves them: a parked car on frame 2,
    tracked ahead with every box flagged (two tracks on one object), and a person on 30."""
    from tracker_annotate.core.boxes import BoxSource, FrameBox
    from tracker_annotate.core.proposals import Proposal, add_proposals

    p = win.doc.project  # type: ignore[union-attr]
    car = BoxXYXY(200, 20, 260, 60)
    later = tuple(
        FrameBox(f, car, BoxSource.TRACKED, 0.31, flagged=True, flag_reason="two tracks")
        for f in range(3, 40)
    )
    car_id, person_id = add_proposals(
        p,
        [
            Proposal(2, car, 0.65, "car", later),
            Proposal(30, BoxXYXY(100, 150, 130, 220), 0.8, "person"),
        ],
    )
    return car_id, person_id


def test_proposals_wait_in_their_own_list_and_f_starts_with_the_drawn_flags(
    qtbot: QtBot, opened: MainWindow
) -> None:
    win = opened
    tid = add_flagged_track(win)
    car, person = _add_proposals(win)
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    panel = win.review
    # the car's 37 flagged boxes are not in "N left" nor in the list: only the drawn ones
    assert panel.counter.text().startswith("3 left")
    assert {st.track_id for st in panel.stretches} == {tid}
    assert panel.proposals.text() == "2 proposed objects: Enter accept, Delete reject"
    assert [(r.track_id, r.frame) for r in panel.proposal_rows] == [(car, 2), (person, 30)]
    assert panel.proposal_list.count() == 2 and not panel.proposals.isHidden()
    panel.proposal_list.setCurrentRow(0)  # a click on a proposal's row goes there
    assert (s.frame, s.selected) == (2, car)
    # F starts with what the annotator drew, wherever one is; Enter walks the three flags
    qtbot.keyClick(win.canvas, K.Key_F)
    for _ in range(3):
        assert s.selected == tid
        qtbot.keyClick(win.canvas, K.Key_Return)
    # no flag left: on to the next proposal from here (frame 14), then around the queue
    assert panel.counter.text().startswith("Nothing flagged left")
    assert (s.frame, s.selected) == (30, person)
    qtbot.keyClick(win.canvas, K.Key_Delete)  # reject the person
    assert (s.frame, s.selected) == (30, car)  # the car's tracked box is on this frame too
    assert panel.proposals.text() == "1 proposed object: Enter accept, Delete reject"
    qtbot.keyClick(win.canvas, K.Key_Return)  # accept the car: its flags count from now on
    assert not p.track(car).proposed
    # its boxes' flags join the queue: 3..39 but the accepted 30, and "new object?" on 2
    assert panel.counter.text().startswith("37 left")
    assert panel.proposal_rows == [] and panel.proposals.isHidden()
