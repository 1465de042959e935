"""The review queue: which boxes need a human look, and in what order.

Flags are grouped into *stretches* (runs of consecutive flagged frames of one track): the
app reviews a stretch at once (watch it play, then accept it with Shift+Enter, or correct
its worst box and re-track). Stretches are ordered by *value*, the expected wrong boxes a
visit fixes per second of review (active-learning prioritisation):

* expected wrong in the stretch ``E = sum(1 - c)`` over its boxes (calibrated confidences);
* a correction (probability ``P = 1 - prod(c)`` that some box is wrong) re-tracks the
  derived boxes between the keyframes around the stretch, so it also fixes the expected
  wrong of the unflagged boxes in that span, ``E_span``;
* seconds ``= watch_s * length + (1 - P) * verify_s + P * correct_s``;
* ``value = (E + P * E_span) / seconds``.

Only the tracks of :func:`~tracker_annotate.core.proposals.review_track_ids` are in the
queue: a detector's proposed object waits in its own queue until accepted (the rule is
:mod:`tracker_annotate.core.proposals`), so F starts with what the annotator drew.

F / Shift+F (:func:`next_flag`, and :func:`flag_hop`, which wraps around past the last
flag), and the review list all use :func:`flagged_positions`, the boxes in that order
(stretch by stretch, frame by frame), so F starts where the list starts. Shift+Enter is
:func:`accept_stretch`: the run of flagged frames around the current one, accepted at once.

:func:`suggest_keyframe` is the frame-selection guidance (after Kuznetsova et al., WACV
2021): the frame whose manual box is expected to remove the most error.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from tracker_annotate.core import commands
from tracker_annotate.core.audit import ReviewCosts
from tracker_annotate.core.boxes import BoxSource, FrameBox
from tracker_annotate.core.project import Project
from tracker_annotate.core.proposals import review_track_ids


@dataclass(frozen=True, slots=True)
class ReviewItem:
    track_id: int
    frame: int
    confidence: float
    reason: str


@dataclass(frozen=True, slots=True)
class FlagSegment:
    """Consecutive frames ``start..end`` (inclusive) of one track that need a look, with
    what a visit is expected to be worth (see the module doc)."""

    track_id: int
    start: int
    end: int
    min_confidence: float
    reasons: tuple[str, ...]
    expected_wrong: float = 0.0
    retracked: int = 0  # derived boxes a correction re-tracks (keyframe to keyframe)
    review_s: float = 0.0
    value: float = 0.0  # expected wrong boxes fixed per second of review
    worst_frame: int = -1

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def count(self) -> int:
        return self.length

    def contains(self, frame: int, track_id: int | None) -> bool:
        return track_id == self.track_id and self.start <= frame <= self.end

    def explain(self) -> str:
        """The row's reason in full: why it is flagged and what a visit is worth."""
        why = ", ".join(self.reasons) or "unverified tracked boxes"
        return (
            f"{why}; ≈{self.expected_wrong:.1f} wrong expected, ~{self.review_s:.0f} s to "
            f"review, a correction re-tracks {self.retracked} boxes "
            f"({self.value:.2f} wrong fixed/s)"
        )


def _needs_review(box: FrameBox, unverified_derived: bool) -> bool:
    if unverified_derived:
        return box.is_derived and not box.outside
    return box.flagged and not box.verified


def review_items(project: Project, *, unverified_derived: bool = False) -> list[ReviewItem]:
    """Flagged boxes in review order (:func:`flagged_positions`).

    With ``unverified_derived`` the filter is "every derived box nobody has verified",
    flagged or not.
    """
    out = []
    for seg in flag_segments(project, unverified_derived=unverified_derived):
        boxes = project.boxes(seg.track_id)
        for f in range(seg.start, seg.end + 1):
            b = boxes[f]
            out.append(ReviewItem(seg.track_id, f, b.confidence, b.flag_reason))
    return out


