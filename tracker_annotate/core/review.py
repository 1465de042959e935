"""The review queue: which boxes need a human look, and in what order.

Flags are grouped into *segments* (runs of consecutive flagged frames of one track), so a
single visit can fix a run of bad frames; the queue itself stays per box so the counter
("12 left") and F / Shift+F navigation are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.project import Project


@dataclass(frozen=True, slots=True)
class ReviewItem:
    track_id: int
    frame: int
    confidence: float
    reason: str


@dataclass(frozen=True, slots=True)
class FlagSegment:
    """Consecutive flagged frames ``start..end`` (inclusive) of one track."""

    track_id: int
    start: int
    end: int
    min_confidence: float
    reasons: tuple[str, ...]

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def _needs_review(box: FrameBox, unverified_derived: bool) -> bool:
    if unverified_derived:
        return box.is_derived and not box.outside
    return box.flagged and not box.verified


def review_items(project: Project, *, unverified_derived: bool = False) -> list[ReviewItem]:
    """Flagged boxes, lowest confidence first (ties by frame, then track).

    With ``unverified_derived`` the filter is "every derived box nobody has verified",
    flagged or not.
    """
    items = [
        ReviewItem(tid, f, b.confidence, b.flag_reason)
        for tid in project.tracks
        for f, b in project.boxes(tid).items()
        if _needs_review(b, unverified_derived)
    ]
    items.sort(key=lambda it: (it.confidence, it.frame, it.track_id))
    return items


def flagged_positions(project: Project) -> list[tuple[int, int]]:
    """Every flagged, unverified box as ``(frame, track_id)``, in playback order."""
    return sorted(
        (f, tid)
        for tid in project.tracks
        for f, b in project.boxes(tid).items()
        if b.flagged and not b.verified
    )


def next_flag(
    project: Project, frame: int, track_id: int | None = None, *, backward: bool = False
) -> tuple[int, int] | None:
    """The flagged box after (or before) position ``(frame, track_id)`` in playback order.

    Returns ``(frame, track_id)`` or ``None``; it does not wrap around. With ``track_id``
    ``None`` the position is "before every track on ``frame``" going forward and "after
    every track on ``frame``" going backward, so the current frame's flags are found.
    """
    positions = flagged_positions(project)
    if backward:
        cur = (frame, track_id if track_id is not None else 1 << 62)
        before = [p for p in positions if p < cur]
        return before[-1] if before else None
    cur = (frame, track_id if track_id is not None else -1)
    for p in positions:
        if p > cur:
            return p
    return None


def flag_segments(project: Project) -> list[FlagSegment]:
    """Runs of consecutive flagged frames per track, worst (lowest confidence) first."""
    segs: list[FlagSegment] = []
    for tid in project.tracks:
        boxes = project.boxes(tid)
        frames = sorted(f for f, b in boxes.items() if b.flagged and not b.verified)
        runs: list[list[int]] = []
        for f in frames:
            if runs and f == runs[-1][-1] + 1:
                runs[-1].append(f)
            else:
                runs.append([f])
        for run in runs:
            run_boxes = [boxes[g] for g in run]
            segs.append(
                FlagSegment(
                    tid,
                    run[0],
                    run[-1],
                    min(b.confidence for b in run_boxes),
                    tuple(sorted({b.flag_reason for b in run_boxes})),
                )
            )
    segs.sort(key=lambda s: (s.min_confidence, s.start, s.track_id))
    return segs
