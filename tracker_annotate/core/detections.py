"""Model detections (pre-labels) as a typed column container, in the manner of supervision's
``Detections``: parallel arrays, one row per detection, validated on construction and
sorted by frame, so :meth:`Detections.at_frame` is a binary search plus a slice.

A domain type: the detector (:mod:`tracker_annotate.tracking.detector`) makes it, the
engine consumes it, and :mod:`tracker_annotate.io.formats.detections` reads and writes it
(MOT ``det.txt``, COCO results). Scores are kept as the detector wrote them (MOT17's DPM
scores, for example, are not in [0, 1]); see :meth:`Detections.normalized_scores`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tracker_annotate.core.boxes import as_xyxy_array
from tracker_annotate.core.errors import BoxError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Detections:
    """``N`` detections: ``frames`` (0-based), ``xyxy`` ``(N, 4)`` pixels, ``scores``,
    ``class_ids``; ``class_names`` maps class ids to names where known.

    Rows are stored sorted by frame (stable, so rows of one frame keep their order).
    """

    frames: IntArray
    xyxy: FloatArray
    scores: FloatArray
    class_ids: IntArray
    class_names: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames)
        integral = np.issubdtype(frames.dtype, np.integer) or bool(
            np.all(np.isfinite(frames)) and np.all(np.mod(frames, 1) == 0)
        )
        if frames.size and not integral:
            raise BoxError("detections: frames must be integers")
        frames = frames.astype(np.int64).reshape(-1)
        n = frames.shape[0]
        xyxy = as_xyxy_array(self.xyxy, what="detections")
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        class_ids = np.asarray(self.class_ids).astype(np.int64).reshape(-1)
        for name, arr in (("xyxy", xyxy), ("scores", scores), ("class_ids", class_ids)):
            if arr.shape[0] != n:
                raise BoxError(f"detections: {name} has {arr.shape[0]} rows, frames has {n}")
        if n and frames.min() < 0:
            raise BoxError(f"detections: frame {int(frames.min())} is negative (0-based)")
        if not np.isfinite(scores).all():
            raise BoxError("detections: scores must be finite")
        order = np.argsort(frames, kind="stable")
        for name, arr in (
            ("frames", frames),
            ("xyxy", xyxy),
            ("scores", scores),
            ("class_ids", class_ids),
        ):
            sorted_arr = arr[order]
            sorted_arr.flags.writeable = False
            object.__setattr__(self, name, sorted_arr)
        object.__setattr__(self, "class_names", dict(self.class_names))

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), {})

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def at_frame(self, frame: int) -> Detections:
        """The detections on one 0-based frame: a binary search and views of the arrays
        (no copy, no re-validation), so calling it once per frame is cheap."""
        lo, hi = np.searchsorted(self.frames, [frame, frame + 1])
        rows = slice(int(lo), int(hi))
        view = object.__new__(Detections)
        for name in ("frames", "xyxy", "scores", "class_ids"):
            object.__setattr__(view, name, getattr(self, name)[rows])
        object.__setattr__(view, "class_names", self.class_names)
        return view

    def __getitem__(
        self, index: slice | npt.NDArray[np.bool_] | npt.NDArray[np.int64]
    ) -> Detections:
        """Rows selected by a slice, a boolean mask or indices."""
        return Detections(
            self.frames[index],
            self.xyxy[index],
            self.scores[index],
            self.class_ids[index],
            self.class_names,
        )

    def with_min_score(self, score: float) -> Detections:
        return self[self.scores >= score]

    @property
    def frame_range(self) -> tuple[int, int] | None:
        """First and last frame with a detection, or ``None`` when empty."""
        if not len(self):
            return None
        return int(self.frames[0]), int(self.frames[-1])

    def normalized_scores(self) -> FloatArray:
        """Scores mapped to [0, 1]: unchanged when already inside, else min-max scaled."""
        s = self.scores
        if not len(s) or (s.min() >= 0 and s.max() <= 1):
            return s.copy()
        span = s.max() - s.min()
        return np.ones_like(s) if span == 0 else (s - s.min()) / span

    def equals(self, other: Detections, *, atol: float = 0.0) -> bool:
        return (
            np.array_equal(self.frames, other.frames)
            and np.array_equal(self.class_ids, other.class_ids)
            and np.allclose(self.xyxy, other.xyxy, atol=atol, rtol=0)
            and np.allclose(self.scores, other.scores, atol=atol, rtol=0)
        )
