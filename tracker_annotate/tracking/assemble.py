"""From a run's passes to boxes: fusion or blending per segment, confidence, flags.

Between two keyframes a self-contained back-end's passes are fused with the straight line
(:mod:`.fusion`) and every box gets the calibrated confidence (:mod:`.calibration`);
``cascade`` keeps its v1 blend (:func:`.confidence.blend_pair`). Past the last keyframe the
forward pass is kept as it ended, its end flagged when the object left or was lost (a pass
that ran to the last frame of the video did not end: its last box keeps its confidence,
or a parked car would be flagged "track end" on the last frame and taken for lost). Then
the boxes are looked at against every other track's (overlaps: where identities switch),
which re-scores them.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox, iou_matrix
from tracker_annotate.core.project import Project
from tracker_annotate.tracking import confidence as cm
from tracker_annotate.tracking.api import TrackerConfig, TrackingRun
from tracker_annotate.tracking.backends import backend
from tracker_annotate.tracking.calibration import FEATURES, model_for
from tracker_annotate.tracking.fusion import (
    REASON_SPLIT,
    FusedBox,
    extension_boxes,
    fuse_segment,
    line_segment,
    window_evidence,
)
from tracker_annotate.tracking.passes import LEFT_VIS, StepSignals, TrackPass
from tracker_annotate.tracking.plan import Segment


def box(
    f: int,
    xyxy: np.ndarray,
    conf: float,
    reason: str,
    config: TrackerConfig,
    *,
    source: BoxSource = BoxSource.TRACKED,
    force_flag: bool = False,
) -> FrameBox:
    conf = float(np.clip(conf, 0.0, 1.0))
    flagged = force_flag or conf < config.flag_threshold
    return FrameBox(
        f,
        BoxXYXY.from_array(xyxy),
        source=source,
        confidence=conf,
        flagged=flagged,
        flag_reason=reason if flagged else "",
    )


def assemble(  # noqa: PLR0917 - internal, called in one place
    seg: Segment,
    passes: dict[tuple[int, int, int], TrackPass],
    config: TrackerConfig,
    cancelled: bool,
    feats: dict[int, Any],
    reasons: dict[int, str],
) -> list[FrameBox]:
    info = backend(config.tracker)
    if info.self_contained or not info.visual:
        return _assemble_fused(seg, passes, config, cancelled, feats, reasons)
    tid = seg.track_id
    a = seg.a
    fp = passes.get((tid, a.frame, +1)) if not a.outside else None
    bp = passes.get((tid, seg.b.frame, -1)) if seg.b is not None and not seg.b.outside else None
    fwd_by: dict[int, StepSignals] = {s.frame: s for s in fp.out} if fp is not None else {}
    bwd_by: dict[int, StepSignals] = {s.frame: s for s in bp.out} if bp is not None else {}
    if seg.b is None:  # extension: forward only, flag how it ended
        return _assemble_extension(seg, fp, config, cancelled)
    b = seg.b
    out: dict[int, FrameBox] = {}
    for f in range(a.frame + 1, b.frame):
        t = (f - a.frame) / (b.frame - a.frame)
        got = cm.blend_pair(fwd_by.get(f), bwd_by.get(f), t)
        if got is None:
            continue
        xyxy, conf, reason, disagree = got
        out[f] = box(f, xyxy, conf, reason, config, force_flag=disagree)
    if not a.outside and not b.outside and not cancelled:
        _fill_gaps(out, a, b, config)
    return [out[f] for f in sorted(out)]


def split_starts(x: np.ndarray) -> np.ndarray:
    """Rows (consecutive frames of one path) where a committee member leaves the majority:
    the members all agreed on the frame before and no longer do. That is where a tracker
    jumps to a look-alike, so it is flagged by rule, one look per split, like the start of
    an overlap. (Leave-one-sequence-out on the 18 shared sequences, this rule raised the
    share of failure runs caught at the default threshold from 48.5% to 60.2% for 4% more
    flags; ``benchmarks/results/confidence-committee.md``.)"""
    oc = x[:, FEATURES.index("on_choice")]
    present = oc > 0  # 0: not a committee box (other back-ends, the straight line)
    prev = np.concatenate([[1.0], oc[:-1]])
    prev_present = np.concatenate([[True], present[:-1]])
    out: np.ndarray = present & (oc < 1.0) & (prev >= 1.0) & prev_present
    return out


def calibrated(fused: list[FusedBox], config: TrackerConfig) -> list[float]:
    """The calibrated confidence of each fused box (0 where the frame was unreadable)."""
    if not fused:
        return []
    model = model_for(config.tracker)
    x = np.stack([fb.features for fb in fused])
    conf = model.predict(x)
    split = split_starts(x)
    cap = config.assoc.overlap_cap(config.flag_threshold)
    for i, fb in enumerate(fused):
        if split[i] and not fb.unreadable and not fb.reacquired:
            conf[i] = min(conf[i], cap)
            fb.reason = REASON_SPLIT
        if fb.unreadable:
            conf[i] = 0.0
            fb.reason = cm.REASON_UNREADABLE
        elif fb.reacquired:
            conf[i] = min(conf[i], cm.REACQUIRE_CONF)
            fb.reason = cm.REASON_REACQUIRED
    return [float(c) for c in conf]


def _assemble_fused(  # noqa: PLR0917 - internal, called in one place
    seg: Segment,
    passes: dict[tuple[int, int, int], TrackPass],
    config: TrackerConfig,
    cancelled: bool,
    feats: dict[int, Any],
    reasons: dict[int, str],
) -> list[FrameBox]:
    """Self-contained and non-visual back-ends: fusion between keyframes
    (:func:`.fusion.fuse_segment`), the calibrated confidence on every box."""
    tid, a, b = seg.track_id, seg.a, seg.b
    info = backend(config.tracker)
    fp = passes.get((tid, a.frame, +1)) if not a.outside else None
    if fp is not None:
        window_evidence(fp.out)
    if b is None:
        if fp is None or not fp.out:
            return []
        fused = extension_boxes(_extension_steps(fp))
        confs = calibrated(fused, config)
        out = []
        for fb, conf in zip(fused, confs, strict=True):
            feats[fb.frame] = fb.features
            reasons[fb.frame] = fb.reason
            out.append(box(fb.frame, fb.xyxy, conf, fb.reason, config))
        if out and not cancelled and fp.done and fp.end_reason != "stop":
            last = out[-1]
            reason = cm.REASON_LEFT if fp.end_reason == "left" else cm.REASON_END
            conf = (
                last.confidence
                if fp.end_reason == "left"
                else min(last.confidence, config.assoc.lost_end_conf)
            )
            out[-1] = last.with_(flagged=True, flag_reason=reason, confidence=conf)
        return out
    bp = passes.get((tid, b.frame, -1)) if not b.outside else None
    if bp is not None:
        window_evidence(bp.out)
    if a.outside or b.outside:  # entering or leaving: the one pass there is, as it ended
        one = fp if fp is not None else bp
        if one is None or not one.out:
            return []
        fused = extension_boxes(list(one.out))
        fused = [x for x in fused if a.frame < x.frame < b.frame]
    elif not info.visual:
        fused = line_segment(a.frame, a.xyxy.to_array(), b.frame, b.xyxy.to_array())
    else:
        fwd_by = {s.frame: s for s in fp.out} if fp is not None else {}
        bwd_by = {s.frame: s for s in bp.out} if bp is not None else {}
        fused = fuse_segment(
            a.frame,
            a.xyxy.to_array(),
            b.frame,
            b.xyxy.to_array(),
            fwd_by,
            bwd_by,
            config.fusion,
        )
        if cancelled:
            fused = [x for x in fused if x.frame in fwd_by or x.frame in bwd_by]
    confs = calibrated(fused, config)
    out = []
    for fb, conf in zip(fused, confs, strict=True):
        feats[fb.frame] = fb.features
        reasons[fb.frame] = fb.reason
        src = BoxSource.INTERPOLATED if fb.source == "line" else BoxSource.TRACKED
        out.append(box(fb.frame, fb.xyxy, conf, fb.reason, config, source=src))
    return out


def _fill_gaps(out: dict[int, FrameBox], a: FrameBox, b: FrameBox, config: TrackerConfig) -> None:
    """Both passes lost the object somewhere: interpolate across the hole, flagged."""
    known = {a.frame: a.xyxy.to_array(), b.frame: b.xyxy.to_array()}
    known.update({f: bx.xyxy.to_array() for f, bx in out.items()})
    frames = sorted(known)
    for lo, hi in itertools.pairwise(frames):
        for f in range(lo + 1, hi):
            t = (f - lo) / (hi - lo)
            xyxy = (1 - t) * known[lo] + t * known[hi]
            out[f] = box(
                f,
                xyxy,
                config.assoc.gap_conf,
                cm.REASON_GAP,
                config,
                source=BoxSource.INTERPOLATED,
                force_flag=True,
            )


def _extension_steps(fp: TrackPass) -> list[StepSignals]:
    """The steps of a pass past the last keyframe that are kept, as it ended.

    Lost: coasted guesses after the last real sighting are dropped, except boxes another
    track claimed (they stay, flagged, so the annotator sees the collision); a track lost
    right after its keyframe keeps its first guess, flagged as the end, or it would stop at
    the keyframe with nothing shown to anyone. Left: boxes mostly outside, and those a
    self-contained back-end left parked on the border after the object left, are dropped.
    """
    sigs = list(fp.out)
    if fp.end_reason == "lost":
        while len(sigs) > 1 and sigs[-1].coasted > 0 and not sigs[-1].conflict:
            sigs.pop()
    elif fp.end_reason == "left":
        parked = fp.border_run
        while len(sigs) > 1 and (sigs[-1].vis < LEFT_VIS or parked > 0):
            sigs.pop()
            parked -= 1
    return sigs


def _assemble_extension(
    seg: Segment, fp: TrackPass | None, config: TrackerConfig, cancelled: bool
) -> list[FrameBox]:
    if fp is None or not fp.out:
        return []
    out = []
    for s in _extension_steps(fp):
        conf, reason = cm.step_confidence(s)
        out.append(box(s.frame, s.xyxy, conf, reason, config))
    if out and not cancelled and fp.done and fp.end_reason != "stop":
        last = out[-1]
        reason = cm.REASON_LEFT if fp.end_reason == "left" else cm.REASON_END
        conf = (
            last.confidence
            if fp.end_reason != "lost"
            else min(last.confidence, config.assoc.lost_end_conf)
        )
        out[-1] = last.with_(flagged=True, flag_reason=reason, confidence=conf)
    return out


def flag_overlaps(project: Project, run: TrackingRun, config: TrackerConfig) -> None:
    """Flag derived boxes that sit on another track's box ("two tracks on one object").

    The frame-by-frame check in :func:`_step_frame` only sees the tracks of this run; a
    re-track after an edit runs one track, so a pass that followed an occluder onto a
    neighbour whose boxes are already in the project went unnoticed, often with both of its
    passes agreeing on the wrong object. Other tracks' boxes here are their keyframes, their
    derived boxes outside what this run replaces, and this run's own boxes.

    Where an overlap starts ("two tracks on one object") and where it ends ("tracks
    parted") the box is flagged by rule, at every flag threshold: its confidence is capped
    at :meth:`.params.AssocParams.overlap_cap` (``overlap_conf``, and ``overlap_margin``
    below ``config.flag_threshold``), so it also ranks below the threshold.
    """
    p = config.assoc
    cap = p.overlap_cap(config.flag_threshold)
    new = {tid: {b.frame: b for b in boxes} for tid, boxes in run.boxes.items()}
    tids = list(project.tracks)
    frames = sorted({f for by in new.values() for f in by})
    on_frame: dict[int, list[tuple[int, np.ndarray]]] = {}  # every track's box once installed
    for f in frames:
        here = []
        for tid in tids:
            b = project.box(tid, f)
            span = run.spans.get(tid)
            if span is not None and span[0] <= f <= span[1] and (b is None or b.is_derived):
                b = new.get(tid, {}).get(f)
            if b is not None and not b.outside:
                here.append((tid, b.xyxy.to_array()))
        on_frame[f] = here
    for tid, boxes in run.boxes.items():
        hit = np.zeros(len(boxes), dtype=bool)
        overlap = np.zeros(len(boxes))
        for i, b in enumerate(boxes):
            theirs = [xyxy for o, xyxy in on_frame[b.frame] if o != tid]
            if theirs:
                iou = iou_matrix(b.xyxy.to_array()[None], np.stack(theirs))
                overlap[i] = float(iou.max())
                hit[i] = overlap[i] >= p.conflict_iou
        _rescore_with_overlap(run, tid, boxes, overlap, config)
        # One look where an overlap starts and one where it ends (identity switches happen
        # when the objects part), not a flag on every frame two objects walk together.
        for i, b in enumerate(boxes):
            before = i > 0 and hit[i - 1] and boxes[i - 1].frame == b.frame - 1
            if hit[i] and not before:
                reason = cm.REASON_CONFLICT
            elif before and not hit[i]:
                reason = cm.REASON_PARTED
            else:
                continue
            boxes[i] = b.with_(confidence=min(b.confidence, cap), flagged=True, flag_reason=reason)


#: Flag reasons set by a rule (not by the confidence): a re-score keeps them.
_RULE_REASONS = frozenset(
    {
        cm.REASON_END,
        cm.REASON_LEFT,
        cm.REASON_REACQUIRED,
        cm.REASON_UNREADABLE,
        cm.REASON_GAP,
        REASON_SPLIT,
    }
)


def _rescore_with_overlap(
    run: TrackingRun, tid: int, boxes: list[FrameBox], overlap: np.ndarray, config: TrackerConfig
) -> None:
    """Calibrated boxes get their last evidence, the overlap with other tracks' boxes (in a
    crowd, where identities switch), and their confidence is computed again with it."""
    feats = run.features.get(tid)
    if not feats:
        return
    col = FEATURES.index("overlap")
    idx = [i for i, b in enumerate(boxes) if b.frame in feats]
    if not idx:
        return
    x = np.stack([feats[boxes[i].frame] for i in idx])
    x[:, col] = overlap[idx]
    conf = model_for(config.tracker).predict(x)
    reasons = run.reasons.get(tid, {})
    for k, i in enumerate(idx):
        b = boxes[i]
        feats[b.frame] = x[k]
        c = float(np.clip(conf[k], 0.0, 1.0))
        if b.flagged and b.flag_reason in _RULE_REASONS:
            boxes[i] = b.with_(confidence=min(c, b.confidence))
            continue
        flagged = c < config.flag_threshold
        reason = reasons.get(b.frame, cm.REASON_DRIFT)
        if flagged and overlap[i] >= config.assoc.conflict_iou:
            reason = cm.REASON_CONFLICT
        boxes[i] = b.with_(confidence=c, flagged=flagged, flag_reason=reason if flagged else "")
