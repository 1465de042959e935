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

import math
from dataclasses import dataclass

import numpy as np

from tracker_annotate.core import commands
from tracker_annotate.core.audit import ReviewCosts
from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.project import Project
from tracker_annotate.core.proposals import review_track_ids
from tracker_annotate.core.track_boxes import BoxColumns


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


def review_items(
    project: Project,
    *,
    unverified_derived: bool = False,
    segments: list[FlagSegment] | None = None,
) -> list[ReviewItem]:
    """Flagged boxes in review order (:func:`flagged_positions`).

    With ``unverified_derived`` the filter is "every derived box nobody has verified",
    flagged or not. ``segments``: the :func:`flag_segments` of that filter, if the caller
    has them already (a million-box project: they are the expensive part).
    """
    out = []
    if segments is None:
        segments = flag_segments(project, unverified_derived=unverified_derived)
    for seg in segments:
        c = project.columns(seg.track_id)
        first = c.index(seg.start)  # a stretch's frames are consecutive rows
        conf = c.confidence[first : first + seg.length].tolist()
        for k in range(seg.length):
            out.append(ReviewItem(seg.track_id, seg.start + k, conf[k], c.reason_of(first + k)))
    return out


def flag_segments(
    project: Project, *, unverified_derived: bool = False, costs: ReviewCosts | None = None
) -> list[FlagSegment]:
    """Stretches of boxes needing review, most valuable first (ties: earlier frame, then
    lower track id). Linear in the boxes: the span sums come from prefix sums."""
    costs = costs or ReviewCosts()
    segs: list[FlagSegment] = []
    for tid in review_track_ids(project):
        segs.extend(_track_segments(tid, project.columns(tid), unverified_derived, costs))
    segs.sort(key=lambda s: (-s.value, s.start, s.track_id))
    return segs


def _track_segments(
    tid: int, c: BoxColumns, unverified_derived: bool, costs: ReviewCosts
) -> list[FlagSegment]:
    frames, conf, flagged = c.frame, c.confidence, c.flagged
    key = c.is_keyframe
    dv = ~key & ~c.outside  # derived visible boxes
    want = np.flatnonzero(dv if unverified_derived else flagged & ~c.verified)
    if not want.size:
        return []
    # prefix sums over the track's boxes: derived visible boxes, and their expected wrong
    # when unflagged (what a correction's re-track may also fix); cumsum adds left to
    # right, so the floats are those of a plain loop
    err = np.where(dv & ~flagged, np.where(conf > 0.0, 1.0 - np.minimum(conf, 1.0), 1.0), 0.0)
    n_dv = np.concatenate(([0], np.cumsum(dv))).tolist()
    e_dv = np.concatenate(([0.0], np.cumsum(err))).tolist()
    wf = frames[want]
    cut = np.flatnonzero(np.diff(wf) != 1) + 1  # runs of consecutive frames
    starts, ends = np.concatenate(([0], cut)), np.concatenate((cut, [wf.size]))
    keys = frames[key]
    if keys.size:
        k0 = np.searchsorted(keys, wf[starts], side="left")
        lo = np.where(k0 > 0, keys[np.maximum(k0 - 1, 0)], -1)
        k1 = np.searchsorted(keys, wf[ends - 1], side="right")
        hi = np.where(k1 < keys.size, keys[np.minimum(k1, keys.size - 1)], 1 << 62)
    else:
        lo, hi = np.full(starts.size, -1), np.full(starts.size, 1 << 62)
    i0 = np.searchsorted(frames, lo, side="right").tolist()
    i1 = np.searchsorted(frames, hi, side="left").tolist()
    want_l, conf_l, dv_l, fl_l = want.tolist(), conf.tolist(), dv.tolist(), flagged.tolist()
    frame_l = frames.tolist()
    out = []
    for r, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        span_n, span_e = n_dv[i1[r]] - n_dv[i0[r]], e_dv[i1[r]] - e_dv[i0[r]]
        if b - a == 1:  # most stretches are one box: the general path's arithmetic, inlined
            i = want_l[a]
            cv, f = conf_l[i], frame_l[i]
            e = _err(cv)
            span_e -= e if dv_l[i] and not fl_l[i] else 0
            out.append(
                _valued(
                    tid,
                    (f, f),
                    e_run=e,
                    p_wrong=1.0 - (1.0 - e),
                    min_conf=cv,
                    reasons={c.reason_of(i)},
                    retracked=span_n - dv_l[i] + 1,
                    span_e=span_e,
                    worst=f,
                    costs=costs,
                )
            )
            continue
        rows = want_l[a:b]
        in_run_dv = sum(1 for i in rows if dv_l[i])
        in_run_e = sum(_err(conf_l[i]) for i in rows if dv_l[i] and not fl_l[i])
        out.append(
            _segment(
                tid,
                run=[frame_l[i] for i in rows],
                confs=[conf_l[i] for i in rows],
                reasons={c.reason_of(i) for i in rows},
                span_n=span_n - in_run_dv,
                span_e=span_e - in_run_e,
                costs=costs,
            )
        )
    return out


def _err(confidence: float) -> float:
    return 1.0 - min(1.0, max(0.0, confidence))


def _segment(
    tid: int,
    *,
    run: list[int],
    confs: list[float],
    reasons: set[str],
    span_n: int,
    span_e: float,
    costs: ReviewCosts,
) -> FlagSegment:
    e_run = sum(_err(c) for c in confs)
    p_wrong = 1.0 - math.prod(1.0 - _err(c) for c in confs)
    worst = min(zip(run, confs, strict=True), key=lambda fc: (fc[1], fc[0]))[0]
    return _valued(
        tid,
        (run[0], run[-1]),
        e_run=e_run,
        p_wrong=p_wrong,
        min_conf=min(confs),
        reasons=reasons,
        retracked=span_n + len(run),
        span_e=span_e,
        worst=worst,
        costs=costs,
    )


def _valued(
    tid: int,
    span: tuple[int, int],
    *,
    e_run: float,
    p_wrong: float,
    min_conf: float,
    reasons: set[str],
    retracked: int,
    span_e: float,
    worst: int,
    costs: ReviewCosts,
) -> FlagSegment:
    """The stretch ``span`` with what a visit is worth (see the module doc)."""
    n = span[1] - span[0] + 1
    seconds = costs.watch_s * n + (1 - p_wrong) * costs.verify_s + p_wrong * costs.correct_s
    value = (e_run + p_wrong * max(0.0, span_e)) / max(seconds, 1e-9)
    return FlagSegment(
        tid,
        span[0],
        span[1],
        min_conf,
        tuple(sorted(r for r in reasons if r)),
        e_run,
        retracked,
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
