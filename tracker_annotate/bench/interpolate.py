"""CVAT-style linear interpolation between keyframes, behind the tracking engine's interface.

CVAT, Label Studio and VATIC fill the frames between two keyframes of a track by moving
each ``xyxy`` coordinate linearly; a keyframe marked ``outside`` ends the visible run until
the next keyframe. :class:`LinearInterpolationEngine` does exactly that and reads nothing
but the project's keyframes, so the benchmark runs the interpolation baseline through the
same loop as the tracker.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import numpy.typing as npt

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import Project
from tracker_annotate.tracking.api import (
    CancelToken,
    ProgressCallback,
    TrackerConfig,
    TrackingRun,
)

FloatArray = npt.NDArray[np.float64]


def paired_iou(a_xyxy: npt.ArrayLike, b_xyxy: npt.ArrayLike) -> FloatArray:
    """Row-wise IoU of two ``(N, 4)`` xyxy arrays (row ``i`` of ``a`` with row ``i`` of
    ``b``). A row of NaN in either (a missing box) scores 0."""
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = union - inter
    ok = np.isfinite(inter) & np.isfinite(union) & (union > 0)
    out: FloatArray = np.zeros(a.shape[0], dtype=np.float64)
    out[ok] = inter[ok] / union[ok]
    return out


def interpolate_xyxy(
    key_frames: npt.ArrayLike, key_xyxy: npt.ArrayLike, frames: npt.ArrayLike
) -> FloatArray:
    """Linear interpolation of xyxy boxes between keyframes, evaluated at ``frames``.

    ``key_frames`` must be strictly increasing; frames outside the keyframe range take the
    nearest keyframe's box (callers only ask inside it).
    """
    kf = np.asarray(key_frames, dtype=np.float64)
    kb = np.asarray(key_xyxy, dtype=np.float64).reshape(-1, 4)
    fr = np.asarray(frames, dtype=np.float64)
    return np.stack([np.interp(fr, kf, kb[:, c]) for c in range(4)], axis=1)


def _segment_boxes(left: FrameBox, right: FrameBox) -> list[FrameBox]:
    """Derived boxes strictly between two keyframes (none after an ``outside`` keyframe)."""
    if left.outside or right.frame - left.frame < 2:
        return []
    frames = np.arange(left.frame + 1, right.frame)
    xyxy = interpolate_xyxy(
        [left.frame, right.frame], [left.xyxy.to_array(), right.xyxy.to_array()], frames
    )
    return [
        FrameBox(int(f), BoxXYXY.from_array(row), BoxSource.INTERPOLATED, 1.0)
        for f, row in zip(frames, xyxy, strict=True)
    ]


class LinearInterpolationEngine:
    """The interpolation baseline with the tracking engine's two entry points.

    ``source`` and ``config`` are accepted for interface parity and ignored: interpolation
    needs no pixels. ``seconds`` accumulates wall time, like a real engine's runs.
    """

    def track_project(
        self,
        project: Project,
        source: FrameSource | None,
        config: TrackerConfig,
        *,
        track_ids: list[int] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> TrackingRun:
        t0 = time.perf_counter()
        run = TrackingRun()
        for tid in track_ids if track_ids is not None else sorted(project.tracks):
            keys = [project.boxes(tid)[f] for f in project.keyframes(tid)]
            if not keys:
                continue
            boxes: list[FrameBox] = []
            for left, right in itertools.pairwise(keys):
                boxes.extend(_segment_boxes(left, right))
            run.boxes[tid] = boxes
            run.spans[tid] = (keys[0].frame, keys[-1].frame)
            run.object_frames += len(boxes)
        run.seconds = time.perf_counter() - t0
        return run

    def retrack_after_edit(
        self,
        project: Project,
        source: FrameSource | None,
        config: TrackerConfig,
        track_id: int,
        frame: int,
    ) -> TrackingRun:
        """Recompute only the two segments that touch the keyframe on ``frame``."""
        t0 = time.perf_counter()
        keyframes = project.keyframes(track_id)
        boxes_by_frame = project.boxes(track_id)
        before = [f for f in keyframes if f < frame]
        after = [f for f in keyframes if f > frame]
        lo = before[-1] if before else frame
        hi = after[0] if after else frame
        keys = [boxes_by_frame[f] for f in keyframes if lo <= f <= hi]
        boxes: list[FrameBox] = []
        for left, right in itertools.pairwise(keys):
            boxes.extend(_segment_boxes(left, right))
        run = TrackingRun(boxes={track_id: boxes}, spans={track_id: (lo, hi)})
        run.object_frames = len(boxes)
        run.seconds = time.perf_counter() - t0
        return run
