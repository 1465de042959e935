"""Across-track reasoning on one frame: IoU matching, conflicts, detections, proposals.

* :func:`find_conflicts`: two tracks whose boxes overlap heavily have probably latched onto
  one object; the one that looks less like its own keyframes is the suspect.
* :func:`match_detections`: SORT-style Hungarian matching (maximum total IoU) of track boxes
  to a model's detections on a frame; matches above ``min_iou`` are extra measurements.
* :func:`build_proposals`: confident detections that match no track, linked frame to frame,
  become proposed tracks once they persist for ``AssocParams.min_hits`` frames.

Detections come from a :class:`DetectionSource`: the columnar ``Detections`` container of
:mod:`tracker_annotate.core.detections`, or anything whose ``at_frame(f)`` returns one (a
detector run only on the frames asked, :class:`.proposals.DetectorFeed`). The thresholds
are :class:`.params.AssocParams`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox, iou_matrix
from tracker_annotate.core.detections import Detections
from tracker_annotate.tracking.params import AssocParams

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


class DetectionSource(Protocol):
    """Model detections by frame: ``at_frame(f)`` is the detections on 0-based frame ``f``."""

    def at_frame(self, frame: int) -> Detections: ...


def detections_at(detections: DetectionSource | None, frame: int) -> tuple[FloatArray, FloatArray]:
    """``(xyxy (N, 4), scores (N,))`` of the detections on a 0-based frame (``Detections``
    has checked them: finite boxes with an area)."""
    if detections is None:
        return np.zeros((0, 4)), np.zeros(0)
    got = detections.at_frame(frame)
    return got.xyxy.reshape(-1, 4), got.scores.reshape(-1)


#: IoU at or above which two tracks' boxes are taken to be on one object (the default
#: :attr:`.params.AssocParams.conflict_iou`).
CONFLICT_IOU = AssocParams().conflict_iou


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
    detections: DetectionSource | None,
    n_frames: int,
    occupied: dict[int, list[FloatArray]],
    *,
    min_score: float,
    min_iou: float,
    params: AssocParams = AssocParams(),  # noqa: B008 - frozen, so sharing is safe
) -> list[list[FrameBox]]:
    """Proposed tracks from detections that no track explains.

    ``occupied[f]`` lists the xyxy boxes of every track on frame ``f``; a detection that
    overlaps one by ``min_iou`` is explained. Unexplained detections scoring ``min_score`` or
    more are linked into chains across frames (Hungarian on IoU at least
    ``params.chain_iou``, gaps up to ``params.max_gap``); chains with ``params.min_hits``
    detections are returned as ``IMPORTED`` boxes.
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
            (still if f - ch.last_frame <= params.max_gap + 1 else finished).append(ch)
        active = still
        used: set[int] = set()
        if active and len(det):
            prev = np.stack([c.last_xyxy for c in active])
            for r, c in match_detections(prev, det, params.chain_iou):
                ch = active[r]
                ch.boxes.append(_imported(f, det[c], scores[c]))
                ch.last_xyxy, ch.last_frame = det[c], f
                used.add(c)
        for c in range(len(det)):
            if c not in used:
                active.append(_Chain([_imported(f, det[c], scores[c])], det[c], f))
    finished.extend(active)
    return [ch.boxes for ch in finished if len(ch.boxes) >= params.min_hits]


def _imported(frame: int, xyxy: FloatArray, score: float) -> FrameBox:
    return FrameBox(
        frame,
        BoxXYXY.from_array(xyxy),
        source=BoxSource.IMPORTED,
        confidence=float(np.clip(score, 0.0, 1.0)),
    )
