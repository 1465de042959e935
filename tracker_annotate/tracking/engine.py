"""The tracking engine: keyframes in, derived boxes with confidence and flags out.

:func:`track_project` plans passes from each track's keyframes (:mod:`.plan`), runs every
forward pass in one frame-major sweep and every backward pass in another (each frame is
decoded and converted to grayscale once, shared by all tracks on it: :mod:`.sweep`), looks
across tracks on every frame (conflicts, detections: :mod:`.assoc`), then turns each
segment's passes into boxes with confidence and flags (:mod:`.assemble`, :mod:`.fusion`,
:mod:`.calibration`).

The project is only read: keyframes (manual or verified boxes, including *outside* markers).
Install the result with :func:`tracker_annotate.tracking.api.apply_run`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.errors import MediaError, TrackingError
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import Project
from tracker_annotate.tracking.api import (
    CancelToken,
    PartialCallback,
    ProgressCallback,
    TrackerConfig,
    TrackingRun,
)
from tracker_annotate.tracking.appearance import Template
from tracker_annotate.tracking.assemble import assemble, flag_overlaps
from tracker_annotate.tracking.assoc import (
    DetectionSource,
    build_proposals,
)
from tracker_annotate.tracking.backends import backend
from tracker_annotate.tracking.passes import TrackPass
from tracker_annotate.tracking.plan import (
    Segment,
    passes_for,
    segments_for,
    track_keyframes,
)
from tracker_annotate.tracking.sweep import Progress, read_frame, run_sweeps, sweep_groups

log = logging.getLogger(__name__)

__all__ = ["retrack_after_edit", "track_project"]

#: Keyframe templates a pass compares against (its own ends first, then the nearest others).
MAX_TEMPLATES = 4


def track_project(
    project: Project,
    source: FrameSource,
    config: TrackerConfig = TrackerConfig(),  # noqa: B008 - frozen, so sharing is safe
    *,
    track_ids: Iterable[int] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    on_partial: PartialCallback | None = None,
    detections: DetectionSource | None = None,
    focus: int | None = None,
) -> TrackingRun:
    """Track every requested track (default: all) from its keyframes.

    ``focus`` (the frame the annotator is looking at) is worked on first: for self-contained
    back-ends the passes whose stretch holds it run (and stream) before all others. The
    boxes are the same either way; only the order of the work changes.

    ``spans[tid]`` is ``(first keyframe, last frame)``: derived boxes there are replaced.
    Tracks without keyframes are left alone. ``detections`` (see
    :class:`tracker_annotate.tracking.assoc.DetectionSource`) are used as extra measurements,
    and the confident ones no track explains become ``run.proposed`` tracks.
    """
    n = source.n_frames
    tids = sorted(project.tracks) if track_ids is None else list(track_ids)
    segs: dict[int, list[Segment]] = {}
    spans: dict[int, tuple[int, int]] = {}
    for tid in tids:
        if tid not in project.tracks:
            raise TrackingError(f"no track {tid} in the project")
        kfs = track_keyframes(project, tid, n, source.width, source.height)
        if not kfs:
            continue
        segs[tid] = segments_for(kfs, tid, n, config.extend)
        spans[tid] = (kfs[0].frame, n - 1)
    return _run(
        project=project,
        source=source,
        config=config,
        segs=segs,
        spans=spans,
        progress=progress,
        cancel=cancel,
        on_partial=on_partial,
        detections=detections,
        focus=focus,
    )


def retrack_after_edit(
    project: Project,
    source: FrameSource,
    config: TrackerConfig,
    track_id: int,
    frame: int,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TrackingRun:
    """Recompute only what an edit on ``frame`` of ``track_id`` can change.

    The span is (previous keyframe or ``frame``) .. (next keyframe, or the last frame): the
    segment(s) adjacent to the edited frame, whether a keyframe was added, moved or deleted.
    """
    n = source.n_frames
    if track_id not in project.tracks:
        raise TrackingError(f"no track {track_id} in the project")
    kfs = track_keyframes(project, track_id, n, source.width, source.height)
    before = [k.frame for k in kfs if k.frame < frame]
    after = [k.frame for k in kfs if k.frame > frame]
    lo = before[-1] if before else frame
    hi = after[0] if after else n - 1
    all_segs = segments_for(kfs, track_id, n, config.extend)
    segs = {track_id: [s for s in all_segs if lo <= s.a.frame and s.end <= hi]}
    return _run(
        project=project,
        source=source,
        config=config,
        segs=segs,
        spans={track_id: (lo, hi)},
        progress=progress,
        cancel=cancel,
        on_partial=None,
        detections=None,
        focus=None,
    )


# ------------------------------------------------------------------------------ internals


def _templates(
    project: Project, source: FrameSource, segs: dict[int, list[Segment]]
) -> dict[int, dict[int, Template]]:
    """Keyframe templates per track (only keyframes some segment uses), frame-ordered reads."""
    need: dict[int, list[tuple[int, FrameBox]]] = {}
    for tid, ss in segs.items():
        kf_frames = sorted(project.keyframes(tid))
        for f in kf_frames:
            b = project.box(tid, f)
            if b is not None and not b.outside and ss:
                need.setdefault(f, []).append((tid, b))
    out: dict[int, dict[int, Template]] = {tid: {} for tid in segs}
    for f in sorted(need):
        try:
            fd = read_frame(source, f)
        except MediaError as exc:
            tids = sorted({tid for tid, _ in need[f]})
            raise TrackingError(
                f"keyframe frame {f} (0-based) of track(s) {tids} cannot be decoded: {exc}"
            ) from exc
        for tid, b in need[f]:
            out[tid][f] = Template.from_box(fd.gray, b.xyxy.to_array(), f)
    return out


def _pass_templates(temps: dict[int, Template], ends: list[int]) -> list[Template]:
    ordered = [temps[f] for f in ends if f in temps]
    rest = sorted(
        (t for f, t in temps.items() if f not in ends),
        key=lambda t: min(abs(t.frame - e) for e in ends),
    )
    return (ordered + rest)[:MAX_TEMPLATES]


def _run(
    *,
    project: Project,
    source: FrameSource,
    config: TrackerConfig,
    segs: dict[int, list[Segment]],
    spans: dict[int, tuple[int, int]],
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    on_partial: PartialCallback | None,
    detections: DetectionSource | None,
    focus: int | None,
) -> TrackingRun:
    t0 = time.perf_counter()
    info = backend(config.tracker)
    temps = _templates(project, source, segs) if info.visual else {tid: {} for tid in segs}
    passes: dict[tuple[int, int, int], TrackPass] = {}  # (tid, start, step)
    for tid, ss in segs.items():
        for seg in ss:
            ends = [seg.a.frame] + ([seg.b.frame] if seg.b is not None else [])
            for plan in passes_for(seg):
                if not info.visual:
                    continue
                own = [plan.start] + [e for e in ends if e != plan.start]
                passes[(tid, plan.start, plan.step)] = TrackPass(
                    plan,
                    config.tracker,
                    _pass_templates(temps[tid], own),
                    config.max_coast_frames,
                    params=config.cascade,
                    kalman_params=config.kalman,
                    lost_after=config.fusion.lost_after,
                    config=config,
                )
    total = sum(p.plan.n_steps for p in passes.values())
    state = Progress(total, progress, cancel, on_partial, config)
    for phase in focus_phases(list(passes.values()), focus, info.self_contained):
        fwd = [p for p in phase if p.plan.step > 0]
        bwd = [p for p in phase if p.plan.step < 0]
        groups = sweep_groups(fwd, bwd)
        run_sweeps(source, groups, config, detections, state)
    searched = sum(getattr(p, "searches", 0) for p in passes.values())
    log.debug("%d object-frames, heavier search on %d", state.done, searched)
    run = TrackingRun(cancelled=state.cancelled)
    for tid, ss in segs.items():
        boxes: list[FrameBox] = []
        feats: dict[int, Any] = {}
        reasons: dict[int, str] = {}
        for seg in ss:
            boxes.extend(assemble(seg, passes, config, state.cancelled, feats, reasons))
        if feats:
            run.features[tid] = feats
            run.reasons[tid] = reasons
        boxes.sort(key=lambda b: b.frame)
        run.boxes[tid] = boxes
        lo, hi = spans[tid]
        if state.cancelled:  # keep what was there beyond what we finished
            hi = max([b.frame for b in boxes], default=lo)
        run.spans[tid] = (lo, hi)
    for tid, span in spans.items():
        if tid not in run.spans:
            run.boxes[tid] = []
            run.spans[tid] = span
    flag_overlaps(project, run, config)
    if on_partial is not None:
        for tid in segs:
            on_partial(tid, run.boxes[tid])
    if detections is not None and not state.cancelled:
        run.proposed = _proposals(project, run, source.n_frames, config, detections)
    run.object_frames = state.done
    run.seconds = time.perf_counter() - t0
    return run


def focus_phases(
    passes: list[TrackPass], focus: int | None, self_contained: bool
) -> list[list[TrackPass]]:
    """The passes in the order to run them: those whose stretch holds ``focus`` first.

    Only self-contained back-ends are split: each pass of theirs goes its own way, so the
    order cannot change a box. The others look at the tracks together on each frame (a
    cross-track conflict vetoes a step), which needs every pass on that frame in one sweep.
    """
    if focus is None or not self_contained:
        return [passes]
    near = [
        p
        for p in passes
        if min(p.plan.start, p.plan.stop) <= focus <= max(p.plan.start, p.plan.stop)
    ]
    taken = {id(p) for p in near}
    rest = [p for p in passes if id(p) not in taken]
    return [g for g in (near, rest) if g]


def _proposals(
    project: Project,
    run: TrackingRun,
    n_frames: int,
    config: TrackerConfig,
    detections: DetectionSource | None,
) -> list[list[FrameBox]]:
    occupied: dict[int, list[np.ndarray]] = {}
    for tid in project.tracks:
        for f, b in project.boxes(tid).items():
            if b.outside:
                continue
            if tid in run.boxes and b.is_derived and run.spans[tid][0] <= f <= run.spans[tid][1]:
                continue
            occupied.setdefault(f, []).append(b.xyxy.to_array())
    for boxes in run.boxes.values():
        for b in boxes:
            occupied.setdefault(b.frame, []).append(b.xyxy.to_array())
    return build_proposals(
        detections,
        n_frames,
        occupied,
        min_score=config.proposal_score,
        min_iou=config.detection_iou,
        params=config.assoc,
    )
