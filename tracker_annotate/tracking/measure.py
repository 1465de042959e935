"""Measurement back-ends: where is the object on this frame, and how sure is the step?

Every back-end implements :class:`Measurer`: ``start`` on a trusted box, then
``measure(prev, cur, prev_xyxy, pred_xyxy)`` once per frame. The engine owns the Kalman
filter, the appearance checks and the confidence; a back-end only proposes a box.

* ``cascade`` (ours, the default) is built around :func:`lk_median_flow`: pyramidal
  Lucas-Kanade on a grid of points in a crop around the previous and predicted boxes,
  forward-backward checked, median displacement plus scale from pairwise distances. The
  engine checks the result against keyframe templates and only when it is unsure runs the
  heavier NCC template search (:func:`tracker_annotate.tracking.appearance.search`).
* ``csrt``, ``kcf``, ``mil`` (``cv2.Tracker*_create``) and ``mosse``, ``medianflow``
  (``cv2.legacy``) wrap OpenCV's contrib trackers on the BGR frame.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from tracker_annotate.core.errors import TrackingError

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Gray = npt.NDArray[Any]  # uint8, H x W


class FrameData:
    """One decoded frame shared by every track on it: BGR, and grayscale made once."""

    __slots__ = ("_gray", "_levels", "bgr", "index")

    def __init__(self, index: int, bgr: npt.NDArray[np.uint8]) -> None:
        self.index = index
        self.bgr = bgr
        self._gray: Gray | None = None
        self._levels: list[Gray] = []

    def level(self, k: int) -> Gray:
        """Grayscale at 1/2**k resolution (pyrDown), built once and shared by all tracks."""
        if not self._levels:
            self._levels.append(self.gray)
        while len(self._levels) <= k:
            self._levels.append(cv2.pyrDown(self._levels[-1]))
        return self._levels[k]

    @property
    def gray(self) -> Gray:
        if self._gray is None:
            if self.bgr.ndim == 2:
                self._gray = np.ascontiguousarray(self.bgr)
            else:
                self._gray = cv2.cvtColor(self.bgr, cv2.COLOR_BGR2GRAY)
        return self._gray

    @property
    def width(self) -> int:
        return int(self.bgr.shape[1])

    @property
    def height(self) -> int:
        return int(self.bgr.shape[0])


@dataclass
class Measurement:
    """A proposed box (``None``: the step found nothing) and what the step knows of it."""

    xyxy: FloatArray | None
    #: In [0, 1]: the step's own belief (LK inliers and forward-backward error).
    quality: float = 0.0
    #: Median LK forward-backward error in pixels (nan for non-LK back-ends).
    fb_error: float = math.nan
    method: str = "none"
    #: The back-end's own score when it gives one (NanoTrack's), else nan.
    score: float = math.nan
    #: Further evidence for the confidence by name (the committee's agreement and response
    #: maps: :data:`tracker_annotate.tracking.committee.COMMITTEE_FEATURES`).
    extra: dict[str, float] = field(default_factory=dict)


class Measurer(Protocol):
    def start(self, frame: FrameData, xyxy: FloatArray) -> None: ...

    def measure(
        self, prev: FrameData, cur: FrameData, prev_xyxy: FloatArray, pred_xyxy: FloatArray
    ) -> Measurement: ...


# --------------------------------------------------------------------------- LK median flow

_LK_WIN = (11, 11)
_LK_LEVELS = 3
_LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)
#: Long side (px) an object is resampled to for LK: bounds the cost on big objects.
_LK_MAX_OBJECT = 96.0
#: Objects smaller than this (long side, px) are upsampled for LK.
_LK_MIN_OBJECT = 48.0
_GRID = 10


def _median(values: npt.NDArray[Any]) -> float:
    """``float(np.median(values))`` for a 1-D array without NaN, without ``np.median``'s
    generic machinery (it ran seven times per step, ~40 us each, on 25 points)."""
    a = np.sort(values)
    n = a.shape[0]
    mid = n // 2
    return float(a[mid]) if n % 2 else float((a[mid - 1] + a[mid]) / 2)


def lk_median_flow(
    prev: FrameData,
    cur: FrameData,
    prev_xyxy: FloatArray,
    pred_xyxy: FloatArray,
    grid: int = _GRID,
    *,
    max_object: float = _LK_MAX_OBJECT,
) -> Measurement:
    """Median-flow step on a crop: box on ``cur`` from the box on ``prev``.

    The crop covers the previous and predicted boxes plus a margin, taken from the shared
    pyramid level where the object's long side is at most ``_LK_MAX_OBJECT`` px. Points whose
    forward-backward error is above the median (and above 1 px), or that move unlike the
    majority, are dropped; the box moves by the median displacement and scales by the
    median ratio of pairwise distances.
    """
    w, h = float(prev_xyxy[2] - prev_xyxy[0]), float(prev_xyxy[3] - prev_xyxy[1])
    if w < 2 or h < 2:
        return Measurement(None, method="lk")
    lvl = 0
    while lvl < 3 and max(w, h) / 2 ** (lvl + 1) >= max_object:
        lvl += 1
    k = 1.0 / 2**lvl
    a_full, b_full = prev.level(lvl), cur.level(lvl)
    margin = 0.35 * max(w, h) + 12.0 / k
    img_h, img_w = a_full.shape[:2]
    x0 = max(0, math.floor((min(prev_xyxy[0], pred_xyxy[0]) - margin) * k))
    y0 = max(0, math.floor((min(prev_xyxy[1], pred_xyxy[1]) - margin) * k))
    x1 = min(img_w, math.ceil((max(prev_xyxy[2], pred_xyxy[2]) + margin) * k))
    y1 = min(img_h, math.ceil((max(prev_xyxy[3], pred_xyxy[3]) + margin) * k))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return Measurement(None, method="lk")
    a = a_full[y0:y1, x0:x1]
    b = b_full[y0:y1, x0:x1]
    if lvl == 0:  # pyrDown smooths the other levels; LK on raw JPEG noise drifts in scale
        a = cv2.GaussianBlur(a, (3, 3), 0)
        b = cv2.GaussianBlur(b, (3, 3), 0)
    kx = ky = k
    up = _LK_MIN_OBJECT / max(w, h)
    if up > 1.0:  # small objects: upsample so LK's window sees structure, not 2 px of it
        up = min(up, 3.0)
        a = cv2.resize(a, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR)
        b = cv2.resize(b, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR)
        kx = ky = k * up
    # crop origin in full-resolution pixels
    x0, y0 = x0 / k, y0 / k
    # Grid inside the box, inset so points sit on the object rather than its border.
    gx = np.linspace(prev_xyxy[0] + 0.15 * w, prev_xyxy[2] - 0.15 * w, grid)
    gy = np.linspace(prev_xyxy[1] + 0.15 * h, prev_xyxy[3] - 0.15 * h, grid)
    xx, yy = np.meshgrid(gx, gy)
    p0 = np.stack([(xx.ravel() - x0) * kx, (yy.ravel() - y0) * ky], axis=1).astype(np.float32)
    inside = (p0[:, 0] >= 0) & (p0[:, 1] >= 0) & (p0[:, 0] < a.shape[1]) & (p0[:, 1] < a.shape[0])
    p0 = p0[inside].reshape(-1, 1, 2)
    if len(p0) < 4:
        return Measurement(None, method="lk")
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(
        a, b, p0, p0.copy(), winSize=_LK_WIN, maxLevel=_LK_LEVELS, criteria=_LK_CRITERIA
    )
    p0r, st2, _ = cv2.calcOpticalFlowPyrLK(
        b, a, p1, p1.copy(), winSize=_LK_WIN, maxLevel=_LK_LEVELS, criteria=_LK_CRITERIA
    )
    p0, p1, p0r = p0.reshape(-1, 2), p1.reshape(-1, 2), p0r.reshape(-1, 2)
    ok = (st1.ravel() == 1) & (st2.ravel() == 1)
    fb = np.linalg.norm(p0 - p0r, axis=1)
    ok &= np.isfinite(fb)
    n_total = len(p0)
    if ok.sum() < 4:
        return Measurement(None, quality=0.0, method="lk")
    fb_ok = fb[ok]
    med_fb = _median(fb_ok)
    good = ok & (fb <= max(med_fb, 1.0))
    if good.sum() < 4:
        return Measurement(None, quality=0.0, fb_error=med_fb / kx, method="lk")
    q0, q1 = p0[good].astype(np.float64), p1[good].astype(np.float64)
    q0[:, 0] /= kx
    q1[:, 0] /= kx
    q0[:, 1] /= ky
    q1[:, 1] /= ky
    d = q1 - q0
    dx, dy = _median(d[:, 0]), _median(d[:, 1])
    # Points moving unlike the majority are background seen through the box: drop them
    # before the scale estimate (they drag it towards the background's motion).
    resid = np.abs(d - [dx, dy]).sum(axis=1)
    tol = max(1.0, 2.5 * _median(resid))
    coherent = resid <= tol
    if coherent.sum() >= 4:
        q0, q1, d = q0[coherent], q1[coherent], d[coherent]
        dx, dy = _median(d[:, 0]), _median(d[:, 1])
    iu = np.triu_indices(len(q0), 1)
    d0 = np.linalg.norm(q0[:, None, :] - q0[None, :, :], axis=2)[iu]
    d1 = np.linalg.norm(q1[:, None, :] - q1[None, :, :], axis=2)[iu]
    valid = d0 > 1e-3
    scale = 1.0
    if valid.any():
        log_r = np.log(d1[valid] / d0[valid])
        log_s = _median(log_r)
        # Shrink uncertain scale changes towards 1: a biased scale compounds frame after
        # frame into a box that grows or shrinks away from the object.
        se = 1.4826 * _median(np.abs(log_r - log_s)) / math.sqrt(len(q0))
        scale = math.exp(log_s * log_s**2 / (log_s**2 + se**2 + 1e-12))
    scale = float(np.clip(scale, 0.8, 1.25))
    cx = (prev_xyxy[0] + prev_xyxy[2]) / 2.0 + dx
    cy = (prev_xyxy[1] + prev_xyxy[3]) / 2.0 + dy
    nw, nh = w * scale, h * scale
    box = np.array([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2], dtype=np.float64)
    # Spread of the kept displacements, relative to the box: a coherent object moves as one.
    spread = _median(np.abs(d - [dx, dy]).sum(axis=1)) / max(math.sqrt(w * h), 1.0)
    fb_px = med_fb / kx
    inlier = float(good.sum()) / n_total
    fb_rel = fb_px / max(math.sqrt(w * h), 1.0)
    quality = float(
        np.clip(inlier * 2.0, 0.0, 1.0) * math.exp(-fb_rel / 0.02) * math.exp(-spread / 0.05)
    )
    return Measurement(box, quality=quality, fb_error=fb_px, method="lk")


class CascadeMeasurer:
    """Cheap step of the ``cascade`` back-end (the engine adds the NCC check and search)."""

    name = "cascade"

    def start(self, frame: FrameData, xyxy: FloatArray) -> None:
        return None

    def measure(
        self, prev: FrameData, cur: FrameData, prev_xyxy: FloatArray, pred_xyxy: FloatArray
    ) -> Measurement:
        return lk_median_flow(prev, cur, prev_xyxy, pred_xyxy)


# --------------------------------------------------------------------------- OpenCV trackers


def _opencv_factory(name: str) -> Callable[[], Any]:
    """The OpenCV constructor for ``name`` (new API first, then ``cv2.legacy``)."""
    candidates = {
        "csrt": ("TrackerCSRT_create",),
        "kcf": ("TrackerKCF_create",),
        "mil": ("TrackerMIL_create",),
        "mosse": ("TrackerMOSSE_create",),
        "medianflow": ("TrackerMedianFlow_create",),
    }[name]
    for attr in candidates:
        for mod in (cv2, getattr(cv2, "legacy", None)):
            if mod is not None and hasattr(mod, attr):
                fn: Callable[[], Any] = getattr(mod, attr)
                return fn
    raise TrackingError(
        f"tracker {name!r} is not available in this OpenCV build ({cv2.__version__}); "
        "install opencv-contrib-python-headless or choose tracker='cascade'"
    )


class NoMeasurer:
    """The ``linear`` back-end looks at no pixels: every step finds nothing."""

    name = "linear"

    def start(self, frame: FrameData, xyxy: FloatArray) -> None:
        return None

    def measure(
        self, prev: FrameData, cur: FrameData, prev_xyxy: FloatArray, pred_xyxy: FloatArray
    ) -> Measurement:
        return Measurement(None, method=self.name)


def clip_xywh(xyxy: FloatArray, width: int, height: int) -> tuple[int, int, int, int] | None:
    x1, y1 = max(0.0, float(xyxy[0])), max(0.0, float(xyxy[1]))
    x2, y2 = min(float(width), float(xyxy[2])), min(float(height), float(xyxy[3]))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return round(x1), round(y1), max(2, round(x2 - x1)), max(2, round(y2 - y1))


class OpenCVMeasurer:
    """One of OpenCV's trackers. It keeps its own model; the engine only reads its box."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._factory = _opencv_factory(name)
        self._tracker: Any = None
        self._lost = False

    def start(self, frame: FrameData, xyxy: FloatArray) -> None:
        self._tracker = self._factory()
        xywh = clip_xywh(xyxy, frame.width, frame.height)
        self._lost = xywh is None
        if xywh is not None:
            img = frame.bgr if frame.bgr.ndim == 3 else cv2.cvtColor(frame.bgr, cv2.COLOR_GRAY2BGR)
            self._tracker.init(img, xywh)

    def measure(
        self, prev: FrameData, cur: FrameData, prev_xyxy: FloatArray, pred_xyxy: FloatArray
    ) -> Measurement:
        if self._tracker is None or self._lost:
            return Measurement(None, method=self.name)
        img = cur.bgr if cur.bgr.ndim == 3 else cv2.cvtColor(cur.bgr, cv2.COLOR_GRAY2BGR)
        try:
            ok, xywh = self._tracker.update(img)
        except cv2.error as exc:  # some trackers throw when the box leaves the image
            log.debug("%s update failed on frame %d: %s", self.name, cur.index, exc)
            self._lost = True
            return Measurement(None, method=self.name)
        if not ok or xywh[2] < 1 or xywh[3] < 1:
            return Measurement(None, method=self.name)
        x, y, w, h = (float(v) for v in xywh)
        return Measurement(
            np.array([x, y, x + w, y + h], dtype=np.float64), quality=0.8, method=self.name
        )