def flag_segments(
    project: Project, *, unverified_derived: bool = False, costs: ReviewCosts | None = None
) -> list[FlagSegment]:
    """Stretches of boxes needing review, most valuable first (ties: earlier frame, then
    lower track id). Linear in the boxes: the span sums come from prefix sums."""
    costs = costs or ReviewCosts()
    segs: list[FlagSegment] = []
    for tid in review_track_ids(project):
        boxes = project.boxes(tid)
        frames = sorted(boxes)
        keys: list[int] = []
        want: list[int] = []
        # prefix sums over `frames`: derived visible boxes, and their expected wrong when
        # unflagged (what a correction's re-track may also fix). The hot loop of the
        # review panel's refresh: FrameBox properties are inlined.
        n_dv = [0]
        e_dv = [0.0]
        n_acc, e_acc = 0, 0.0
        manual = BoxSource.MANUAL
        for f in frames:
            b = boxes[f]
            key = b.source is manual or b.verified
            if key:
                keys.append(f)
            elif not b.outside:
                n_acc += 1
                if not b.flagged:
                    c = b.confidence
                    e_acc += 1.0 - (c if c < 1.0 else 1.0) if c > 0.0 else 1.0
            # = _needs_review(b, unverified_derived), inlined
            if (
                (not key and not b.outside)
                if unverified_derived
                else (b.flagged and not b.verified)
            ):
                want.append(f)
            n_dv.append(n_acc)
            e_dv.append(e_acc)
        runs: list[list[int]] = []
        for f in want:
            if runs and f == runs[-1][-1] + 1:
                runs[-1].append(f)
            else:
                runs.append([f])
        for run in runs:
            k = bisect.bisect_left(keys, run[0])
            lo = keys[k - 1] if k > 0 else -1
            k = bisect.bisect_right(keys, run[-1])
            hi = keys[k] if k < len(keys) else 1 << 62
            i0 = bisect.bisect_right(frames, lo)
            i1 = bisect.bisect_left(frames, hi)
            run_boxes = [boxes[f] for f in run]
            in_run_dv = sum(1 for b in run_boxes if b.is_derived and not b.outside)
            in_run_e = sum(
                _err(b) for b in run_boxes if b.is_derived and not b.outside and not b.flagged
            )
            span_n = n_dv[i1] - n_dv[i0] - in_run_dv
            span_e = e_dv[i1] - e_dv[i0] - in_run_e
            segs.append(
                _segment(
                    tid, run=run, run_boxes=run_boxes, span_n=span_n, span_e=span_e, costs=costs
                )
            )
    segs.sort(key=lambda s: (-s.value, s.start, s.track_id))
    return segs


def _err(b: FrameBox) -> float:
    return 1.0 - min(1.0, max(0.0, b.confidence))


def _segment(
    tid: int,
    *,
    run: list[int],
    run_boxes: list[FrameBox],
    span_n: int,
    span_e: float,
    costs: ReviewCosts,
) -> FlagSegment:
    e_run = sum(_err(b) for b in run_boxes)
    p_wrong = 1.0 - math.prod(1.0 - _err(b) for b in run_boxes)
    seconds = costs.watch_s * len(run) + (1 - p_wrong) * costs.verify_s + p_wrong * costs.correct_s
    value = (e_run + p_wrong * max(0.0, span_e)) / max(seconds, 1e-9)
    worst = min(zip(run, run_boxes, strict=True), key=lambda fb: (fb[1].confidence, fb[0]))[0]
    return FlagSegment(
        tid,
        run[0],
        run[-1],
        min(b.confidence for b in run_boxes),
        tuple(sorted({b.flag_reason for b in run_boxes if b.flag_reason})),
        e_run,
        span_n + len(run),
        seconds,
        value,
        worst,
    )


def flagged_positions(project: Project) -> list[tuple[int, int]]:
    """Every flagged, unverified box as ``(frame, track_id)``, in review order: the
    stretches by value, each from its first frame to its last."""
    return [
        (f, seg.track_id) for seg in flag_segments(project) for f in range(seg.start, seg.end + 1)
    ]


def next_flag(
    project: Project, frame: int, track_id: int | None = None, *, backward: bool = False
) -> tuple[int, int] | None:
    """The flagged box after (or before) position ``(frame, track_id)`` in review order.

    Returns ``(frame, track_id)`` or ``None``; it does not wrap around. From a position
    that is not a flag: the next (previous) frame of the same track if that is flagged
    (the rest of a stretch after accepting a box), else the first (last) flag.
    """
    return _step(flagged_positions(project), frame, track_id, backward)


def _step(
    positions: list[tuple[int, int]], frame: int, track_id: int | None, backward: bool
) -> tuple[int, int] | None:
    if not positions:
        return None
    cur = (frame, track_id if track_id is not None else -1)
    if cur in positions:
        i = positions.index(cur) + (-1 if backward else 1)
        return positions[i] if 0 <= i < len(positions) else None
    if track_id is not None:
        step = (frame - 1 if backward else frame + 1, track_id)
        if step in positions:
            return step
    return positions[-1] if backward else positions[0]


@dataclass(frozen=True, slots=True)
class FlagHop:
    """Where F (Shift+F) goes from a position: see :func:`flag_hop`."""

    frame: int
    track_id: int
    wrapped: bool  # past the last (first) flag, back to the first (last)
    moved: bool  # False: the position is already the only flag left
    left: int  # flagged boxes in the queue


