"""The tracking engine: keyframes in, derived boxes with confidence and flags out.

:func:`track_project` plans passes from each track's keyframes (:mod:`.plan`), runs every
forward pass in one frame-major sweep and every backward pass in another (each frame is
decoded and converted to grayscale once, shared by all tracks on it), looks across tracks on
every frame (conflicts, detections: :mod:`.assoc`), then blends each keyframe-to-keyframe
segment's two passes and turns the signals into confidence and flags (:mod:`.confidence`).

The project is only read: keyframes (manual or verified boxes, including *outside* markers).
Install the result with :func:`tracker_annotate.tracking.api.apply_run`.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox, iou_matrix
from tracker_annotate.core.errors import MediaError, TrackingError
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import Project
from tracker_annotate.tracking import confidence as cm
from tracker_annotate.tracking.api import (
    CancelToken,
    PartialCallback,
    ProgressCallback,
    TrackerConfig,
    TrackingRun,
)
from tracker_annotate.tracking.appearance import Template
from tracker_annotate.tracking.assoc import (
    CONFLICT_IOU,
    build_proposals,
    detections_at,
    find_conflicts,
    match_detections,
)
from tracker_annotate.tracking.backends import backend
from tracker_annotate.tracking.calibration import FEATURES, load_model
from tracker_annotate.tracking.fusion import FusedBox, extension_boxes, fuse_segment, line_segment
from tracker_annotate.tracking.measure import FrameData
from tracker_annotate.tracking.passes import LEFT_VIS, StepSignals, TrackPass
from tracker_annotate.tracking.plan import (
    Segment,
    passes_for,
    segments_for,
    track_keyframes,
)

log = logging.getLogger(__name__)

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
    detections: Any = None,
) -> TrackingRun:
    """Track every requested track (default: all) from its keyframes.

    ``spans[tid]`` is ``(first keyframe, last frame)``: derived boxes there are replaced.
    Tracks without keyframes are left alone. ``detections`` (see
    :func:`tracker_annotate.tracking.assoc.detections_at`) are used as extra measurements,
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
    )


# ------------------------------------------------------------------------------ internals


def _read(source: FrameSource, f: int) -> FrameData:
    return FrameData(f, source.read(f))


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
            fd = _read(source, f)
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
    detections: Any,
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
                )
    total = sum(p.plan.n_steps for p in passes.values())
    state = _Progress(total, progress, cancel, on_partial, config)
    fwd = [p for p in passes.values() if p.plan.step > 0]
    bwd = [p for p in passes.values() if p.plan.step < 0]
    groups = _sweep_groups(fwd, bwd, config, info.self_contained)
    _run_sweeps(source, groups, config, detections, state)
    searched = sum(getattr(p, "searches", 0) for p in passes.values())
    log.debug("%d object-frames, heavier search on %d", state.done, searched)
    run = TrackingRun(cancelled=state.cancelled)
    for tid, ss in segs.items():
        boxes: list[FrameBox] = []
        feats: dict[int, Any] = {}
        reasons: dict[int, str] = {}
        for seg in ss:
            boxes.extend(_assemble(seg, passes, config, state.cancelled, feats, reasons))
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
    _flag_overlaps(project, run, config)
    if on_partial is not None:
        for tid in segs:
            on_partial(tid, run.boxes[tid])
    if detections is not None and not state.cancelled:
        run.proposed = _proposals(project, run, source.n_frames, config, detections)
    run.object_frames = state.done
    run.seconds = time.perf_counter() - t0
    return run


#: Object-frames below which a run stays on one thread (a thread and a second decoder
#: cost more than they save on a short re-track).
PARALLEL_MIN_WORK = 200


