"""Frame-major sweeps: every pass of a run steps through the frames together.

Each frame is decoded and converted to grayscale once and shared by all the passes on it;
on each frame the passes propose, the tracks are looked at together (cross-track conflicts,
matched detections: :mod:`.assoc`), and the passes commit. Independent sweeps (forward and
backward, halves of the tracks) run in parallel threads, each reading from its own handle
on the media, and their progress and provisional boxes stream to the caller.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.errors import MediaError, TrackingError
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.tracking import confidence as cm
from tracker_annotate.tracking.api import (
    CancelToken,
    PartialCallback,
    ProgressCallback,
    TrackerConfig,
)
from tracker_annotate.tracking.assemble import box as _box
from tracker_annotate.tracking.assemble import calibrated
from tracker_annotate.tracking.assoc import (
    DetectionSource,
    detections_at,
    find_conflicts,
    match_detections,
)
from tracker_annotate.tracking.fusion import extension_boxes
from tracker_annotate.tracking.measure import FrameData
from tracker_annotate.tracking.passes import StepSignals, TrackPass

log = logging.getLogger(__name__)


def read_frame(source: FrameSource, f: int) -> FrameData:
    return FrameData(f, source.read(f))


#: Object-frames below which a run stays on one thread (a thread and a second decoder
#: cost more than they save on a short re-track).
PARALLEL_MIN_WORK = 200


def sweep_groups(
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


def run_sweeps(
    source: FrameSource,
    groups: list[tuple[list[TrackPass], int]],
    config: TrackerConfig,
    detections: DetectionSource | None,
    state: Progress,
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


class Progress:
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
    detections: DetectionSource | None,
    state: Progress,
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
                fd: FrameData | None = read_frame(source, f)
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
        conf = calibrated(fused, config)
        return [
            _box(fb.frame, fb.xyxy, c, fb.reason, config) for fb, c in zip(fused, conf, strict=True)
        ]
    out = []
    for s in sigs:
        c, reason = cm.step_confidence(s)
        out.append(_box(s.frame, s.xyxy, c, reason, config))
    return out


def _step_frame(
    fd: FrameData,
    running: list[TrackPass],
    config: TrackerConfig,
    detections: DetectionSource | None,
) -> None:
    if not running:
        return
    cands = [p.propose(fd) for p in running]
    boxes = np.stack([c.xyxy if c.xyxy is not None else c.pred_xyxy for c in cands])
    tids = [p.plan.track_id for p in running]
    scores = [c.app if c.xyxy is not None else -1.0 for c in cands]
    reject = find_conflicts(boxes, tids, scores, min_iou=config.assoc.conflict_iou)
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
