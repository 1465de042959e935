"""NanoTrack v2 and v3 as committee members, run by ``cv2.dnn`` with our own post-processing.

``cv2.TrackerNano`` runs only v2 (its head must give a 16x16 grid; v3's gives 15x15) and
hides the raw response map: its score mixes the cosine window into the peak. Here both
versions run through the same code, which follows the reference Siamese tracker
(HonglinChu/SiamTrackers, ``NanoTrack/nanotrack/tracker/nano_tracker.py``):

* the template is the box with context, a square of side s_z = sqrt((w + p)(h + p)),
  p = (w + h) / 2, resized to 127x127; the search region is s_x = s_z * 255 / 127 around the
  last centre, resized to 255x255; both BGR 0-255, not normalised, padded outside the image
  with the frame's mean colour taken on the init frame;
* the head gives, per grid cell (stride 16, centred on the crop), a 2-way classification
  (softmax: the probability the cell is on the target) and the distances (left, top, right,
  bottom, search-crop pixels) from the cell to the box's sides;
* the cell is chosen on the score times a scale / aspect-ratio change penalty
  (``penalty_k``), blended with a cosine window (``window_influence``); the size moves
  towards the new box at ``lr`` x penalty x score, and the box is clipped to the image.

:meth:`NanoDnn.update` reports :func:`~.siamese.response_stats` of the raw softmax map (no
window, no penalty) at the chosen cell; :meth:`NanoDnn.embed` the backbone's template
features. Each instance owns its two ``cv2.dnn`` nets (they are not thread-safe).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from tracker_annotate.core.errors import ConfigError, ModelError
from tracker_annotate.models import verified_path
from tracker_annotate.tracking.siamese import (
    FloatArray,
    Image,
    MemberMeasurer,
    MemberResult,
    clamp_box,
    crop_resize,
    mean_color,
    response_stats,
)

log = logging.getLogger(__name__)

Blob = npt.NDArray[np.float32]

#: Template and search crop sides (network input pixels) and the head's stride.
EXEMPLAR_SIZE = 127
INSTANCE_SIZE = 255
STRIDE = 16
#: Context around the box in the template: p = CONTEXT_AMOUNT * (w + h).
CONTEXT_AMOUNT = 0.5
#: The reference never lets the tracked size fall below 10 px (nor exceed the image).
MIN_SIZE = 10.0


@dataclass(frozen=True)
class NanoSpec:
    """One NanoTrack version: its two model files and its tracking constants.

    * ``score_size``: the head's output grid (cells per side);
    * ``window_influence``: share of the cosine window in the cell choice (raising it keeps
      the box near its last place, steadier but slower to follow fast motion);
    * ``penalty_k``: strength of the scale / aspect-ratio change penalty (raising it
      resists jumps to boxes of another shape, but lags real size changes);
    * ``lr``: how fast the size follows the new box (scaled by penalty x score).
    """

    version: str
    backbone: str
    head: str
    score_size: int
    window_influence: float
    penalty_k: float
    lr: float


#: The reference's ``configv2.yaml`` and ``configv3.yaml`` numbers.
NANO_SPECS: dict[str, NanoSpec] = {
    "v2": NanoSpec("v2", "nanotrack_backbone", "nanotrack_head", 16, 0.490, 0.150, 0.385),
    "v3": NanoSpec("v3", "nanotrack3_backbone", "nanotrack3_head", 15, 0.455, 0.138, 0.348),
}


def load_net(name: str, models_dir: Path | None = None) -> Any:
    """A fresh ``cv2.dnn`` net on the shipped, verified model file ``name``.

    Parsing takes 3-8 ms a file here, the same from a path as from bytes held in memory,
    so nothing is cached: each member owns its nets.
    """
    path = verified_path(name, models_dir)
    try:
        net = cv2.dnn.readNetFromONNX(str(path))
    except cv2.error as exc:
        raise ModelError(
            f"OpenCV could not load the model {path}: {exc}; reinstall tracker_annotate"
        ) from exc
    return net


def to_blob(crops: Sequence[Image]) -> Blob:
    """N crops (HxWx3 uint8 BGR) as an N x 3 x H x W float32 blob, 0-255, not normalised."""
    arr = np.stack([np.asarray(c) for c in crops]).astype(np.float32)
    return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))


def backbone_forward(net: Any, blob: Blob) -> Blob:
    """The backbone's features of an N x 3 x S x S blob (S = 127: N x C x 8 x 8; S = 255:
    N x C x 16 x 16).

    The shipped graphs fix the batch at 1 (their squeeze-excite reshapes are constants),
    so a batch runs crop by crop here; the batch shape keeps callers ready for a graph that
    takes N at once. Such a graph (the Reshape constants' leading 1 made -1) was measured
    here: no faster per crop than single calls (v2 11.7 against 9.6 ms, v3 12.6 against
    11.0 ms per 255 crop, batch of 10, one thread; the same with two), so it is not shipped.
    """
    outs = []
    for i in range(blob.shape[0]):
        net.setInput(blob[i : i + 1])
        outs.append(np.array(net.forward(), dtype=np.float32, copy=True))
    return np.concatenate(outs, axis=0)


def head_forward(net: Any, zf: Blob, xf: Blob) -> tuple[Blob, Blob]:
    """The head on N template features ``zf`` and N search features ``xf``: the
    classification logits (N x 2 x G x G; channel 1 = target) and the box distances
    (N x 4 x G x G: left, top, right, bottom in search-crop pixels). Batch 1 per call, as
    :func:`backbone_forward`."""
    cls_out, loc_out = [], []
    for i in range(xf.shape[0]):
        net.setInput(np.ascontiguousarray(zf[i : i + 1]), "input1")
        net.setInput(np.ascontiguousarray(xf[i : i + 1]), "input2")
        cls, loc = net.forward(["output1", "output2"])
        cls_out.append(np.array(cls, dtype=np.float32, copy=True))
        loc_out.append(np.array(loc, dtype=np.float32, copy=True))
    return np.concatenate(cls_out, axis=0), np.concatenate(loc_out, axis=0)


def softmax_score(cls: npt.NDArray[Any]) -> FloatArray:
    """The target probability of a 2 x G x G logit map (softmax over the two channels)."""
    c = np.asarray(cls, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(c[0] - c[1]))


def _context_side(w: float, h: float) -> float:
    p = CONTEXT_AMOUNT * (w + h)
    return math.sqrt((w + p) * (h + p))


def _change(r: FloatArray) -> FloatArray:
    return np.maximum(r, 1.0 / r)


def _padded_side(w: FloatArray, h: FloatArray) -> FloatArray:
    p = (w + h) * 0.5
    return np.sqrt((w + p) * (h + p))


class NanoDnn:
    """NanoTrack ``version`` ("v2" or "v3") as a :class:`~.siamese.SiameseMember`.

    ``models_dir`` replaces the shipped models folder (tests point it at a damaged copy).
    Loading two nets costs about 10 ms; ``init`` one backbone pass, ``update`` one backbone
    and one head pass.
    """

    def __init__(self, version: str = "v3", models_dir: Path | None = None) -> None:
        if version not in NANO_SPECS:
            raise ConfigError(f"version must be one of {sorted(NANO_SPECS)}, got {version!r}")
        self.spec = NANO_SPECS[version]
        self.name = f"nano{version[1:]}"
        self._backbone = load_net(self.spec.backbone, models_dir)
        self._head = load_net(self.spec.head, models_dir)
        g = self.spec.score_size
        hann = np.hanning(g)
        self._window: FloatArray = np.outer(hann, hann)
        # cell centres relative to the search crop's centre, search-crop pixels (reference grid)
        offs = (np.arange(g) - g // 2) * float(STRIDE)
        self._px, self._py = np.meshgrid(offs, offs)
        self._center = np.zeros(2)
        self._size = np.ones(2)
        self._pad: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._zf: Blob | None = None

    # -- the member protocol -------------------------------------------------------------

    def init(self, bgr: Image, xyxy: FloatArray) -> None:
        box = np.asarray(xyxy, dtype=np.float64)
        self._center = np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])
        self._size = np.array([max(box[2] - box[0], 1.0), max(box[3] - box[1], 1.0)])
        self._pad = mean_color(bgr)
        self._zf = self._template_features(bgr, self._center, self._size, self._pad)

    def update(self, bgr: Image) -> MemberResult:
        if self._zf is None:
            raise RuntimeError("NanoDnn.update before init")
        crop, scale = self.search_crop(bgr)
        xf = backbone_forward(self._backbone, to_blob([crop]))
        cls, loc = head_forward(self._head, self._zf, xf)
        return self.locate(cls[0], loc[0], scale, bgr.shape[1], bgr.shape[0])

    def embed(self, bgr: Image, xyxy: FloatArray) -> npt.NDArray[np.float32]:
        box = np.asarray(xyxy, dtype=np.float64)
        center = np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])
        size = np.array([max(box[2] - box[0], 1.0), max(box[3] - box[1], 1.0)])
        feat = self._template_features(bgr, center, size, mean_color(bgr)).ravel()
        norm = float(np.linalg.norm(feat))
        out: npt.NDArray[np.float32] = (feat / norm if norm > 0 else feat).astype(np.float32)
        return out

    # -- the steps, public so that a caller can batch the forward passes -----------------

    def search_crop(self, bgr: Image) -> tuple[Image, float]:
        """The 255x255 search crop around the last centre, and its scale (crop px per
        frame px)."""
        s_z = _context_side(float(self._size[0]), float(self._size[1]))
        scale = EXEMPLAR_SIZE / s_z
        s_x = s_z * INSTANCE_SIZE / EXEMPLAR_SIZE
        c = (float(self._center[0]), float(self._center[1]))
        return crop_resize(bgr, c, (s_x, s_x), INSTANCE_SIZE, self._pad), scale

    def locate(
        self, cls: npt.NDArray[Any], loc: npt.NDArray[Any], scale: float, width: int, height: int
    ) -> MemberResult:
        """The new box from one head output (``cls`` 2 x G x G, ``loc`` 4 x G x G) of the
        search crop taken at ``scale``; updates the member's state."""
        spec = self.spec
        score = softmax_score(cls)
        d = np.maximum(np.asarray(loc, dtype=np.float64), 0.0)
        x1, y1 = self._px - d[0], self._py - d[1]
        x2, y2 = self._px + d[2], self._py + d[3]
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        bw, bh = np.maximum(x2 - x1, 1e-3), np.maximum(y2 - y1, 1e-3)
        w, h = float(self._size[0]), float(self._size[1])
        s_c = _change(_padded_side(bw, bh) / _padded_side(np.array(w * scale), np.array(h * scale)))
        r_c = _change((w / h) / (bw / bh))
        penalty = np.exp(-(r_c * s_c - 1.0) * spec.penalty_k)
        pscore = penalty * score * (1.0 - spec.window_influence) + self._window * (
            spec.window_influence
        )
        r, c = np.unravel_index(int(np.argmax(pscore)), pscore.shape)
        lr = float(penalty[r, c] * score[r, c] * spec.lr)
        new_cx = float(np.clip(self._center[0] + cx[r, c] / scale, 0.0, width))
        new_cy = float(np.clip(self._center[1] + cy[r, c] / scale, 0.0, height))
        new_w = w * (1.0 - lr) + float(bw[r, c]) / scale * lr
        new_h = h * (1.0 - lr) + float(bh[r, c]) / scale * lr
        new_w = float(np.clip(new_w, MIN_SIZE, max(width, MIN_SIZE)))
        new_h = float(np.clip(new_h, MIN_SIZE, max(height, MIN_SIZE)))
        self._center = np.array([new_cx, new_cy])
        self._size = np.array([new_w, new_h])
        xyxy = np.array(
            [new_cx - new_w / 2, new_cy - new_h / 2, new_cx + new_w / 2, new_cy + new_h / 2]
        )
        return MemberResult(clamp_box(xyxy, width, height), response_stats(score, (int(r), int(c))))

    def _template_features(
        self,
        bgr: Image,
        center: FloatArray,
        size: FloatArray,
        pad: tuple[float, float, float],
    ) -> Blob:
        s_z = _context_side(float(size[0]), float(size[1]))
        crop = crop_resize(
            bgr, (float(center[0]), float(center[1])), (s_z, s_z), EXEMPLAR_SIZE, pad
        )
        return backbone_forward(self._backbone, to_blob([crop]))


def nano_member(version: str) -> MemberMeasurer:
    """The ``nano2`` / ``nano3`` back-ends: a :class:`NanoDnn` as a measurer."""
    return MemberMeasurer(NanoDnn(version))
