"""Swap identities in the window: two tracks selected in the Tracks list and X, or the
offer on an overlap flag in the review panel; one undo step either way."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.gui.conftest import N, object_xyxy
from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox, iou_xyxy
from tracker_annotate.core.project import Project
from tracker_annotate.gui.main_window import MainWindow
from tracker_annotate.gui.preferences import Preferences
from tracker_annotate.gui.shortcuts_dialog import rows
from tracker_annotate.gui.tracks_panel import COL_ID
from tracker_annotate.tracking.confidence import REASON_PARTED

pytestmark = pytest.mark.gui
K = Qt.Key
CROSS = 10  # the frame the two tracks switched objects on


@pytest.fixture
def opened(window: MainWindow, video: Path) -> MainWindow:
    assert window.open_path(video)
    return window


def crossing_tracks(p: Project, *, parted_flag: bool = False) -> tuple[int, int]:
    """Two tracks with a keyframe on 0 and tracked boxes to 19, a moving right and b left
    (8 px a frame), their boxes overlapping on frames 7 to 13, exactly on CROSS; with
    ``parted_flag`` a's box on CROSS carries the engine's "parted" flag."""
    a = commands.add_track(p, 0, BoxXYXY(40, 80, 90, 140))
    b = commands.add_track(p, 0, BoxXYXY(200, 80, 250, 140))
    with p.edit("Track") as tx:
        for f in range(1, 20):
            xa, xb = 40 + 8 * f, 200 - 8 * f
            tx.set_box(a, FrameBox(f, BoxXYXY(xa, 80, xa + 50, 140), BoxSource.TRACKED, 0.8))
            tx.set_box(b, FrameBox(f, BoxXYXY(xb, 80, xb + 50, 140), BoxSource.TRACKED, 0.8))
        if parted_flag:
            box = p.box(a, CROSS)
            assert box is not None
            tx.set_box(a, box.with_(confidence=0.3, flagged=True, flag_reason=REASON_PARTED))
    p.history.clear()
    return a, b


def click_row(qtbot: QtBot, win: MainWindow, tid: int, *, ctrl: bool = False) -> None:
    table = win.tracks.table
    item = table.item(win.tracks.row_of(tid), COL_ID)
    assert item is not None
    mods = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    viewport = table.viewport()
    assert viewport is not None
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, mods, table.visualItemRect(item).center())


def swapped(old_a: dict[int, FrameBox], old_b: dict[int, FrameBox], f: int) -> dict[int, object]:
    """What a's boxes are after a swap on ``f``: its own before, b's after (the one on
    ``f`` verified)."""
    out: dict[int, object] = {g: x for g, x in old_a.items() if g < f}
    out |= {g: x for g, x in old_b.items() if g > f}
    out[f] = old_b[f].with_(verified=True)
    return out


def test_two_tracks_selected_in_the_list_and_x_swap_them_undo_redo(
    qtbot: QtBot, opened: MainWindow, shown_errors: list[str]
) -> None:
    win = opened
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    a, b = crossing_tracks(p)
    old_a, old_b = dict(p.boxes(a)), dict(p.boxes(b))
    s.seek(CROSS)
    click_row(qtbot, win, a)
    click_row(qtbot, win, b, ctrl=True)
    assert win.tracks.selected_tracks() == [a, b]
    qtbot.keyClick(win.tracks.table, K.Key_X)  # the key works where the selection was made
    assert dict(p.boxes(a)) == swapped(old_a, old_b, CROSS)
    assert dict(p.boxes(b)) == swapped(old_b, old_a, CROSS)
    assert p.history.undo_text() == f"Swap identities of tracks {a} and {b} from frame {CROSS}"
    assert "swapped identities" in win.statusBar().currentMessage()  # type: ignore[union-attr]
    qtbot.keyClick(win.canvas, K.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert dict(p.boxes(a)) == old_a and dict(p.boxes(b)) == old_b
    assert not p.history.can_undo()  # it was one step
    qtbot.keyClick(
        win.canvas, K.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert dict(p.boxes(a)) == swapped(old_a, old_b, CROSS)
    assert shown_errors == []


def test_the_overlap_flag_offers_the_swap_with_the_track_it_crossed(
    qtbot: QtBot, opened: MainWindow, shown_errors: list[str]
) -> None:
    win = opened
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    a, b = crossing_tracks(p, parted_flag=True)
    old_a, old_b = dict(p.boxes(a)), dict(p.boxes(b))
    assert win.review.swap_offer.isHidden()
    qtbot.keyClick(win.canvas, K.Key_F)  # the only flag: a's parting from b
    assert (s.frame, s.selected) == (CROSS, a)
    assert not win.review.swap_offer.isHidden()
    assert f"Track {a} crosses track {b}" in win.review.swap_hint.text()
    assert "X swaps identities" in win.review.list.item(0).text()  # type: ignore[union-attr]
    qtbot.mouseClick(win.review.swap_button, Qt.MouseButton.LeftButton)
    assert dict(p.boxes(a)) == swapped(old_a, old_b, CROSS)  # b: the crossing partner
    assert dict(p.boxes(b))[CROSS] == old_a[CROSS].with_(verified=True, flagged=False)
    assert win.review.swap_offer.isHidden()  # the flag is answered
    assert win.review.counter.text().startswith("Nothing flagged left")
    assert shown_errors == []


@pytest.mark.parametrize(
    "prefs", [Preferences(tracker="cascade", flag_threshold=0.5, cache_mb=64, auto_retrack=True)]
)
def test_with_auto_retrack_both_tracks_are_re_tracked_into_the_swaps_undo_step(
    qtbot: QtBot, opened: MainWindow, shown_errors: list[str]
) -> None:
    win = opened
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    a = commands.add_track(p, 0, BoxXYXY(*object_xyxy(0)))  # the moving object
    b = commands.add_track(p, 0, BoxXYXY(200, 160, 250, 220))  # a patch of background
    win.actions_by_name["track_all"].trigger()
    qtbot.waitUntil(lambda: not win.controller.busy, timeout=60_000)

    def on_object(tid: int) -> bool:
        boxes = [p.box(tid, f) for f in range(N)]
        return all(
            x is not None and iou_xyxy(x.xyxy.to_array(), object_xyxy(x.frame)) > 0.5 for x in boxes
        )

    assert on_object(a) and not on_object(b)
    commands.swap_identities(p, a, b, 20, anchor=False)  # the tracker's switch, as found
    p.history.clear()
    switched = {t: dict(p.boxes(t)) for t in (a, b)}
    assert not on_object(a)
    s.seek(20)
    click_row(qtbot, win, a)
    click_row(qtbot, win, b, ctrl=True)
    qtbot.keyClick(win.canvas, K.Key_X)
    assert p.stale or win.controller.busy  # both stretches wait for their re-track
    qtbot.waitUntil(lambda: not win.controller.busy and not p.stale, timeout=60_000)
    assert on_object(a) and not on_object(b)
    assert (
        p.history.undo_text() == f"Swap identities of tracks {a} and {b} from frame 20 + re-track"
    )
    win.actions_by_name["undo"].trigger()  # the swap and both re-tracks in one step
    assert {t: dict(p.boxes(t)) for t in (a, b)} == switched and not p.history.can_undo()
    assert shown_errors == []


def test_x_on_a_track_that_crosses_nothing_says_so_and_changes_nothing(
    qtbot: QtBot, opened: MainWindow
) -> None:
    win = opened
    p, s = win.doc.project, win.doc.session  # type: ignore[union-attr]
    a, _b = crossing_tracks(p)
    s.go_to(18, a)  # far apart by now, and on the frame before
    before = {t: dict(p.boxes(t)) for t in p.tracks}
    qtbot.keyClick(win.canvas, K.Key_X)
    assert {t: dict(p.boxes(t)) for t in p.tracks} == before and not p.history.can_undo()
    assert "crosses no other track" in win.statusBar().currentMessage()  # type: ignore[union-attr]


def test_the_shortcuts_sheet_lists_it() -> None:
    assert ("X", "Swap identities from here") in [(k, c) for k, c, _ in rows()]
