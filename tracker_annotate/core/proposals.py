"""Proposed tracks from a detector: their own queue, accept, reject, and the memory of
rejections.

A proposal is a track with ``TrackInfo(proposed=True)`` whose first box is a model's
``IMPORTED`` box marked :data:`REASON_NEW` (later boxes, when the proposal was tracked, are
ordinary derived boxes).

The rule: **a proposal's boxes are not flags until the object is accepted.** Proposals
wait in their own queue (:func:`proposal_queue`, walked by :func:`next_proposal`); the
review queue, F, "N left", ``status``, the predicted residual and the audit's population
see only :func:`review_track_ids`, every track but proposals. Accepting the object
(:func:`accept_proposal`, or :func:`tracker_annotate.core.commands.accept_proposed_track`)
clears ``proposed``, and from then on its boxes' flags count like any other. A detector
that proposes an object nobody asked for therefore never floods the review.

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


def review_track_ids(project: Project) -> list[int]:
    """Tracks whose boxes count in the review queue and the quality figures (flags, unseen
    and visible boxes): every track but proposals, open or rejected. Sorted."""
    return sorted(t for t, info in project.tracks.items() if not info.proposed)


@dataclass(frozen=True, slots=True)
class ProposedObject:
    """An open proposal in the proposal queue: where it first appears, what the detector
    called it and how sure it was (the proposal box's confidence, the detector's score)."""

    track_id: int
    frame: int
    label: str
    score: float


def proposal_queue(project: Project) -> list[ProposedObject]:
    """Every open proposal, in the order the annotator walks them: by first frame, then
    track id."""
    out = []
    for tid, info in project.tracks.items():
        if not info.proposed or is_rejected(project, tid) or not project.boxes(tid):
            continue
        f = proposal_frame(project, tid)
        out.append(ProposedObject(tid, f, info.label, project.boxes(tid)[f].confidence))
    out.sort(key=lambda p: (p.frame, p.track_id))
    return out


def next_proposal(
    project: Project, frame: int, track_id: int | None = None, *, backward: bool = False
) -> ProposedObject | None:
    """The open proposal after (before) position ``(frame, track_id)`` in queue order,
    wrapping around; ``None`` when the queue is empty. On a proposal, its neighbour in the
    queue; elsewhere, the first one at or after ``frame`` (the last before it)."""
    queue = proposal_queue(project)
    if not queue:
        return None
    ids = [p.track_id for p in queue]
    if track_id in ids:
        i = ids.index(track_id) + (-1 if backward else 1)
        return queue[i % len(queue)]
    if backward:
        before = [p for p in queue if p.frame <= frame]
        return before[-1] if before else queue[-1]
    after = [p for p in queue if p.frame >= frame]
    return after[0] if after else queue[0]


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
