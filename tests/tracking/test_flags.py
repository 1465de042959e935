"""Flags on constructed failure cases: re-acquisition after an occlusion, a track lost right
after its keyframe, a box on another track's box in a one-track re-track (each used to leave
wrong or missing boxes nobody was shown)."""

from __future__ import annotations

import numpy as np
import pytest
from tracking_scenes import ArraySource, MovingObject

from tracker_annotate.core.boxes import BoxXYXY, FrameBox, iou_matrix
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.tracking.api import TrackerConfig
from tracker_annotate.tracking.assoc import CONFLICT_IOU
from tracker_annotate.tracking.confidence import (
    REACQUIRE_CONF,
    REACQUIRE_GAP,
    REASON_CONFLICT,
    REASON_END,
    REASON_PARTED,
    REASON_REACQUIRED,
    step_confidence,
)
from tracker_annotate.tracking.engine import track_project
from tracker_annotate.tracking.passes import StepSignals


def _sig(reacquired: int, app: float = 0.95) -> StepSignals:
    return StepSignals(
        5, np.array([10.0, 10, 50, 50]), app, app, 0.9, 0, 0.0, 1.0, "search",
        reacquired=reacquired,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("gap", "flagged"),
    [
        (0, False),  # ordinary step
        (REACQUIRE_GAP - 1, False),  # a short gap (a blink of LK) is not a re-acquisition
        (REACQUIRE_GAP, True),  # after an occlusion: the search may have found a look-alike
        (12, True),  # long occlusion, same
    ],
)
def test_reacquisition_caps_confidence(gap: int, flagged: bool) -> None:
    conf, reason = step_confidence(_sig(gap))
    assert (conf < 0.5) is flagged
    if flagged:
        assert conf <= REACQUIRE_CONF and reason == REASON_REACQUIRED


def _project(src: ArraySource, frame: int = 0) -> Project:
    p = Project(MediaRef("rendered", src.n_frames, src.width, src.height))
    with p.edit("keys") as tx:
        tx.set_track(TrackInfo(1))
        tx.set_box(1, FrameBox(frame, BoxXYXY.from_array(src.truth(0, frame))))
    return p


def test_the_frame_an_object_is_found_again_after_occlusion_is_flagged() -> None:
    motion = {"velocity": (2.0, 0.5), "seed": 4}
    hidden = (20, 25)
    src = ArraySource(
        [
            MovingObject((60, 60, 110, 120), visible=(0, hidden[0] - 1), **motion),  # type: ignore[arg-type]
            MovingObject((60, 60, 110, 120), visible=(hidden[1] + 1, 99), **motion),  # type: ignore[arg-type]
        ],
        n=50,
    )
    run = track_project(_project(src), src, TrackerConfig(tracker="cascade"))  # re-acquires
    by = {b.frame: b for b in run.boxes[1]}
    back = hidden[1] + 1
    assert by[back].flagged and by[back].flag_reason == REASON_REACQUIRED
    iou = iou_matrix(by[back].xyxy.to_array()[None], src.truth(0, back)[None])[0, 0]
    assert iou > 0.8  # found the object (a right answer still deserves one look)
    # One look per re-acquisition, not a run of flags after it.
    assert not any(by[f].flagged for f in range(back + 1, back + 10))


def test_a_track_lost_right_after_its_keyframe_shows_a_flagged_end() -> None:
    # The object vanishes the frame after the keyframe: nothing to track, the extension is
    # lost at once. The annotator must still be shown where the track stops.
    src = ArraySource([MovingObject((60, 60, 110, 120), (2.0, 0.0), seed=5, visible=(0, 0))])
    run = track_project(_project(src), src, TrackerConfig(tracker="cascade"))
    assert len(run.boxes[1]) == 1
    (end,) = run.boxes[1]
    assert end.frame == 1 and end.flagged and end.flag_reason == REASON_END


@pytest.mark.parametrize(
    "threshold",
    [
        0.3,  # below the old fixed 0.4 cap, which hid every overlap flag
        0.5,  # the default
        0.8,  # a strict reviewer
    ],
)
def test_a_box_on_another_tracks_box_is_flagged_where_the_overlap_starts_and_ends(
    threshold: float,
) -> None:
    # Two objects cross. Only track 1 runs (as in a re-track after an edit); track 2 is all
    # keyframes, so the frame-by-frame check of the run cannot see it.
    src = ArraySource(
        [
            MovingObject((20, 100, 60, 140), (3.0, 0.0), seed=6),
            MovingObject((200, 100, 240, 140), (-3.0, 0.0), seed=7),
        ],
        n=60,
    )
    p = Project(MediaRef("rendered", src.n_frames, src.width, src.height))
    with p.edit("keys") as tx:
        tx.set_track(TrackInfo(1))
        for f in (0, 59):
            tx.set_box(1, FrameBox(f, BoxXYXY.from_array(src.truth(0, f))))
        tx.set_track(TrackInfo(2))
        for f in range(60):
            tx.set_box(2, FrameBox(f, BoxXYXY.from_array(src.truth(1, f))))
    config = TrackerConfig(flag_threshold=threshold)
    run = track_project(p, src, config, track_ids=[1])
    boxes = run.boxes[1]
    over = [
        iou_matrix(b.xyxy.to_array()[None], src.truth(1, b.frame)[None])[0, 0] >= CONFLICT_IOU
        for b in boxes
    ]
    assert sum(over) >= 3  # the scene does make them overlap for a few frames
    first = over.index(True)
    last = len(over) - 1 - over[::-1].index(True)
    assert boxes[first].flagged and boxes[first].flag_reason == REASON_CONFLICT
    assert boxes[last + 1].flagged and boxes[last + 1].flag_reason == REASON_PARTED
    cap = config.assoc.overlap_cap(threshold)  # ranked below the threshold, as flags are
    assert boxes[first].confidence <= cap < threshold
    assert boxes[last + 1].confidence <= cap
    # Not every frame of the overlap: one look where it starts, one where it ends.
    assert sum(b.flag_reason == REASON_CONFLICT for b in boxes) == 1


@pytest.mark.parametrize(
    ("threshold", "cap"),
    [
        (0.0, 0.0),  # nothing ranks below 0: the cap stops at 0 (the flag is still set)
        (0.3, 0.2),  # a margin below a low threshold
        (0.5, 0.4),  # the default: the v1 ceiling, so the regression pins hold
        (0.9, 0.4),  # never above overlap_conf
    ],
)
def test_overlap_cap_follows_the_flag_threshold(threshold: float, cap: float) -> None:
    assert TrackerConfig().assoc.overlap_cap(threshold) == pytest.approx(cap)


def test_assoc_params_are_checked() -> None:
    from tracker_annotate.core.errors import ConfigError
    from tracker_annotate.tracking.params import AssocParams

    with pytest.raises(ConfigError, match="conflict_iou must be in"):
        AssocParams(conflict_iou=1.5)
    with pytest.raises(ConfigError, match="min_hits must be >= 1"):
        AssocParams(min_hits=0)
