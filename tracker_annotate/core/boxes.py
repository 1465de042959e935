"""Typed, validated boxes.

Conventions used everywhere in tracker_annotate:

* Coordinates are float pixels. ``xyxy`` is ``(x1, y1, x2, y2)`` with the top-left corner
  ``(x1, y1)`` and the bottom-right corner ``(x2, y2)``; ``xywh`` is top-left plus size;
  ``cxcywh`` is centre plus size. A box's format is always in its name.
* Frame indices are 0-based. Formats that count from 1 convert at their edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from tracker_annotate.core.errors import BoxError

FloatArray = npt.NDArray[np.float64]

#: Largest coordinate magnitude a box may have, in pixels. No image is ten million pixels
#: across: a value beyond it is damage (garbage bytes in a file read back as 1.4e306) or a
#: unit mix-up, never a box, and exporting it would hand garbage to a training job.
MAX_COORD = 1e7
#: A box may hang over the image edge (an object half in view), but one more than this many
#: times the image's width or height is not an object in it.
MAX_SPAN_IMAGES = 10.0
#: The reason a flagged box gets when none is given.
DEFAULT_FLAG_REASON = "low confidence"


@dataclass(frozen=True, slots=True)
class BoxXYXY:
    """An axis-aligned box in pixels, ``x1 < x2`` and ``y1 < y2``, all finite."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        lim = MAX_COORD
        # chained comparisons: false for NaN and inf as well, and cheaper than isfinite
        # (a million boxes are built when a project loads)
        if not (
            -lim <= self.x1 <= lim
            and -lim <= self.y1 <= lim
            and -lim <= self.x2 <= lim
            and -lim <= self.y2 <= lim
        ):
            vals = (self.x1, self.y1, self.x2, self.y2)
            if not all(math.isfinite(v) for v in vals):
                raise BoxError(f"box {vals} has a non-finite coordinate")
            raise BoxError(
                f"box xyxy={vals} has a coordinate beyond \u00b1{lim:.0e} px: no image is "
                f"that large (a damaged value?)"
            )
        if not (self.x2 > self.x1 and self.y2 > self.y1):
            vals = (self.x1, self.y1, self.x2, self.y2)
            raise BoxError(
                f"box xyxy={vals} has zero or negative size; expected x2 > x1 and y2 > y1"
            )

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> BoxXYXY:
        if not (w > 0 and h > 0):
            raise BoxError(f"box xywh=({x}, {y}, {w}, {h}) has zero or negative size")
        return cls(float(x), float(y), float(x) + float(w), float(y) + float(h))

    @classmethod
    def from_cxcywh(cls, cx: float, cy: float, w: float, h: float) -> BoxXYXY:
        if not (w > 0 and h > 0):
            raise BoxError(f"box cxcywh=({cx}, {cy}, {w}, {h}) has zero or negative size")
        return cls(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)

    @classmethod
    def from_array(cls, xyxy: npt.ArrayLike) -> BoxXYXY:
        a = np.asarray(xyxy, dtype=np.float64).reshape(-1)
        if a.shape != (4,):
            raise BoxError(f"expected 4 coordinates (x1, y1, x2, y2), got {a.shape[0]}")
        return cls(float(a[0]), float(a[1]), float(a[2]), float(a[3]))

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    def to_xywh(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.width, self.height)

    def to_cxcywh(self) -> tuple[float, float, float, float]:
        cx, cy = self.center
        return (cx, cy, self.width, self.height)

    def to_array(self) -> FloatArray:
        return np.array(self.as_tuple(), dtype=np.float64)

    def translated(self, dx: float, dy: float) -> BoxXYXY:
        return BoxXYXY(self.x1 + dx, self.y1 + dy, self.x2 + dx, self.y2 + dy)

    def visible_fraction(self, width: int, height: int) -> float:
        """Share of the box's area that lies inside a ``width`` x ``height`` image."""
        ix = max(0.0, min(self.x2, width) - max(self.x1, 0.0))
        iy = max(0.0, min(self.y2, height) - max(self.y1, 0.0))
        return (ix * iy) / self.area

    def clipped(self, width: int, height: int) -> BoxXYXY | None:
        """The part of the box inside the image, or ``None`` when nothing is inside."""
        x1, y1 = max(self.x1, 0.0), max(self.y1, 0.0)
        x2, y2 = min(self.x2, float(width)), min(self.y2, float(height))
        if x2 <= x1 or y2 <= y1:
            return None
        return BoxXYXY(x1, y1, x2, y2)

    def iou(self, other: BoxXYXY) -> float:
        ix = min(self.x2, other.x2) - max(self.x1, other.x1)
        iy = min(self.y2, other.y2) - max(self.y1, other.y1)
        if ix <= 0 or iy <= 0:
            return 0.0
        inter = ix * iy
        return inter / (self.area + other.area - inter)


def validate_in_image(xyxy: BoxXYXY, width: int, height: int, *, what: str = "box") -> None:
    """Raise :class:`BoxError` unless some of the box lies inside the image."""
    if xyxy.clipped(width, height) is None:
        raise BoxError(
            f"{what} xyxy={xyxy.as_tuple()} lies entirely outside the {width}x{height} image"
        )


