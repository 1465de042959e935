"""Learned single-object trackers run by ``cv2.dnn``: the members of the committee.

Every member (NanoTrack v2 and v3 in :mod:`.siamese_nano`, FEAR-XS in :mod:`.siamese_fear`)
implements :class:`SiameseMember`: ``init`` on a trusted box, ``update`` once per frame,
and ``embed`` for a learned similarity between two boxes (the template branch's features).
What a member returns is a :class:`MemberResult`: its box and what its response map says
about it (:class:`ResponseStats`), which the committee turns into confidence evidence.

The crops follow the reference implementations' conventions: a square (or box-shaped)
region around the target, padded outside the image with the frame's mean colour and
resized to the network's input. :func:`crop_resize` does it with one ``warpAffine``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from tracker_annotate.tracking.measure import FrameData, Measurement

FloatArray = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]


def crop_resize(
    bgr: Image,
    center: tuple[float, float],
    size: tuple[float, float],
    out: int,
    pad: tuple[float, float, float],
) -> Image:
    """The region of ``bgr`` of ``size`` (w, h, frame pixels) centred on ``center``,
    resized to ``out`` x ``out``; outside the image it is filled with ``pad`` (BGR).

    Pixel centres map to pixel centres: frame x = cx + (u + 0.5) * w / out - w / 2 - 0.5.
    """
    w, h = max(float(size[0]), 1e-3), max(float(size[1]), 1e-3)
    sx, sy = out / w, out / h
    x0 = center[0] - w / 2.0
    y0 = center[1] - h / 2.0
    # u = (x - x0) * sx + 0.5 * sx - 0.5 maps frame pixel centres onto output pixel centres
    m = np.array(
        [[sx, 0.0, -x0 * sx + 0.5 * sx - 0.5], [0.0, sy, -y0 * sy + 0.5 * sy - 0.5]],
        dtype=np.float64,
    )
    img: Any = bgr if bgr.ndim == 3 else cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    res: Any = cv2.warpAffine(
        img,
        m,
        (out, out),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(float(v) for v in pad),
    )
    return res


def mean_color(bgr: Image) -> tuple[float, float, float]:
    """The frame's mean BGR colour (the crops' padding)."""
    if bgr.ndim == 2:
        v = float(bgr.mean())
        return (v, v, v)
    m = cv2.mean(bgr)
    return (float(m[0]), float(m[1]), float(m[2]))


@dataclass(frozen=True)
class ResponseStats:
    """What a member's response map says about its own answer (all in [0, 1] or >= 0).

    * ``peak``: the chosen cell's score (a probability, after the member's sigmoid or
      softmax, before any cosine window or size penalty);
    * ``psr``: peak-to-sidelobe ratio, (peak - mean) / std of the map outside a 3x3
      neighbourhood of the peak (high: one clear answer);
    * ``second``: the highest score outside the target's own footprint on the map (a
      look-alike nearby), and ``second_ratio`` = second / peak;
    * ``entropy``: Shannon entropy of the map normalised to a distribution, divided by
      log(cells) (1: flat, no idea; 0: one cell).
    """

    peak: float
    psr: float
    second: float
    second_ratio: float
    entropy: float

    @classmethod
    def empty(cls) -> ResponseStats:
        return cls(0.0, 0.0, 1.0, 1.0, 1.0)


def response_stats(
    score: npt.NDArray[Any], peak_rc: tuple[int, int], exclude_radius: float = 1.5
) -> ResponseStats:
    """:class:`ResponseStats` of a 2-D map of probabilities ``score`` whose chosen cell is
    ``peak_rc`` (row, column). Cells within ``exclude_radius`` cells of it (Chebyshev, i.e.
    the target's footprint on the map) are not a "second peak"."""
    s = np.asarray(score, dtype=np.float64)
    r0, c0 = peak_rc
    peak = float(s[r0, c0])
    rr, cc = np.indices(s.shape)
    far = np.maximum(np.abs(rr - r0), np.abs(cc - c0)) > exclude_radius
    side = s[np.maximum(np.abs(rr - r0), np.abs(cc - c0)) > 1]
    psr = 0.0
    if side.size > 1:
        psr = float((peak - side.mean()) / (side.std() + 1e-6))
    second = float(s[far].max()) if far.any() else 0.0
    p = s.clip(0.0, None).ravel()
    tot = float(p.sum())
    if tot > 0 and p.size > 1:
        q = p / tot
        nz = q[q > 0]
        entropy = float(-(nz * np.log(nz)).sum() / math.log(p.size))
    else:
        entropy = 1.0
    return ResponseStats(
        peak=peak,
        psr=max(psr, 0.0),
        second=second,
        second_ratio=second / peak if peak > 1e-9 else 1.0,
        entropy=entropy,
    )


@dataclass(frozen=True)
class MemberResult:
    """A member's answer on one frame: its box (``xyxy``, frame pixels, clamped to the
    image) and its response-map statistics."""

    xyxy: FloatArray
    stats: ResponseStats


class SiameseMember(Protocol):
    """One learned tracker, one object. Not thread-safe: one instance per pass."""

    name: str

    def init(self, bgr: Image, xyxy: FloatArray) -> None:
        """(Re-)start on the trusted box ``xyxy`` of frame ``bgr``."""
        ...

    def update(self, bgr: Image) -> MemberResult:
        """The object's box on the next frame ``bgr`` (always a box: Siamese trackers
        never say "lost"; the stats say how sure)."""
        ...

    def embed(self, bgr: Image, xyxy: FloatArray) -> npt.NDArray[np.float32]:
        """The template branch's features of the box ``xyxy`` on ``bgr``, flattened and
        L2-normalised: the dot product of two embeddings is a learned similarity."""
        ...


def clamp_box(xyxy: FloatArray, width: int, height: int, min_size: float = 4.0) -> FloatArray:
    """``xyxy`` clamped into the image with at least ``min_size`` px on each side."""
    x1 = float(np.clip(xyxy[0], 0.0, width - min_size))
    y1 = float(np.clip(xyxy[1], 0.0, height - min_size))
    x2 = float(np.clip(xyxy[2], x1 + min_size, width))
    y2 = float(np.clip(xyxy[3], y1 + min_size, height))
    return np.array([x1, y1, x2, y2], dtype=np.float64)


def trackable(xyxy: FloatArray, frame: FrameData) -> bool:
    """Whether a member can start on ``xyxy``: at least 2 px each way, overlapping the image."""
    return bool(
        xyxy[2] - xyxy[0] >= 2
        and xyxy[3] - xyxy[1] >= 2
        and xyxy[2] > 0
        and xyxy[3] > 0
        and xyxy[0] < frame.width
        and xyxy[1] < frame.height
    )


class MemberMeasurer:
    """A :class:`SiameseMember` as a measurement back-end (``start``/``measure``): the
    member's box, its response peak as the back-end's score, and its stats kept on
    ``last_stats`` for whoever wants them."""

    def __init__(self, member: SiameseMember) -> None:
        self.member = member
        self.name = member.name
        self.last_stats = ResponseStats.empty()
        self._ok = False

    def start(self, frame: FrameData, xyxy: FloatArray) -> None:
        box = np.asarray(xyxy, dtype=np.float64)
        self._ok = trackable(box, frame)
        if self._ok:
            self.member.init(frame.bgr, box)

    def measure(
        self, prev: FrameData, cur: FrameData, prev_xyxy: FloatArray, pred_xyxy: FloatArray
    ) -> Measurement:
        if not self._ok:
            return Measurement(None, method=self.name)
        r = self.member.update(cur.bgr)
        self.last_stats = r.stats
        return Measurement(
            np.asarray(r.xyxy, dtype=np.float64), quality=0.8, method=self.name, score=r.stats.peak
        )
