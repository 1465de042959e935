"""The label commands and the edits of several tracks at once: pure model, no Qt.

Each is one undo step; bad input raises a ``TrackerAnnotateError`` and changes nothing
(no step on the stack, no change announced).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tracker_annotate.core import commands as cmd
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError, TrackerAnnotateError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import ChangeSet, MediaRef, Project


def make_project() -> Project:
    return Project(
        MediaRef("v.mp4", 100, 640, 480, 25.0),
        [Label("person", (255, 0, 0)), Label("car", (0, 0, 255))],
    )


def snapshot(p: Project) -> tuple[object, ...]:
    return (
        dict(p.tracks),
        {tid: dict(p.boxes(tid)) for tid in p.tracks},
        list(p.labels.items()),  # in order: number keys pick labels by their place
    )


def three_tracks(p: Project) -> tuple[int, int, int]:
    """Tracks a (frames 0, 10 + derived 1-9), b (frames 10, 20), c (frame 40, a car)."""
    a = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10), "person")
    cmd.add_box(p, a, 10, BoxXYXY(10, 0, 20, 10))
    with p.edit("seed derived") as tx:
        for f in range(1, 10):
            tx.set_box(a, FrameBox(f, BoxXYXY(f, 0, f + 10, 10), BoxSource.TRACKED, 0.8))
    b = cmd.add_track(p, 10, BoxXYXY(100, 100, 150, 150), "person")
    cmd.add_box(p, b, 20, BoxXYXY(110, 100, 160, 150))
    c = cmd.add_track(p, 40, BoxXYXY(300, 300, 340, 360), "car")
    return a, b, c


# -- labels ------------------------------------------------------------------------------
def test_add_label_strips_the_name_and_gets_its_own_colour() -> None:
    p = make_project()
    label = cmd.add_label(p, "  bike ")
    assert label.name == "bike" and p.labels["bike"] == label
    assert label.color not in {lab.color for n, lab in p.labels.items() if n != "bike"}
    assert list(p.labels) == ["person", "car", "bike"]
    p.history.undo()
    assert list(p.labels) == ["person", "car"]


def test_rename_label_relabels_its_tracks_in_one_step() -> None:
    p = make_project()
    a, b, c = three_tracks(p)
    before = snapshot(p)
    cmd.rename_label(p, "person", " pedestrian ")
    assert "person" not in p.labels
    assert p.labels["pedestrian"].color == (255, 0, 0)  # the colour stays
    assert [p.tracks[t].label for t in (a, b, c)] == ["pedestrian", "pedestrian", "car"]
    assert p.history.undo_text() == "Rename label person to pedestrian"
    p.history.undo()
    assert snapshot(p) == before


def test_a_renamed_label_keeps_its_place_through_undo_and_redo() -> None:
    p = make_project()
    cmd.add_label(p, "bike")
    assert list(p.labels) == ["person", "car", "bike"]
    cmd.rename_label(p, "person", "pedestrian")
    assert list(p.labels) == ["pedestrian", "car", "bike"]  # key 1 still picks it
    p.history.undo()
    assert list(p.labels) == ["person", "car", "bike"]
    p.history.redo()
    assert list(p.labels) == ["pedestrian", "car", "bike"]
    first = p.history.last
    assert first is not None
    cmd.rename_label(p, "car", "vehicle")
    assert list(p.labels) == ["pedestrian", "vehicle", "bike"]
    # two steps joined into one (as a fix and its re-track are): one undo restores the order
    assert p.history.merge_last_two(first, "two renames")
    p.history.undo()
    assert list(p.labels) == ["person", "car", "bike"]
    p.history.redo()
    assert list(p.labels) == ["pedestrian", "vehicle", "bike"]


def test_a_label_order_must_name_every_label_once() -> None:
    p = make_project()
    with pytest.raises(ProjectError, match="each of the labels"), p.edit("order") as tx:
        tx.order_labels(["car", "car"])
    assert list(p.labels) == ["person", "car"]


def test_renaming_a_label_to_its_own_name_is_no_step() -> None:
    p = make_project()
    cmd.rename_label(p, "car", " car ")
    assert not p.history.can_undo()


# -- several tracks ----------------------------------------------------------------------
def test_merge_tracks_into_the_lowest_id_is_one_step() -> None:
    p = make_project()
    a, b, c = three_tracks(p)
    before = snapshot(p)
    assert cmd.merge_tracks_into(p, [c, b, a]) == a
    assert sorted(p.tracks) == [a]
    assert sorted(p.boxes(a)) == [*range(0, 11), 20, 40]
    assert p.history.undo_text() == f"Merge tracks into {a}"
    p.history.undo()
    assert snapshot(p) == before


def test_delete_tracks_is_one_step() -> None:
    p = make_project()
    a, b, c = three_tracks(p)
    before = snapshot(p)
    cmd.delete_tracks(p, [a, c])
    assert sorted(p.tracks) == [b]
    assert p.history.undo_text() == "Delete 2 track(s)"
    p.history.undo()
    assert snapshot(p) == before


def test_toggle_hidden_hides_all_unless_all_are_hidden() -> None:
    p = make_project()
    a, b, c = three_tracks(p)
    cmd.set_track_hidden(p, a, True)
    assert cmd.toggle_tracks_hidden(p, [a, b]) is True  # a mixed selection hides both
    assert [p.tracks[t].hidden for t in (a, b, c)] == [True, True, False]
    assert p.history.undo_text() == "Hide tracks"
    assert cmd.toggle_tracks_hidden(p, [a, b]) is False  # all hidden: show them
    assert [p.tracks[t].hidden for t in (a, b, c)] == [False, False, False]
    p.history.undo()
    assert [p.tracks[t].hidden for t in (a, b)] == [True, True]


def test_mark_tracks_outside_ends_each_in_one_step() -> None:
    p = make_project()
    a, b, _c = three_tracks(p)
    cmd.mark_tracks_outside(p, [a, b], 15)
    for tid in (a, b):
        end = p.box(tid, 15)
        assert end is not None and end.outside and end.source is BoxSource.MANUAL
    assert p.history.undo_text() == "Mark 2 tracks outside at frame 15"
    p.history.undo()
    assert p.box(a, 15) is None and p.box(b, 15) is None
    # one track: the step keeps the single command's own name
    cmd.mark_tracks_outside(p, [a], 5)
    assert p.history.undo_text() == f"Mark track {a} outside at frame 5"
    assert all(f <= 5 or p.boxes(a)[f].is_keyframe for f in p.boxes(a))  # derived after go


def test_accept_proposed_tracks_in_one_step() -> None:
    p = make_project()
    a, b, _c = three_tracks(p)
    with p.edit("propose") as tx:
        for t in (a, b):
            tx.set_track(p.copy_info(p.tracks[t], proposed=True))
    cmd.accept_proposed_tracks(p, [a, b])
    assert not p.tracks[a].proposed and not p.tracks[b].proposed
    p.history.undo()
    assert p.tracks[a].proposed and p.tracks[b].proposed


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: cmd.add_label(p, "   "), "non-empty name"),  # only spaces
        (lambda p: cmd.add_label(p, "car"), "'car' already exists"),  # duplicate
        (lambda p: cmd.rename_label(p, "truck", "lorry"), "no label 'truck'"),  # unknown old
        (lambda p: cmd.rename_label(p, "car", ""), "non-empty name"),  # empty new name
        (lambda p: cmd.rename_label(p, "car", "person"), "'person' already exists"),  # taken
        (lambda p: cmd.relabel(p, 1, "truck"), "unknown label 'truck'"),  # unknown label
        (lambda p: cmd.merge_tracks_into(p, [1]), "two or more tracks"),  # one only
        (lambda p: cmd.merge_tracks_into(p, [1, 1]), "two or more tracks"),  # same twice
        (lambda p: cmd.merge_tracks_into(p, [1, 99]), "no track 99"),  # unknown track
        (lambda p: cmd.delete_tracks(p, [2, 98, 99]), "no track 98, 99"),  # unknown tracks
        (lambda p: cmd.delete_tracks(p, []), "no track given"),  # nothing selected
        (lambda p: cmd.set_tracks_hidden(p, [1, 99], True), "no track 99"),
        (lambda p: cmd.toggle_tracks_hidden(p, []), "no track given"),
        (lambda p: cmd.accept_proposed_tracks(p, [99]), "no track 99"),
        # track 3 has no box on or before frame 20: the end of track 1 is undone with it
        (lambda p: cmd.mark_tracks_outside(p, [1, 3], 20), "track 3 has no visible box"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    edit: Callable[[Project], object], message: str
) -> None:
    p = make_project()
    assert three_tracks(p) == (1, 2, 3)
    before, last_step = snapshot(p), p.history.last
    seen: list[ChangeSet] = []
    p.changed.connect(seen.append)
    with pytest.raises(ProjectError, match=message) as caught:
        edit(p)
    assert isinstance(caught.value, TrackerAnnotateError)
    assert snapshot(p) == before and p.history.last is last_step and seen == []
