"""Session navigation: seek, keyframes, flags, play, and the state restored on reopen."""

from __future__ import annotations

import pytest

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.commands import accept_box, add_track, delete_track
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.core.session import MAX_ZOOM, Session


def _project(n_frames: int = 100) -> Project:
    return Project(MediaRef("clip.mp4", n_frames, 640, 480, fps=25.0))


def _derived(frame: int, conf: float, flagged: bool = False) -> FrameBox:
    return FrameBox(
        frame,
        BoxXYXY(10, 10, 50, 50),
        BoxSource.TRACKED,
        conf,
        flagged=flagged,
        flag_reason="drift" if flagged else "",
    )


@pytest.fixture
def flagged_project() -> tuple[Project, int, int]:
    p = _project()
    a = add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    b = add_track(p, 5, BoxXYXY(20, 20, 40, 40))
    with p.edit("track") as tx:
        tx.set_box(a, _derived(10, 0.2, flagged=True))
        tx.set_box(b, _derived(10, 0.3, flagged=True))
        tx.set_box(a, _derived(30, 0.9))
        tx.set_box(b, _derived(40, 0.1, flagged=True))
    return p, a, b


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (50, 50),  # inside the media
        (-5, 0),  # before the start clamps to the first frame
        (100, 99),  # one past the end clamps to the last frame
        (10**9, 99),  # absurd values clamp too
    ],
)
def test_seek_clamps(target: int, expected: int) -> None:
    s = Session(_project())
    assert s.seek(target) == expected
    assert s.frame == expected


def test_frame_changed_emits_only_on_change() -> None:
    s = Session(_project())
    seen: list[int] = []
    s.frame_changed.connect(seen.append)
    s.step(1)
    s.step(10)
    s.seek(11)  # already there: no event
    s.step(-1)
    assert seen == [1, 11, 10]


def test_next_and_previous_keyframe_of_selected_track() -> None:
    p = _project()
    a = add_track(p, 3, BoxXYXY(0, 0, 10, 10))
    with p.edit("keys") as tx:
        tx.set_box(a, FrameBox(20, BoxXYXY(0, 0, 10, 10)))
        tx.set_box(a, _derived(25, 0.8))  # derived: not a keyframe
    add_track(p, 12, BoxXYXY(0, 0, 10, 10))
    s = Session(p)
    s.select(a)
    assert s.next_keyframe() == 3
    assert s.next_keyframe() == 20
    assert s.next_keyframe() is None and s.frame == 20
    assert s.next_keyframe(backward=True) == 3
    s.select(None)  # every track's keyframes
    assert s.next_keyframe() == 12


def test_next_flag_visits_every_flag_in_review_order_and_selects(
    flagged_project: tuple[Project, int, int],
) -> None:
    p, a, b = flagged_project
    s = Session(p)
    # value order (expected wrong fixed per second): a@10 (0.2, and a correction re-tracks
    # a@30), then b@40 (0.1), then b@10 (0.3)
    assert s.next_flag() == (10, a)
    assert (s.frame, s.selected) == (10, a)
    assert s.next_flag() == (40, b)
    assert s.next_flag() == (10, b)
    assert s.next_flag() is None and s.frame == 10  # no wrap-around
    assert s.next_flag(backward=True) == (40, b)
    assert s.next_flag(backward=True) == (10, a)


def test_accepted_flag_is_skipped(flagged_project: tuple[Project, int, int]) -> None:
    p, a, b = flagged_project
    accept_box(p, a, 10)
    s = Session(p)
    assert s.next_flag() == (40, b)


def test_deleting_selected_track_clears_selection(
    flagged_project: tuple[Project, int, int],
) -> None:
    p, a, _ = flagged_project
    s = Session(p)
    s.select(a)
    delete_track(p, a)
    assert s.selected is None
    p.history.undo()
    s.select(a)
    assert s.selected == a


def test_selecting_unknown_track_selects_nothing() -> None:
    s = Session(_project())
    s.select(42)
    assert s.selected is None


def test_play_ticks_until_the_end_then_stops() -> None:
    s = Session(_project(5))
    s.seek(2)
    s.set_playing(True)
    assert s.play_interval_ms == 40  # 25 fps
    assert s.tick() and s.tick()
    assert s.frame == 4
    assert not s.tick() and not s.playing
    s.toggle_play()  # parked on the last frame: playing restarts from 0
    assert s.playing and s.frame == 0


def test_ui_state_round_trip_and_bad_state_ignored(
    flagged_project: tuple[Project, int, int],
) -> None:
    p, a, _ = flagged_project
    s = Session(p)
    s.seek(33)
    s.select(a)
    s.set_view(100.0, (320.0, 240.0))
    state = s.ui_state()
    assert state["zoom"] == MAX_ZOOM  # clamped
    s2 = Session(p)
    s2.restore(state)
    assert (s2.frame, s2.selected, s2.view) == (33, a, s.view)
    s3 = Session(p)
    s3.restore({"frame": "not a number"})
    assert s3.frame == 0


@pytest.mark.parametrize(
    ("frame", "fps", "expected"),
    [
        (0, 25.0, "00:00:00.000"),  # start
        (25, 25.0, "00:00:01.000"),  # one second
        (90_000, 25.0, "01:00:00.000"),  # one hour
        (1, 29.97, "00:00:00.033"),  # NTSC rate rounds to the millisecond
    ],
)
def test_timecode(frame: int, fps: float, expected: str) -> None:
    s = Session(_project(10**6), fps=fps)
    assert s.timecode(frame) == expected
