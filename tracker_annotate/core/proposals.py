"""Proposed tracks from a detector: add, accept, reject, and the memory of rejections.

A proposal is a track with ``TrackInfo(proposed=True)`` whose first box is a model's
``IMPORTED`` box flagged :data:`REASON_NEW`, so it sits in the review queue with the other
flags (later boxes, when the proposal was tracked, are ordinary derived boxes).

* :func:`accept_proposal`: the track becomes a normal track and its proposal box a verified
  keyframe (the annotator checked it: priced as a verification, not a draw).
* :func:`reject_proposal`: the track stays in the project as a *rejection*: hidden, still
  ``proposed``, named :data:`REJECTED_NAME`, its boxes replaced by one manual ``outside``
  box where the proposal was. It draws nothing, exports no visible box (``convert
  --drop-proposed`` leaves it out entirely), is saved with the project and undone like any
  edit, and :func:`rejected_boxes` lets the detector skip that object next time.

Everything is one undoable transaction. No NumPy needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.labels import Label, distinct_color
from tracker_annotate.core.project import Project, TrackInfo

#: Review reason of a proposed track's first box.
REASON_NEW = "new object?"
#: Review reason of a box the detector found for a lost or doubtful track.
REASON_REFOUND = "re-found by the detector: same object?"
#: Name a rejected proposal's track gets (shown in the tracks panel).
REJECTED_NAME = "rejected proposal"


@dataclass(frozen=True, slots=True)
class Proposal:
    """A detection proposed as a new track: where it first appears, and what it is.

    ``later`` holds derived boxes after ``frame`` when the proposal was tracked ahead.
    """

    frame: int
    xyxy: BoxXYXY
    score: float
    label: str
    later: tuple[FrameBox, ...] = ()


def proposal_box(frame: int, xyxy: BoxXYXY, score: float) -> FrameBox:
    return FrameBox(
        frame,
        xyxy,
        BoxSource.IMPORTED,
        min(max(float(score), 0.0), 1.0),
        flagged=True,
        flag_reason=REASON_NEW,
    )


def add_proposals(
    project: Project, proposals: Sequence[Proposal], description: str = "Propose objects"
) -> list[int]:
    """Add each proposal as a proposed track (labels the project lacks are added)."""
    ids: list[int] = []
    if not proposals:
        return ids
    with project.edit(description) as tx:
        for p in proposals:
            if p.label not in project.labels:
                tx.set_label(Label(p.label, distinct_color(len(project.labels))))
            tid = tx.new_track_id()
            tx.set_track(TrackInfo(tid, p.label, proposed=True))
            tx.set_box(tid, proposal_box(p.frame, p.xyxy, p.score))
            for b in p.later:
                if b.frame != p.frame:
                    tx.set_box(tid, b)
            ids.append(tid)
    return ids


def is_rejected(project: Project, track_id: int) -> bool:
    """A rejected proposal (see the module doc)."""
    info = project.track(track_id)
    boxes = project.boxes(track_id)
    return info.proposed and info.hidden and bool(boxes) and all(b.outside for b in boxes.values())


def is_open_proposal(project: Project, track_id: int) -> bool:
    """A proposed track nobody has accepted or rejected yet."""
    return project.track(track_id).proposed and not is_rejected(project, track_id)


def proposal_frame(project: Project, track_id: int) -> int:
    """The frame of a proposed track's proposal box (its first box)."""
    boxes = project.boxes(track_id)
    if not boxes:
        raise ProjectError(f"proposed track {track_id} has no box")
    flagged = [f for f, b in boxes.items() if b.flag_reason == REASON_NEW]
    return min(flagged) if flagged else min(boxes)


def accept_proposal(
    project: Project, track_id: int, frame: int | None = None, xyxy: BoxXYXY | None = None
) -> None:
    """Accept a proposed track: it becomes a normal track; the box on ``frame`` (default:
    the proposal box) becomes its keyframe, moved to ``xyxy`` when the annotator fixed it
    (then it is a manual box, priced as a correction)."""
    info = project.track(track_id)
    if not info.proposed or is_rejected(project, track_id):
        raise ProjectError(f"track {track_id} is not an open proposal")
    f = proposal_frame(project, track_id) if frame is None else frame
    box = project.box(track_id, f)
    if box is None:
        raise ProjectError(f"proposed track {track_id} has no box on frame {f}")
    with project.edit(f"Accept proposed track {track_id}") as tx:
        tx.set_track(project.copy_info(info, proposed=False, hidden=False))
        if xyxy is None:
            tx.set_box(track_id, box.with_(verified=True, flagged=False, flag_reason=""))
        else:
            tx.set_box(track_id, FrameBox(f, xyxy, BoxSource.MANUAL, 1.0))


def reject_proposal(project: Project, track_id: int) -> None:
    """Reject a proposed track; it is remembered (see the module doc)."""
    info = project.track(track_id)
    if not info.proposed:
        raise ProjectError(f"track {track_id} is not a proposal (delete it instead)")
    f = proposal_frame(project, track_id)
    box = project.boxes(track_id)[f]
    with project.edit(f"Reject proposed track {track_id}") as tx:
        for g in list(project.boxes(track_id)):
            tx.remove_box(track_id, g)
        tx.set_track(project.copy_info(info, hidden=True, name=REJECTED_NAME))
        tx.set_box(track_id, FrameBox(f, box.xyxy, BoxSource.MANUAL, 1.0, outside=True))


def rejected_boxes(project: Project) -> list[tuple[int, BoxXYXY]]:
    """``(frame, xyxy)`` of every rejected proposal, in track order."""
    out = []
    for tid in sorted(project.tracks):
        if is_rejected(project, tid):
            for f, b in sorted(project.boxes(tid).items()):
                out.append((f, b.xyxy))
    return out
