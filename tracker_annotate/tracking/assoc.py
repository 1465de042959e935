"""Across-track reasoning on one frame: IoU matching, conflicts, detections, proposals.

* :func:`find_conflicts`: two tracks whose boxes overlap heavily have probably latched onto
  one object; the one that looks less like its own keyframes is the suspect.
* :func:`match_detections`: SORT-style Hungarian matching (maximum total IoU) of track boxes
  to a model's detections on a frame; matches above ``min_iou`` are extra measurements.
* :func:`build_proposals`: confident detections that match no track, linked frame to frame,
  become proposed tracks once they persist for ``min_hits`` frames.

Detections are read through :func:`detections_at`, which accepts the columnar
``Detections`` container of :mod:`tracker_annotate.core.detections` (``at_frame(f)``
returning an object with ``xyxy`` and ``scores``) or any object whose ``at_frame(f)``
returns an ``(xyxy, scores)`` pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox, iou_matrix

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def detections_at(detections: Any, frame: int) -> tuple[FloatArray, FloatArray]:
    """``(xyxy (N, 4), scores (N,))`` of the detections on a 0-based frame."""
    if detections is None:
        return np.zeros((0, 4)), np.zeros(0)
    got = detections.at_frame(frame)
    if isinstance(got, tuple):
        xyxy, scores = got[0], got[1]
    else:
        xyxy = got.xyxy
        scores = getattr(got, "scores", None)
        if scores is None:
            scores = getattr(got, "confidence", None)
        if scores is None:
            scores = np.ones(len(np.asarray(xyxy).reshape(-1, 4)))
    a = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    ok = np.isfinite(a).all(axis=1) & (a[:, 2] > a[:, 0]) & (a[:, 3] > a[:, 1])
    return a[ok], s[ok]


#: IoU at or above which two tracks' boxes are taken to be on one object.
CONFLICT_IOU = 0.5


def find_conflicts(
    xyxy: FloatArray, track_ids: list[int], scores: list[float], min_iou: float = CONFLICT_IOU
) -> set[int]:
    """Indices of boxes that overlap a different track's box by ``min_iou`` or more and look
    less like their own keyframes than the other one does (the likely impostor)."""
    n = len(track_ids)
    if n < 2:
        return set()
    m = iou_matrix(xyxy, xyxy)
    np.fill_diagonal(m, 0.0)
    out: set[int] = set()
    ii, jj = np.nonzero(np.triu(m >= min_iou, 1))
    for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
        if track_ids[i] == track_ids[j]:
            continue
        out.add(i if scores[i] < scores[j] else j)
    return out


def match_detections(
    tracks_xyxy: FloatArray, det_xyxy: FloatArray, min_iou: float
) -> list[tuple[int, int]]:
    """Hungarian matching maximising total IoU; pairs below ``min_iou`` are dropped."""
    if len(tracks_xyxy) == 0 or len(det_xyxy) == 0:
        return []
    m = iou_matrix(tracks_xyxy, det_xyxy)
    rows, cols = linear_sum_assignment(-m)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if m[r, c] >= min_iou]


@dataclass
class _Chain:
    boxes: list[FrameBox]
    last_xyxy: FloatArray
    last_frame: int


def build_proposals(
    detections: Any,
    n_frames: int,
    occupied: dict[int, list[FloatArray]],
    *,
    min_score: float,
    min_iou: float,
    min_hits: int = 3,
    max_gap: int = 2,
) -> list[list[FrameBox]]:
    """Proposed tracks from detections that no track explains.

    ``occupied[f]`` lists the xyxy boxes of every track on frame ``f``; a detection that
    overlaps one by ``min_iou`` is explained. Unexplained detections scoring ``min_score`` or
    more are linked into chains across frames (Hungarian on IoU, gaps up to ``max_gap``);
    chains with ``min_hits`` detections are returned as ``IMPORTED`` boxes.
    """
    active: list[_Chain] = []
    finished: list[_Chain] = []
    for f in range(n_frames):
        det, scores = detections_at(detections, f)
        if len(det):
            keep = scores >= min_score
            occ = occupied.get(f)
            if occ:
                keep &= iou_matrix(det, np.asarray(occ)).max(axis=1) < min_iou
            det, scores = det[keep], scores[keep]
        still: list[_Chain] = []
        for ch in active:
            (still if f - ch.last_frame <= max_gap + 1 else finished).append(ch)
        active = still
        used: set[int] = set()
        if active and len(det):
            prev = np.stack([c.last_xyxy for c in active])
            for r, c in match_detections(prev, det, 0.3):
                ch = active[r]
                ch.boxes.append(_imported(f, det[c], scores[c]))
                ch.last_xyxy, ch.last_frame = det[c], f
                used.add(c)
        for c in range(len(det)):
            if c not in used:
                active.append(_Chain([_imported(f, det[c], scores[c])], det[c], f))
    finished.extend(active)
    return [ch.boxes for ch in finished if len(ch.boxes) >= min_hits]


def _imported(frame: int, xyxy: FloatArray, score: float) -> FrameBox:
    return FrameBox(
        frame,
        BoxXYXY.from_array(xyxy),
        source=BoxSource.IMPORTED,
        confidence=float(np.clip(score, 0.0, 1.0)),
    )