def _sweep_groups(
    fwd: list[TrackPass], bwd: list[TrackPass], config: TrackerConfig, by_track: bool
) -> list[tuple[list[TrackPass], int]]:
    """Independent frame-major sweeps: forward and backward, and for back-ends that need no
    cross-track veto (self-contained ones), halves of the tracks, up to ``config.threads``."""
    groups = [(g, step) for g, step in ((fwd, +1), (bwd, -1)) if g]
    work = sum(p.plan.n_steps for g, _ in groups for p in g)
    if config.threads <= 1 or work < PARALLEL_MIN_WORK:
        return groups
    while by_track and len(groups) < config.threads:
        big = max(range(len(groups)), key=lambda i: sum(p.plan.n_steps for p in groups[i][0]))
        g, step = groups[big]
        tids = sorted({p.plan.track_id for p in g})
        if len(tids) < 2:
            break
        half = set(tids[: len(tids) // 2])
        groups[big] = ([p for p in g if p.plan.track_id in half], step)
        groups.append(([p for p in g if p.plan.track_id not in half], step))
    return groups


def _run_sweeps(
    source: FrameSource,
    groups: list[tuple[list[TrackPass], int]],
    config: TrackerConfig,
    detections: Any,
    state: _Progress,
) -> None:
    """Run the sweeps, in parallel threads when there are several (OpenCV releases the GIL;
    each thread decodes from its own handle on the media)."""
    if len(groups) <= 1 or config.threads <= 1:
        for g, step in groups:
            if not state.cancelled:
                _sweep(
                    source=source,
                    passes=g,
                    step=step,
                    config=config,
                    detections=detections,
                    state=state,
                )
        return
    errors: list[BaseException] = []

    def work(g: list[TrackPass], step: int, src: FrameSource) -> None:
        try:
            _sweep(
                source=src, passes=g, step=step, config=config, detections=detections, state=state
            )
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)
            if state.cancel is None:
                state.cancel = CancelToken()
            state.cancel.cancel()
        finally:
            if src is not source:
                src.close()

    threads = []
    for k, (g, step) in enumerate(groups):
        src = source if k == 0 else source.reopen()
        t = threading.Thread(target=work, args=(g, step, src), name=f"sweep-{k}", daemon=True)
        threads.append(t)
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


#: Seconds between streamed previews of what the passes found (``on_partial``).
STREAM_INTERVAL_S = 0.25


class _Progress:
    def __init__(
        self,
        total: int,
        cb: ProgressCallback | None,
        cancel: CancelToken | None,
        on_partial: PartialCallback | None = None,
        config: TrackerConfig | None = None,
    ) -> None:
        self.total, self.cb, self.cancel = total, cb, cancel
        self.on_partial, self.config = on_partial, config
        self.done = 0
        self._last = 0.0
        self._last_stream = time.perf_counter()
        self._lock = threading.Lock()
        self._stream_lock = threading.Lock()

    def stream(self, running: list[TrackPass]) -> None:
        """Preview the passes' new boxes (provisional: the fusion between keyframes and the
        cross-track checks come at the end of the run, whose boxes replace these)."""
        if self.on_partial is None or self.config is None:
            return
        now = time.perf_counter()
        if now - self._last_stream < STREAM_INTERVAL_S:
            return
        self._last_stream = now
        for p in running:
            new = p.out[p.streamed :]
            p.streamed = len(p.out)
            if new:
                boxes = _preview_boxes(p, new, self.config)
                with self._stream_lock:
                    self.on_partial(p.plan.track_id, boxes)

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.cancelled

    def add(self, k: int) -> None:
        with self._lock:
            self.done += k
        if self.cb is not None:
            now = time.perf_counter()
            if now - self._last > 0.05 or self.done >= self.total:
                self._last = now
                self.cb(self.done, self.total)


def _sweep(
    *,
    source: FrameSource,
    passes: list[TrackPass],
    step: int,
    config: TrackerConfig,
    detections: Any,
    state: _Progress,
) -> None:
    """Run ``passes`` (all in direction ``step``) frame-major."""
    pending = sorted(passes, key=lambda p: p.plan.start * step)
    active: list[TrackPass] = []
    i = 0
    if not pending:
        return
    f = pending[0].plan.start
    while True:
        if state.cancelled:
            return
        starting = []
        while i < len(pending) and pending[i].plan.start == f:
            starting.append(pending[i])
            i += 1
        running = [p for p in active if not p.done]
        if running or starting:
            try:
                fd: FrameData | None = _read(source, f)
            except MediaError as exc:
                if starting:
                    raise TrackingError(f"keyframe frame {f} cannot be decoded: {exc}") from exc
                log.warning("frame %d cannot be decoded, coasting: %s", f, exc)
                fd = None
            if fd is None:
                for p in running:
                    p.skip(f)
            else:
                _step_frame(fd, running, config, detections)
            state.add(len(running))
            state.stream(running)
            for p in starting:
                p.begin(fd)  # type: ignore[arg-type]  # fd is set when starting is non-empty
            active = [p for p in running if not p.done] + [p for p in starting if not p.done]
        if not active:
            if i >= len(pending):
                return
            f = pending[i].plan.start
        else:
            f += step


def _preview_boxes(p: TrackPass, sigs: list[StepSignals], config: TrackerConfig) -> list[FrameBox]:
    if p.info.self_contained:
        fused = extension_boxes(sigs)
        conf = _calibrated(fused, config)
        return [
            _box(fb.frame, fb.xyxy, c, fb.reason, config) for fb, c in zip(fused, conf, strict=True)
        ]
    out = []
    for s in sigs:
        c, reason = cm.step_confidence(s)
        out.append(_box(s.frame, s.xyxy, c, reason, config))
    return out


def _step_frame(
    fd: FrameData, running: list[TrackPass], config: TrackerConfig, detections: Any
) -> None:
    if not running:
        return
    cands = [p.propose(fd) for p in running]
    boxes = np.stack([c.xyxy if c.xyxy is not None else c.pred_xyxy for c in cands])
    tids = [p.plan.track_id for p in running]
    scores = [c.app if c.xyxy is not None else -1.0 for c in cands]
    reject = find_conflicts(boxes, tids, scores, min_iou=0.5)
    det_for: dict[int, tuple[np.ndarray, float]] = {}
    if detections is not None:
        det_xyxy, det_scores = detections_at(detections, fd.index)
        for r, c in match_detections(boxes, det_xyxy, config.detection_iou):
            if r not in reject:
                det_for[r] = (det_xyxy[c], float(det_scores[c]))
    for k, p in enumerate(running):
        d = det_for.get(k)
        p.commit(
            fd,
            reject=k in reject,
            detection_xyxy=None if d is None else d[0],
            detection_score=0.0 if d is None else d[1],
        )


def _box(
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


def _assemble(  # noqa: PLR0917 - internal, called in one place
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
        out[f] = _box(f, xyxy, conf, reason, config, force_flag=disagree)
    if not a.outside and not b.outside and not cancelled:
        _fill_gaps(out, a, b, config)
    return [out[f] for f in sorted(out)]


def _calibrated(fused: list[FusedBox], config: TrackerConfig) -> list[float]:
    """The calibrated confidence of each fused box (0 where the frame was unreadable)."""
    if not fused:
        return []
    model = load_model()
    conf = model.predict(np.stack([fb.features for fb in fused]))
    for i, fb in enumerate(fused):
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
    if b is None:
        if fp is None or not fp.out:
            return []
        fused = extension_boxes(_extension_steps(fp))
        confs = _calibrated(fused, config)
        out = []
        for fb, conf in zip(fused, confs, strict=True):
            feats[fb.frame] = fb.features
            reasons[fb.frame] = fb.reason
            out.append(_box(fb.frame, fb.xyxy, conf, fb.reason, config))
        if out and not cancelled and fp.done:
            last = out[-1]
            reason = cm.REASON_LEFT if fp.end_reason == "left" else cm.REASON_END
            conf = last.confidence if fp.end_reason == "left" else min(last.confidence, 0.3)
            out[-1] = last.with_(flagged=True, flag_reason=reason, confidence=conf)
        return out
    bp = passes.get((tid, b.frame, -1)) if not b.outside else None
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
    confs = _calibrated(fused, config)
    out = []
    for fb, conf in zip(fused, confs, strict=True):
        feats[fb.frame] = fb.features
        reasons[fb.frame] = fb.reason
        src = BoxSource.INTERPOLATED if fb.source == "line" else BoxSource.TRACKED
        out.append(_box(fb.frame, fb.xyxy, conf, fb.reason, config, source=src))
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
            out[f] = _box(
                f, xyxy, 0.1, cm.REASON_GAP, config, source=BoxSource.INTERPOLATED, force_flag=True
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
        out.append(_box(s.frame, s.xyxy, conf, reason, config))
    if out and not cancelled and fp.done:
        last = out[-1]
        reason = cm.REASON_LEFT if fp.end_reason == "left" else cm.REASON_END
        conf = last.confidence if fp.end_reason != "lost" else min(last.confidence, 0.3)
        out[-1] = last.with_(flagged=True, flag_reason=reason, confidence=conf)
    return out


#: Confidence ceiling of such a box (below the default flag threshold).
CONFLICT_CONF = 0.4


def _flag_overlaps(project: Project, run: TrackingRun, config: TrackerConfig) -> None:
    """Flag derived boxes that sit on another track's box ("two tracks on one object").

    The frame-by-frame check in :func:`_step_frame` only sees the tracks of this run; a
    re-track after an edit runs one track, so a pass that followed an occluder onto a
    neighbour whose boxes are already in the project went unnoticed, often with both of its
    passes agreeing on the wrong object. Other tracks' boxes here are their keyframes, their
    derived boxes outside what this run replaces, and this run's own boxes.
    """
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
                hit[i] = overlap[i] >= CONFLICT_IOU
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
            conf = min(b.confidence, CONFLICT_CONF)
            if conf < config.flag_threshold:
                boxes[i] = b.with_(confidence=conf, flagged=True, flag_reason=reason)


#: Flag reasons set by a rule (not by the confidence): a re-score keeps them.
_RULE_REASONS = frozenset(
    {cm.REASON_END, cm.REASON_LEFT, cm.REASON_REACQUIRED, cm.REASON_UNREADABLE, cm.REASON_GAP}
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
    conf = load_model().predict(x)
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
        if flagged and overlap[i] >= CONFLICT_IOU:
            reason = cm.REASON_CONFLICT
        boxes[i] = b.with_(confidence=c, flagged=flagged, flag_reason=reason if flagged else "")


def _proposals(
    project: Project, run: TrackingRun, n_frames: int, config: TrackerConfig, detections: Any
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
    )