def implausible_for_image(xyxy: BoxXYXY, width: int, height: int) -> str | None:
    """Why a box cannot be an object on a ``width`` x ``height`` image, or ``None``: it
    lies entirely outside it, or is more than :data:`MAX_SPAN_IMAGES` images wide or high."""
    if xyxy.width > MAX_SPAN_IMAGES * width or xyxy.height > MAX_SPAN_IMAGES * height:
        return (
            f"box {xyxy.width:.6g}x{xyxy.height:.6g} px is absurd on a {width}x{height} image "
            f"(more than {MAX_SPAN_IMAGES:g} times its size)"
        )
    if xyxy.clipped(width, height) is None:
        return (
            f"box xyxy=({xyxy.x1:.6g}, {xyxy.y1:.6g}, {xyxy.x2:.6g}, {xyxy.y2:.6g}) lies "
            f"entirely outside the {width}x{height} image"
        )
    return None


def as_xyxy_array(xyxy: npt.ArrayLike, *, what: str = "boxes") -> FloatArray:
    """Validate an ``(N, 4)`` array of xyxy boxes and return it as float64.

    Raises :class:`BoxError` naming the first bad row.
    """
    a = np.asarray(xyxy, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 4:
        raise BoxError(f"{what}: expected an (N, 4) xyxy array, got shape {a.shape}")
    bad = (
        ~(np.abs(a) <= MAX_COORD).all(axis=1)  # NaN, inf and absurd magnitudes
        | (a[:, 2] <= a[:, 0])
        | (a[:, 3] <= a[:, 1])
    )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BoxError(f"{what}: row {i} xyxy={a[i].tolist()} is not a valid box")
    return a


def iou_matrix(a_xyxy: npt.ArrayLike, b_xyxy: npt.ArrayLike) -> FloatArray:
    """Pairwise IoU between ``(N, 4)`` and ``(M, 4)`` xyxy arrays, as an ``(N, M)`` array."""
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]), dtype=np.float64)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: FloatArray = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out


def iou_xyxy(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """IoU of two xyxy boxes (scalar, no allocation of a matrix: for per-frame loops)."""
    a0, a1, a2, a3 = (float(v) for v in np.asarray(a).reshape(4))
    b0, b1, b2, b3 = (float(v) for v in np.asarray(b).reshape(4))
    ix, iy = min(a2, b2) - max(a0, b0), min(a3, b3) - max(a1, b1)
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = (a2 - a0) * (a3 - a1) + (b2 - b0) * (b3 - b1) - inter
    return inter / union if union > 0 else 0.0


def shift_in_sizes(xyxy: npt.ArrayLike, ref_xyxy: npt.ArrayLike) -> float:
    """How far ``xyxy`` is from ``ref_xyxy`` in units of the reference's size: the L2 norm
    of the (cx, cy, w, h) difference over sqrt(ref area). 0 is the same box."""
    a = np.asarray(xyxy, dtype=np.float64).reshape(4)
    r = np.asarray(ref_xyxy, dtype=np.float64).reshape(4)
    d = np.array(
        [
            (a[0] + a[2] - r[0] - r[2]) / 2.0,
            (a[1] + a[3] - r[1] - r[3]) / 2.0,
            (a[2] - a[0]) - (r[2] - r[0]),
            (a[3] - a[1]) - (r[3] - r[1]),
        ]
    )
    return float(np.linalg.norm(d) / np.sqrt(max(float((r[2] - r[0]) * (r[3] - r[1])), 1.0)))


class BoxSource(StrEnum):
    """Where a box came from. Only ``MANUAL`` (and verified boxes) are truth for the tracker."""

    MANUAL = "manual"
    TRACKED = "tracked"
    INTERPOLATED = "interpolated"
    IMPORTED = "imported"


@dataclass(frozen=True, slots=True)
class FrameBox:
    """One track's box on one frame (0-based ``frame``), with its provenance and review state.

    ``confidence`` is in [0, 1]: 1 for a human's box, the engine's estimate for derived ones.
    ``flagged`` boxes carry a short human-readable ``flag_reason``. ``outside`` means the
    object is not visible on this frame (it left, or the track ended); the coordinates are
    then the last known place, kept so formats like CVAT can write them.
    """

    frame: int
    xyxy: BoxXYXY
    source: BoxSource = BoxSource.MANUAL
    confidence: float = 1.0
    flagged: bool = False
    flag_reason: str = ""
    verified: bool = False
    occluded: bool = False
    outside: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.frame, bool) or not isinstance(self.frame, (int, np.integer)):
            raise BoxError(f"frame must be an integer, got {self.frame!r}")
        if self.frame < 0:
            raise BoxError(f"frame {self.frame} is negative; frames are 0-based")
        if not isinstance(self.xyxy, BoxXYXY):
            raise BoxError(f"xyxy must be a BoxXYXY, got {type(self.xyxy).__name__}")
        if not (0.0 <= self.confidence <= 1.0):
            raise BoxError(f"confidence {self.confidence} on frame {self.frame} is not in [0, 1]")
        if not isinstance(self.source, BoxSource):
            object.__setattr__(self, "source", BoxSource(self.source))
        if self.flagged and not self.flag_reason:
            object.__setattr__(self, "flag_reason", DEFAULT_FLAG_REASON)
        if not self.flagged and self.flag_reason:
            object.__setattr__(self, "flag_reason", "")

    @property
    def is_keyframe(self) -> bool:
        """A box a human drew or confirmed: the tracker treats it as truth."""
        return self.source is BoxSource.MANUAL or self.verified

    @property
    def is_derived(self) -> bool:
        return not self.is_keyframe

    def with_(self, **changes: object) -> FrameBox:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]