def flag_hop(
    project: Project, frame: int, track_id: int | None = None, *, backward: bool = False
) -> FlagHop | None:
    """The next (previous) flag in review order from ``(frame, track_id)``, wrapping around
    to the first (last) one past the end, so a walk that started mid-video, or a re-track
    that flagged earlier frames, still reaches every flag. ``None`` when no flag is left.

    A ``track_id`` with no box on ``frame`` counts as no selection (as in the session).
    """
    if track_id is not None and project.box(track_id, frame) is None:
        track_id = None
    positions = flagged_positions(project)
    if not positions:
        return None
    hit = _step(positions, frame, track_id, backward)
    if hit is not None:
        return FlagHop(hit[0], hit[1], wrapped=False, moved=True, left=len(positions))
    f, tid = positions[-1] if backward else positions[0]
    moved = (f, tid) != (frame, track_id)
    return FlagHop(f, tid, wrapped=True, moved=moved, left=len(positions))


def _needs_look(box: FrameBox | None) -> bool:
    return box is not None and box.flagged and not box.verified


def flagged_stretch(project: Project, track_id: int, frame: int) -> tuple[int, int] | None:
    """The run ``(first, last)`` (inclusive) of consecutive frames around ``frame`` where
    the track's box is flagged and not verified; ``None`` when ``frame`` itself is not."""
    boxes = project.boxes(track_id)
    if not _needs_look(boxes.get(frame)):
        return None
    first, last = frame, frame
    while _needs_look(boxes.get(first - 1)):
        first -= 1
    while _needs_look(boxes.get(last + 1)):
        last += 1
    return first, last


@dataclass(frozen=True, slots=True)
class StretchAccepted:
    """What :func:`accept_stretch` did: frames ``first..last`` of a track, one undo step
    named ``description``."""

    track_id: int
    first: int
    last: int
    description: str

    @property
    def count(self) -> int:
        return self.last - self.first + 1


def accept_stretch(project: Project, track_id: int, frame: int) -> StretchAccepted | None:
    """Accept the track's whole run of flagged frames around ``frame`` (one undo step): a
    stretch the annotator played through and found right, without Enter on every frame.

    Returns what it accepted, or ``None`` (and changes nothing) when the box on ``frame``
    is not flagged-and-unverified. Raises :class:`ProjectError` for an unknown track.
    """
    run = flagged_stretch(project, track_id, frame)
    if run is None:
        return None
    first, last = run
    frames = f"frame {first}" if first == last else f"frames {first}\u2013{last}"
    desc = f"Accept {frames} of track {track_id}"
    with project.edit(desc):
        for f in range(first, last + 1):
            commands.accept_box(project, track_id, f)
    return StretchAccepted(track_id, first, last, desc)


def suggest_keyframe(project: Project) -> tuple[int, int, str] | None:
    """The next keyframe to draw: ``(frame, track_id, why)`` or ``None``.

    Among the keyframe-to-keyframe spans of derived boxes nobody verified, the one with
    the most expected wrong boxes ``sum(1 - c)``; in it, its least confident frame (a
    manual box there re-tracks the whole span from a fresh, correct start).
    """
    best: tuple[float, int, int, int] | None = None  # (-expected, frame, track, n)
    for tid in review_track_ids(project):
        boxes = project.boxes(tid)
        run: list[int] = []
        for f in [*sorted(boxes), None]:
            b = boxes[f] if f is not None else None
            if b is not None and b.is_derived and not b.outside:
                run.append(f)  # type: ignore[arg-type]
                continue
            if run:
                e = sum(1.0 - boxes[g].confidence for g in run)
                worst = min(run, key=lambda g: (boxes[g].confidence, g))
                cand = (-e, worst, tid, len(run))
                if e > 0 and (best is None or cand < best):
                    best = cand
                run = []
    if best is None:
        return None
    e, frame, tid, n = -best[0], best[1], best[2], best[3]
    conf = project.boxes(tid)[frame].confidence
    why = (
        f"track {tid}: {n} unverified boxes between keyframes carry ≈{e:.1f} expected wrong; "
        f"frame {frame} is the least confident ({conf:.2f})"
    )
    return frame, tid, why


def suggests_swap(box: FrameBox | None) -> bool:
    """Whether ``box`` carries an overlap flag ("two tracks on one object", "parted from
    another track"): where two tracks cross, identities may have switched, and the flag
    names :func:`~tracker_annotate.core.commands.swap_identities`' key."""
    return box is not None and box.flagged and commands.SWAP_HINT in box.flag_reason


def crossing_partner(project: Project, track_id: int, frame: int) -> int | None:
    """The track that ``track_id`` crosses on ``frame``: the other visible track whose box
    overlaps its box most there or on the frame before (a "parted" flag sits on the first
    frame after the overlap). ``None`` when no other box overlaps it."""
    best: tuple[float, int] | None = None
    for f in (frame, frame - 1):
        mine = project.box(track_id, f)
        if mine is None or mine.outside:
            continue
        for tid, b in project.boxes_at(f):
            if tid == track_id or b.outside or project.tracks[tid].hidden:
                continue
            iou = mine.xyxy.iou(b.xyxy)
            if iou > 0 and (best is None or (iou, -tid) > (best[0], -best[1])):
                best = (iou, tid)
    return best[1] if best is not None else None
