"""VitTrack (the OpenCV model zoo, 2023-09) as a committee member, run by ``cv2.dnn``.

One shipped net (``tracker_annotate/models/vittrack/``, Apache-2.0) takes two inputs:

* ``template`` [1,3,128,128]: a square of side ``ceil(sqrt(w h) * 2)`` centred on the box;
* ``search`` [1,3,256,256]: a square of side ``ceil(sqrt(w h) * 4)`` around the last box;

both zero-padded outside the image, **BGR**, scaled as ``(x / 255 - mean) / std`` with
ImageNet's mean and std in that channel order (what ``cv2.TrackerVit`` means to do). Its
outputs on a 16 x 16 grid over the search crop: ``output1`` the object probability,
``output2`` the box size (w, h) and ``output3`` the offset of its centre inside the cell
(x, y), both as fractions of the crop side (offset in cells).

This runs the net itself instead of ``cv2.TrackerVit``, for two reasons: ``TrackerVit``
hides the score map that the committee reads (it reports only the windowed peak), and
opencv-contrib 5.0.0.93's ``TrackerVit`` scales the input by the quaternion inverse of
``stdvalue`` (per-channel factors 0.0059, -0.0057, -0.0058 instead of about 0.017: 0.41
pooled mean IoU instead of 0.586). OpenCV 5.1 scales it right; there, measured raw from
each first box on the 8 first shared sequences, ``TrackerVit`` scores 0.590 pooled and
this member 0.579: their boxes agree within a pixel frame by frame (``TrackerVit`` floors
its box to integers), and the small gap is where single tracks later part. The tracker
multiplies the map by a Hann window before the arg-max, as ``TrackerVit`` does; below
:attr:`VitParams.min_score` it keeps the last box (``TrackerVit`` reports a loss there).

VitTrack is one-stream (template and search go through the transformer together), so it
has no template embedding of its own: :meth:`VitTrack.embed` is a zero-mean, L2-normalised
32 x 32 grey thumbnail of the box (a normalised cross-correlation, not learned).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from tracker_annotate.core.errors import ModelError
from tracker_annotate.models import verified_path
from tracker_annotate.tracking.siamese import (
    FloatArray,
    Image,
    MemberMeasurer,
    MemberResult,
    clamp_box,
    crop_resize,
    response_stats,
)

log = logging.getLogger(__name__)

TEMPLATE_SIZE = 128
SEARCH_SIZE = 256
SCORE_SIZE = 16
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0
_EMBED_SIZE = 32


def _hann(n: int) -> npt.NDArray[np.float64]:
    # TrackerVit's "centred" window: no zero at either end
    i = np.arange(1, n + 1, dtype=np.float64)
    out: npt.NDArray[np.float64] = 0.5 * (1.0 - np.cos(2.0 * math.pi * i / (n + 1)))
    return out


_WINDOW = np.outer(_hann(SCORE_SIZE), _hann(SCORE_SIZE))


@dataclass(frozen=True)
class VitParams:
    """VitTrack's crop geometry and its choice rule.

    * ``template_factor`` / ``search_factor``: the crop sides as multiples of the box's
      ``sqrt(w h)`` (trained: 2 and 4).
    * ``window``: multiply the score map by a Hann window before the arg-max, as the
      released tracker does. Turning it off lets the tracker jump to a look-alike at the
      crop's edge; keeping it slows it on fast motion.
    * ``min_score``: below this windowed peak the member keeps its last box instead of
      jumping (``TrackerVit``'s 0.2). Raising it freezes the box more often on hard frames;
      lowering it follows weak, often wrong, answers.
    """

    template_factor: float = 2.0
    search_factor: float = 4.0
    window: bool = True
    min_score: float = 0.2

    def __post_init__(self) -> None:
        if self.template_factor <= 0 or self.search_factor <= 0:
            raise ValueError(
                "template_factor and search_factor must be > 0, got "
                f"{self.template_factor}, {self.search_factor}"
            )
        if not 0.0 <= self.min_score < 1.0:
            raise ValueError(f"min_score must be in [0, 1), got {self.min_score}")


def _blob(bgr_crop: Any) -> npt.NDArray[np.float32]:
    x = (np.asarray(bgr_crop, dtype=np.float32) - _MEAN) / _STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


class VitTrack:
    """VitTrack on one object (:class:`~tracker_annotate.tracking.siamese.SiameseMember`).

    One instance owns its net (``cv2.dnn`` nets are not thread-safe)."""

    name = "vit"

    def __init__(self, params: VitParams | None = None, models_dir: Path | None = None) -> None:
        self.params = params or VitParams()
        path = verified_path("vittrack", models_dir)
        try:
            self._net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as exc:
            raise ModelError(f"OpenCV could not load the VitTrack model {path}: {exc}") from exc
        self._template: npt.NDArray[np.float32] | None = None
        self._xyxy = np.zeros(4, dtype=np.float64)

    def _crop(self, bgr: Image, xyxy: FloatArray, factor: float, out: int) -> Image:
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
        side = math.ceil(math.sqrt(w * h) * factor)
        return crop_resize(bgr, ((x1 + x2) / 2, (y1 + y2) / 2), (side, side), out, (0, 0, 0))

    def init(self, bgr: Image, xyxy: FloatArray) -> None:
        """(Re-)start on the trusted box ``xyxy`` (frame pixels) of frame ``bgr``."""
        box = np.asarray(xyxy, dtype=np.float64).copy()
        crop = self._crop(bgr, box, self.params.template_factor, TEMPLATE_SIZE)
        self._template = _blob(crop)
        self._xyxy = box

    def update(self, bgr: Image) -> MemberResult:
        """The object's box on ``bgr`` and the stats of its (unwindowed) score map."""
        if self._template is None:
            raise RuntimeError("VitTrack.update called before init")
        x1, y1, x2, y2 = (float(v) for v in self._xyxy)
        w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
        side = float(math.ceil(math.sqrt(w * h) * self.params.search_factor))
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        crop = crop_resize(bgr, (cx, cy), (side, side), SEARCH_SIZE, (0, 0, 0))
        self._net.setInput(self._template, "template")
        self._net.setInput(_blob(crop), "search")
        conf, size, offset = self._net.forward(["output1", "output2", "output3"])
        score = np.asarray(conf, dtype=np.float64).reshape(SCORE_SIZE, SCORE_SIZE)
        size = np.asarray(size, dtype=np.float64).reshape(2, SCORE_SIZE, SCORE_SIZE)
        offset = np.asarray(offset, dtype=np.float64).reshape(2, SCORE_SIZE, SCORE_SIZE)
        chosen = score * _WINDOW if self.params.window else score
        flat = int(np.argmax(chosen))
        r, c = divmod(flat, SCORE_SIZE)
        stats = response_stats(score, (r, c))
        if float(chosen[r, c]) < self.params.min_score:
            return MemberResult(self._xyxy.copy(), stats)
        # the map's coordinates are fractions of the search crop (offsets in cells)
        bcx = (c + offset[0, r, c]) / SCORE_SIZE
        bcy = (r + offset[1, r, c]) / SCORE_SIZE
        bw, bh = size[0, r, c], size[1, r, c]
        ox, oy = cx - side / 2, cy - side / 2
        box = np.array(
            [
                ox + (bcx - bw / 2) * side,
                oy + (bcy - bh / 2) * side,
                ox + (bcx + bw / 2) * side,
                oy + (bcy + bh / 2) * side,
            ],
            dtype=np.float64,
        )
        self._xyxy = clamp_box(box, int(bgr.shape[1]), int(bgr.shape[0]))
        return MemberResult(self._xyxy.copy(), stats)

    def embed(self, bgr: Image, xyxy: FloatArray) -> npt.NDArray[np.float32]:
        """A zero-mean, L2-normalised 32 x 32 grey thumbnail of the box ``xyxy``
        (VitTrack has no template branch: this is NCC, not a learned similarity)."""
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        size = (max(x2 - x1, 1.0), max(y2 - y1, 1.0))
        crop = crop_resize(bgr, ((x1 + x2) / 2, (y1 + y2) / 2), size, _EMBED_SIZE, (0, 0, 0))
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
        v = np.asarray(grey, dtype=np.float32).ravel()
        v = v - v.mean()
        n = float(np.linalg.norm(v))
        out: npt.NDArray[np.float32] = v / n if n > 0 else v
        return out


def vit_measurer() -> MemberMeasurer:
    """The ``vit`` back-end: a fresh VitTrack member as a measurer (one per pass)."""
    return MemberMeasurer(VitTrack())
