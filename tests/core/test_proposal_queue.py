"""Proposals wait in their own queue: their boxes are not flags until the object is accepted
(:mod:`tracker_annotate.core.proposals`), in every count an annotator reads."""

from __future__ import annotations

import pytest

from tracker_annotate.core import audit, commands, review
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.core.proposals import (
    Proposal,
    accept_proposal,
    add_proposals,
    next_proposal,
    proposal_queue,
    reject_proposal,
    review_track_ids,
)
from tracker_annotate.core.quality_report import export_warnings, quality_report, status_text

N = 100


def _xyxy(f: int, x: float = 10.0) -> BoxXYXY:
    return BoxXYXY(x + f, 20.0, x + f + 30, 80.0)


def _tracked(f: int, conf: float, x: float = 10.0, *, flagged: bool = False) -> FrameBox:
    return FrameBox(
        f, _xyxy(f, x), BoxSource.TRACKED, conf, flagged=flagged, flag_reason="drift" * flagged
    )


def _project() -> tuple[Project, int, list[int]]:
    """A drawn track (keyframe 0, tracked 1..49, flagged on 40..44) and two proposals: one
    on frame 5 tracked ahead with every later box flagged (the parked van), one on frame 60."""
    p = Project(MediaRef("clip.mp4", N, 640, 480, 25.0))
    drawn = commands.add_track(p, 0, _xyxy(0))
    with p.edit("Track") as tx:
        for f in range(1, 50):
            tx.set_box(drawn, _tracked(f, 0.3 if 40 <= f < 45 else 0.95, flagged=40 <= f < 45))
    van_later = tuple(_tracked(f, 0.31, 300.0, flagged=True) for f in range(6, N))
    ids = add_proposals(
        p,
        [
            Proposal(60, _xyxy(60, 200.0), 0.7, "person"),
            Proposal(5, _xyxy(5, 300.0), 0.65, "car", van_later),
        ],
    )
    return p, drawn, ids


def test_proposal_boxes_are_never_counted_as_flags() -> None:
    p, drawn, (walker, van) = _project()
    assert review_track_ids(p) == [drawn]
    # the review queue: only the drawn track's stretch, though the van has 95 flagged boxes
    segs = review.flag_segments(p)
    assert [(s.track_id, s.start, s.end) for s in segs] == [(drawn, 40, 44)]
    assert {it.track_id for it in review.review_items(p)} == {drawn}
    assert review.flagged_positions(p) == [(f, drawn) for f in range(40, 45)]
    assert review.next_flag(p, 0) == (40, drawn)
    hint = review.suggest_keyframe(p)
    assert hint is not None and hint[1] == drawn
    # "N left" and the predicted residual of status / the quality panel
    rep = quality_report(p)
    assert rep["unreviewed_flags"] == 5 and rep["unreviewed_stretches"] == 1
    assert rep["visible_boxes"] == 50 and rep["unseen_boxes"] == 44
    assert rep["predicted_wrong_unseen"] == pytest.approx(44 * 0.05)
    assert rep["open_proposals"] == 2  # they are said apart
    assert "proposals:  2 proposed objects to accept or reject" in status_text(p)
    assert any(w.startswith("2 proposed objects") for w in export_warnings(p))
    assert audit.predict_curve(p)[0].flagged == 5
    # a threshold flags only drawn tracks' boxes; the audit is not refused for the van
    audit.apply_threshold(p, 0.5)
    assert all(
        not b.flagged or b.flag_reason == "drift" for b in p.boxes(van).values() if b.frame > 5
    )
    with pytest.raises(ProjectError, match="5 flagged boxes"):
        audit.start_audit(p, seed=1)
    # the proposals are in their own queue, by first frame
    assert [(q.track_id, q.frame, q.label) for q in proposal_queue(p)] == [
        (van, 5, "car"),
        (walker, 60, "person"),
    ]
    assert proposal_queue(p)[0].score == pytest.approx(0.65)


def test_f_starts_with_what_the_annotator_drew() -> None:
    p, drawn, _ = _project()
    hop = review.flag_hop(p, 0, None)
    assert hop is not None and (hop.frame, hop.track_id) == (40, drawn) and hop.left == 5
    review.accept_stretch(p, drawn, 40)
    assert review.flag_hop(p, 0, None) is None  # the van's 95 flags never reach F


def test_an_accepted_proposal_counts_from_then_on_and_a_rejected_one_never() -> None:
    p, drawn, (walker, van) = _project()
    accept_proposal(p, van)
    assert not p.track(van).proposed
    assert sorted(review_track_ids(p)) == sorted([drawn, van])
    assert quality_report(p)["unreviewed_flags"] == 5 + 94  # its tracked boxes' flags
    assert [q.track_id for q in proposal_queue(p)] == [walker]
    assert quality_report(p)["open_proposals"] == 1
    p.history.undo()  # undone: back in the proposal queue, its flags out of the counts
    assert quality_report(p)["unreviewed_flags"] == 5
    reject_proposal(p, walker)
    assert [q.track_id for q in proposal_queue(p)] == [van]
    assert quality_report(p)["visible_boxes"] == 50


@pytest.mark.parametrize(
    ("frame", "track", "backward", "want"),
    [
        (0, None, False, "van"),  # the first one at or after the frame
        (6, None, False, "walker"),
        (70, None, False, "van"),  # past the last: wraps to the first
        (70, None, True, "walker"),  # backward: the last one at or before the frame
        (0, None, True, "walker"),  # before the first: wraps to the last
        (5, "van", False, "walker"),  # on a proposal: its neighbour in the queue
        (60, "walker", False, "van"),  # ... wrapping
        (60, "walker", True, "van"),
    ],
)
def test_next_proposal_walks_the_queue(
    frame: int, track: str | None, backward: bool, want: str
) -> None:
    p, _drawn, (walker, van) = _project()
    names = {"walker": walker, "van": van}
    got = next_proposal(p, frame, names[track] if track else None, backward=backward)
    assert got is not None and got.track_id == names[want]


def test_no_proposal_no_walk() -> None:
    p = Project(MediaRef("clip.mp4", N, 640, 480, 25.0))
    commands.add_track(p, 0, _xyxy(0))
    assert proposal_queue(p) == [] and next_proposal(p, 0) is None
