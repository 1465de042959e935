"""Frame-major sweeps: every pass of a run steps through the frames together.

Each frame is decoded and converted to grayscale once and shared by all the passes on it;
on each frame the passes propose, the tracks are looked at together (cross-track conflicts,
matched detections: :mod:`.assoc`), and the passes commit. With ``config.threads`` > 1 the
proposals of one frame (the networks, most of the work) are split between the sweep's
thread and a worker pool, and the next frame is decoded ahead on a thread of its own; the
commits stay in order on the sweep's thread, so the boxes are those of one thread. The
forward and backward sweeps run side by side, each reading from its own handle on the
media, and their progress and provisional boxes stream to the caller.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

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
from tracker_annotate.tracking.passes import Candidate, StepSignals, TrackPass

log = logging.getLogger(__name__)


def read_frame(source: FrameSource, f: int) -> FrameData:
    return FrameData(f, source.read(f))


#: Object-frames below which a run stays on one thread (a thread and a second decoder
#: cost more than they save on a short re-track).
PARALLEL_MIN_WORK = 200


def sweep_groups(fwd: list[TrackPass], bwd: list[TrackPass]) -> list[tuple[list[TrackPass], int]]:
    """Independent frame-major sweeps: forward and backward.

    (Splitting the tracks into halves, each sweep decoding the frames again, was measured
    slower than sharing each frame's proposals between threads: 212-222 against 247-255
    object-frames/s for ten objects at 720p.)"""
    return [(g, step) for g, step in ((fwd, +1), (bwd, -1)) if g]


class FrameFeed:
    """A sweep's frames, each decoded (and its grayscale pyramid built) one step ahead on a
    thread of its own while the passes work on the current one. All reads of the source
    go through that thread, one at a time; a frame off the expected path (the sweep jumps
    to the next pass's start) is simply read there too."""

    #: Pyramid levels built ahead (the LK step uses levels 0-3).
    LEVELS = 3

    def __init__(self, source: FrameSource, step: int) -> None:
        self._source, self._step = source, step
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="decode")
        self._ahead: tuple[int, Future[FrameData]] | None = None

    def _load(self, f: int) -> FrameData:
        fd = read_frame(self._source, f)
        fd.level(self.LEVELS)
        return fd

    def read(self, f: int) -> FrameData:
        got = self._ahead[1] if self._ahead is not None and self._ahead[0] == f else None
        if got is None:
            if self._ahead is not None:  # a frame off the path: let the read-ahead finish
                with contextlib.suppress(Exception):
                    self._ahead[1].result()
            got = self._pool.submit(self._load, f)
        nxt = f + self._step
        self._ahead = None
        if 0 <= nxt < self._source.n_frames:
            self._ahead = (nxt, self._pool.submit(self._load, nxt))
        return got.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def run_sweeps(
    source: FrameSource,
    groups: list[tuple[list[TrackPass], int]],
    config: TrackerConfig,
    detections: DetectionSource | None,
    state: Progress,
) -> None:
    """Run the sweeps, in parallel threads when there are several (OpenCV releases the GIL;
    each thread decodes from its own handle on the media), with ``config.threads`` - 1
    workers sharing each frame's proposals when the run is big enough to pay for them."""
    work = sum(p.plan.n_steps for g, _ in groups for p in g)
    pool = (
        ThreadPoolExecutor(config.threads - 1, thread_name_prefix="propose")
        if config.threads > 1 and work >= PARALLEL_MIN_WORK
        else None
    )
    try:
        _run_groups(source, groups, config=config, detections=detections, state=state, pool=pool)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def _run_groups(
    source: FrameSource,
    groups: list[tuple[list[TrackPass], int]],
    *,
    config: TrackerConfig,
    detections: DetectionSource | None,
    state: Progress,
    pool: ThreadPoolExecutor | None,
) -> None:
    def sweep(src: FrameSource, g: list[TrackPass], step: int) -> None:
        _sweep(
            source=src,
            passes=g,
            step=step,
            config=config,
            detections=detections,
            state=state,
            pool=pool,
        )

    if len(groups) <= 1 or config.threads <= 1:
        for g, step in groups:
            if not state.cancelled:
                sweep(source, g, step)
        return
    errors: list[BaseException] = []

    def work(g: list[TrackPass], step: int, src: FrameSource) -> None:
        try:
            sweep(src, g, step)
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
    pool: ThreadPoolExecutor | None = None,
) -> None:
    """Run ``passes`` (all in direction ``step``) frame-major."""
    if not passes:
        return
    if pool is None:
        _sweep_frames(
            lambda f: read_frame(source, f),
            passes,
            step,
            config=config,
            detections=detections,
            state=state,
            pool=None,
        )
        return
    feed = FrameFeed(source, step)
    try:
        _sweep_frames(
            feed.read, passes, step, config=config, detections=detections, state=state, pool=pool
        )
    finally:
        feed.close()


def _sweep_frames(
    read: Callable[[int], FrameData],
    passes: list[TrackPass],
    step: int,
    *,
    config: TrackerConfig,
    detections: DetectionSource | None,
    state: Progress,
    pool: ThreadPoolExecutor | None,
) -> None:
    pending = sorted(passes, key=lambda p: p.plan.start * step)
    active: list[TrackPass] = []
    i = 0
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
                fd: FrameData | None = read(f)
            except MediaError as exc:
                if starting:
                    raise TrackingError(f"keyframe frame {f} cannot be decoded: {exc}") from exc
                log.warning("frame %d cannot be decoded, coasting: %s", f, exc)
                fd = None
            if fd is None:
                for p in running:
                    p.skip(f)
            else:
                _step_frame(fd, running, config, detections, pool)
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
    pool: ThreadPoolExecutor | None = None,
) -> None:
    if not running:
        return
    cands = _propose_all(fd, running, pool, config.threads)
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


def _propose_all(
    fd: FrameData, running: list[TrackPass], pool: ThreadPoolExecutor | None, threads: int
) -> list[Candidate]:
    """Every pass's proposal on ``fd``, in ``running`` order. With a pool, every other pass
    proposes on the pool's workers while this thread does the rest (each pass touches only
    its own state and reads the shared frame)."""
    if pool is None or len(running) < 2:
        return [p.propose(fd) for p in running]
    n = min(threads, len(running))  # the pool has threads - 1 workers
    shares = [running[k::n] for k in range(n)]
    futures = [pool.submit(_propose_share, fd, share) for share in shares[1:]]
    done = [_propose_share(fd, shares[0])] + [fu.result() for fu in futures]
    out: list[Candidate] = [None] * len(running)  # type: ignore[list-item]
    for k, cands in enumerate(done):
        out[k::n] = cands
    return out


def _propose_share(fd: FrameData, share: list[TrackPass]) -> list[Candidate]:
    return [p.propose(fd) for p in share]
