"""Appearance: normalised grayscale templates, NCC scores and template search.

A template is the grayscale content of a box warped to a small fixed area
(:data:`TEMPLATE_AREA` pixels, the box's aspect kept), so comparing a 20 px and a 400 px box
costs the same. Scores are zero-mean normalised cross-correlation (OpenCV's
``TM_CCOEFF_NORMED``) in [-1, 1]; it ignores affine brightness changes (shadows, exposure).

Boxes may reach outside the image: warping replicates the border, so a box half outside still
gets a score (lower, as it should be).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Gray = npt.NDArray[Any]  # uint8, H x W

#: Pixels in a template. Raising it makes scores more discriminative on large, textured
#: objects but costs time in every score and search (quadratic in the side).
TEMPLATE_AREA = 900


def template_shape(w: float, h: float, area: int = TEMPLATE_AREA) -> tuple[int, int]:
    """``(tw, th)`` of a template for a ``w`` x ``h`` box: aspect kept, ~``area`` pixels."""
    k = math.sqrt(area / max(w * h, 1.0))
    return max(8, round(w * k)), max(8, round(h * k))


def warp_box(gray: Gray, xyxy: FloatArray, size: tuple[int, int], pad: float = 0.0) -> Gray:
    """The box (grown by ``pad`` of its size on each side) resampled to ``size`` = (w, h)."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    bw, bh = x2 - x1, y2 - y1
    x1 -= pad * bw
    y1 -= pad * bh
    bw *= 1.0 + 2.0 * pad
    bh *= 1.0 + 2.0 * pad
    sx, sy = size[0] / max(bw, 1e-6), size[1] / max(bh, 1e-6)
    m = np.array([[sx, 0.0, -x1 * sx], [0.0, sy, -y1 * sy]], dtype=np.float64)
    interp = cv2.INTER_AREA if sx < 1.0 and sy < 1.0 else cv2.INTER_LINEAR
    out: Gray = cv2.warpAffine(gray, m, size, flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return out


@dataclass(frozen=True)
class Template:
    """A box's appearance at a normalised size (``pixels`` is ``th`` x ``tw`` uint8)."""

    pixels: Gray
    frame: int

    @property
    def size(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    @classmethod
    def from_box(cls, gray: Gray, xyxy: FloatArray, frame: int) -> Template:
        w, h = float(xyxy[2] - xyxy[0]), float(xyxy[3] - xyxy[1])
        return cls(warp_box(gray, xyxy, template_shape(w, h)), frame)


def ncc(a: Gray, b: Gray) -> float:
    """NCC of two equally sized patches in [-1, 1]; 0 when either is flat."""
    if float(a.std()) < 1e-3 or float(b.std()) < 1e-3:
        return 0.0
    r = cv2.matchTemplate(a, b, cv2.TM_CCOEFF_NORMED)
    v = float(r[0, 0])
    return v if math.isfinite(v) else 0.0


def score_box(gray: Gray, xyxy: FloatArray, templates: list[Template]) -> float:
    """Best NCC of the box's content against any template (-1 when there are none)."""
    best = -1.0
    for t in templates:
        best = max(best, ncc(warp_box(gray, xyxy, t.size), t.pixels))
    return best


@dataclass(frozen=True)
class SearchHit:
    xyxy: FloatArray
    score: float
    #: best score minus the best score outside the peak's neighbourhood (ambiguity).
    margin: float


def search(
    gray: Gray,
    center_xy: tuple[float, float],
    size_wh: tuple[float, float],
    template: Template,
    *,
    radius: float = 1.0,
    scales: tuple[float, ...] = (0.95, 1.0, 1.05),
) -> SearchHit | None:
    """Find ``template`` near ``center_xy`` for a box about ``size_wh``.

    The search window reaches ``radius`` box sizes beyond the box on each side. Each scale
    warps the window so the candidate box maps onto the template's size, so one
    ``matchTemplate`` per scale covers every position. Returns the best hit, or ``None``
    when the window is degenerate.
    """
    tw, th = template.size
    best: SearchHit | None = None
    cx, cy = center_xy
    for s in scales:
        bw, bh = size_wh[0] * s, size_wh[1] * s
        if bw < 2 or bh < 2:
            continue
        win_w, win_h = bw * (1 + 2 * radius), bh * (1 + 2 * radius)
        kx, ky = tw / bw, th / bh
        out_w, out_h = round(win_w * kx), round(win_h * ky)
        x0, y0 = cx - win_w / 2.0, cy - win_h / 2.0
        m = np.array([[kx, 0.0, -x0 * kx], [0.0, ky, -y0 * ky]], dtype=np.float64)
        interp = cv2.INTER_AREA if kx < 1.0 and ky < 1.0 else cv2.INTER_LINEAR
        win = cv2.warpAffine(gray, m, (out_w, out_h), flags=interp, borderMode=cv2.BORDER_REPLICATE)
        if win.shape[0] < th or win.shape[1] < tw:
            continue
        res = cv2.matchTemplate(win, template.pixels, cv2.TM_CCOEFF_NORMED)
        res = np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0)
        _, peak, _, loc = cv2.minMaxLoc(res)
        # Ambiguity: the best response away from the peak (look-alikes nearby).
        px, py = loc
        masked = res.copy()
        rx, ry = max(1, tw // 2), max(1, th // 2)
        masked[max(0, py - ry) : py + ry + 1, max(0, px - rx) : px + rx + 1] = -1.0
        second = float(masked.max()) if masked.size else -1.0
        # Sub-pixel peak refinement along each axis (parabola through 3 samples).
        fx, fy = float(px), float(py)
        if 0 < px < res.shape[1] - 1:
            a, b, c = res[py, px - 1], res[py, px], res[py, px + 1]
            d = a - 2 * b + c
            if d < 0:
                fx += float(0.5 * (a - c) / d)
        if 0 < py < res.shape[0] - 1:
            a, b, c = res[py - 1, px], res[py, px], res[py + 1, px]
            d = a - 2 * b + c
            if d < 0:
                fy += float(0.5 * (a - c) / d)
        bx1, by1 = x0 + fx / kx, y0 + fy / ky
        hit = SearchHit(
            np.array([bx1, by1, bx1 + bw, by1 + bh], dtype=np.float64),
            float(peak),
            float(peak) - max(second, -1.0),
        )
        # Prefer scale 1 on near-ties: scale noise is worse than a tiny score loss.
        bonus = 0.005 if s == 1.0 else 0.0
        if best is None or hit.score + bonus > best.score:
            best = hit
    return best
