"""FEAR-XS (PinataFarms, ECCV 2022) as a committee member, run by ``cv2.dnn``.

Two shipped nets (``tracker_annotate/models/fear-xs/``, MIT):

* the template net: the box grown by :attr:`FearParams.template_context` of its width and
  height on each side, padded with the frame's mean colour, resized to 128 x 128, **RGB**
  float 0-255 (the ImageNet normalisation is inside the graph) -> ``features`` [N,256,8,8];
* the track net: the previous box grown by :attr:`FearParams.search_context` on each side
  (``x - 2w, y - 2h, 5w, 5h``: the crop keeps the box's aspect ratio, so it is stretched
  to the square input), resized to 256 x 256, with the template features -> ``cls``
  [N,1,16,16] logits and ``bbox`` [N,4,16,16], distances (left, top, right, bottom) in
  search-crop pixels from grid point ``(16 c, 16 r)`` of cell (r, c).

The released tracker takes the arg-max of ``sigmoid(cls)`` with no cosine window and no
size penalty (the reference's ``smooth`` option is off); that is the default here.
:class:`FearParams` can switch on the reference's window and size penalty. Measured raw
from each first box on the 8 first shared sequences (3,598 boxes), pooled mean IoU:
released 0.667; window 0.38 + penalty 0.062 (the reference's ``smooth``) 0.677, nearly
all of it on OTB-Soccer (0.30 -> 0.40, a clip where single tracks flip either way); the
window alone (0.15) 0.656; the penalty alone 0.648. No consistent gain, and the raw
peak's ROC-AUC for IoU < 0.5 falls from 0.900 to 0.887, so the default stays released.

The converted graph has batch 1 written into its reshapes. :func:`batchable_track_onnx`
rewrites those shape constants (batch ``1`` -> ``0``, ONNX's "copy this dimension") in
memory, so one ``forward`` can run N search crops against N templates
(:func:`track_forward`); the shipped file and its sha256 stay as released.
"""

from __future__ import annotations

import logging
import struct
import threading
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
    mean_color,
    response_stats,
)

log = logging.getLogger(__name__)

TEMPLATE_SIZE = 128
SEARCH_SIZE = 256
SCORE_SIZE = 16
STRIDE = 16
FEATURE_SHAPE = (256, 8, 8)

F32 = npt.NDArray[np.float32]

# The converted graph's static reshape targets, int64 little-endian as stored in the file.
_RESHAPES = (
    (struct.pack("<3q", 1, 256, -1), struct.pack("<3q", 0, 256, -1), 3),
    (struct.pack("<4q", 1, -1, SCORE_SIZE, SCORE_SIZE), struct.pack("<4q", 0, -1, 16, 16), 2),
)

_cache: dict[tuple[str, str], bytes] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class FearParams:
    """FEAR-XS's crop geometry and (optional) smoothing of its choice.

    * ``template_context`` / ``search_context``: the fraction of the box's width and height
      added on each side for the template (0.2) and search (2.0) crops. These are the
      trained geometry: changing them breaks the net.
    * ``window_influence``: weight of a cosine window mixed into the score map before the
      arg-max (the reference's 0.38 when ``smooth`` is on). Raising it resists jumps to
      look-alikes far from the previous box, but risks lagging behind fast motion. 0 is the
      released tracker.
    * ``penalty_k``: size/aspect-change penalty ``exp(-k (r s - 1))`` on the score map
      (reference 0.062). Raising it keeps the size stable but slows real scale changes.
    * ``size_lr``: when a penalty is on, the new size moves towards the predicted one at
      ``penalty * score * size_lr`` (reference 0.765); 1 with no penalty.
    """

    template_context: float = 0.2
    search_context: float = 2.0
    window_influence: float = 0.0
    penalty_k: float = 0.0
    size_lr: float = 0.765

    def __post_init__(self) -> None:
        if not 0.0 <= self.window_influence <= 1.0:
            raise ValueError(f"window_influence must be in [0, 1], got {self.window_influence}")
        if self.penalty_k < 0.0:
            raise ValueError(f"penalty_k must be >= 0, got {self.penalty_k}")
        if not 0.0 <= self.size_lr <= 1.0:
            raise ValueError(f"size_lr must be in [0, 1], got {self.size_lr}")
        if self.template_context < 0.0 or self.search_context <= 0.0:
            raise ValueError(
                "template_context must be >= 0 and search_context > 0, got "
                f"{self.template_context}, {self.search_context}"
            )


def _model_bytes(name: str, models_dir: Path | None) -> bytes:
    """The verified file's bytes, read once per process (cv2.dnn parses from memory)."""
    path = verified_path(name, models_dir)
    key = (name, str(path))
    with _cache_lock:
        data = _cache.get(key)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"model file {path} cannot be read ({exc.strerror})") from exc
        if name == "fear_xs_track":
            data = batchable_track_onnx(data)
        with _cache_lock:
            _cache[key] = data
    return data


def batchable_track_onnx(data: bytes) -> bytes:
    """The track net's ONNX bytes with its batch-1 reshapes turned into "copy the batch".

    Each shape constant must occur exactly as often as the graph uses it; anything else
    (a different file) returns the bytes unchanged, which still runs with N = 1.
    """
    out = data
    for old, new, count in _RESHAPES:
        if data.count(old) != count:
            log.warning("FEAR-XS track net: unexpected reshape constants; batch of 1 only")
            return data
        out = out.replace(old, new)
    return out


def _read_net(name: str, models_dir: Path | None) -> Any:
    data = _model_bytes(name, models_dir)
    try:
        return cv2.dnn.readNetFromONNX(np.frombuffer(data, dtype=np.uint8))
    except cv2.error as exc:
        raise ModelError(f"OpenCV could not load the FEAR-XS model {name!r}: {exc}") from exc


def _blob(rgb_crops: list[Image]) -> F32:
    """N HxWx3 uint8 RGB crops -> an N x 3 x H x W float32 blob, 0-255."""
    stack = np.stack(rgb_crops).astype(np.float32)
    return np.ascontiguousarray(stack.transpose(0, 3, 1, 2))


def track_forward(net: Any, search: F32, features: F32) -> tuple[F32, F32]:
    """One forward of the track net: ``search`` N x 3 x 256 x 256 (RGB 0-255) against
    ``features`` N x 256 x 8 x 8 -> (``cls`` logits N x 1 x 16 x 16, ``bbox`` N x 4 x 16 x 16)."""
    net.setInput(search, "image")
    net.setInput(features, "template_features")
    bbox, cls = net.forward(["bbox", "cls"])
    return np.asarray(cls, dtype=np.float32), np.asarray(bbox, dtype=np.float32)


def _sigmoid(x: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
    return out


_GRID = (np.arange(SCORE_SIZE, dtype=np.float64) - SCORE_SIZE // 2) * STRIDE + SEARCH_SIZE // 2
_WINDOW = np.outer(np.hanning(SCORE_SIZE), np.hanning(SCORE_SIZE))


class FearXS:
    """FEAR-XS on one object (:class:`~tracker_annotate.tracking.siamese.SiameseMember`).

    ``update`` = :meth:`search_crop` + :func:`track_forward` + :meth:`decode`; the engine
    may call the three itself to batch several objects' crops into one forward.
    One instance owns its two nets (``cv2.dnn`` nets are not thread-safe).
    """

    name = "fear"

    def __init__(self, params: FearParams | None = None, models_dir: Path | None = None) -> None:
        self.params = params or FearParams()
        self._template_net = _read_net("fear_xs_template", models_dir)
        self._track_net = _read_net("fear_xs_track", models_dir)
        self._features: F32 | None = None
        self._xyxy = np.zeros(4, dtype=np.float64)
        self._pad = (0.0, 0.0, 0.0)
        self._crop_xywh = (0.0, 0.0, 1.0, 1.0)

    # --- template -------------------------------------------------------------------------

    def _template_crop(self, bgr: Image, xyxy: FloatArray, pad: tuple[float, float, float]) -> Any:
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        k = 1.0 + 2.0 * self.params.template_context
        w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
        crop = crop_resize(bgr, ((x1 + x2) / 2, (y1 + y2) / 2), (k * w, k * h), TEMPLATE_SIZE, pad)
        return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)

    def features(self, bgr: Image, xyxy: FloatArray) -> F32:
        """The template net's features [1, 256, 8, 8] of the box ``xyxy`` on ``bgr``."""
        crop = self._template_crop(bgr, np.asarray(xyxy, dtype=np.float64), mean_color(bgr))
        self._template_net.setInput(_blob([crop]), "image")
        out: F32 = np.asarray(self._template_net.forward(), dtype=np.float32)
        return out

    def init(self, bgr: Image, xyxy: FloatArray) -> None:
        """(Re-)start on the trusted box ``xyxy`` (frame pixels) of frame ``bgr``."""
        box = np.asarray(xyxy, dtype=np.float64).copy()
        self._pad = mean_color(bgr)
        self._features = self.features(bgr, box)
        self._xyxy = box

    def embed(self, bgr: Image, xyxy: FloatArray) -> npt.NDArray[np.float32]:
        """The template features of ``xyxy`` on ``bgr``, flattened and L2-normalised."""
        v = self.features(bgr, xyxy).ravel()
        n = float(np.linalg.norm(v))
        out: npt.NDArray[np.float32] = (v / n if n > 0 else v).astype(np.float32)
        return out

    @property
    def template_features(self) -> F32:
        """The current template's features [1, 256, 8, 8] (for a batched forward)."""
        if self._features is None:
            raise RuntimeError("FearXS.update called before init")
        return self._features

    @property
    def track_net(self) -> Any:
        """This member's track net, which can run a whole batch (:func:`track_forward`)."""
        return self._track_net

    # --- search ---------------------------------------------------------------------------

    def search_crop(self, bgr: Image) -> Image:
        """The RGB 256 x 256 search crop around the last box (remembered for :meth:`decode`)."""
        x1, y1, x2, y2 = (float(v) for v in self._xyxy)
        w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
        k = 1.0 + 2.0 * self.params.search_context
        cw, ch = k * w, k * h
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        self._crop_xywh = (cx - cw / 2, cy - ch / 2, cw, ch)
        crop = crop_resize(bgr, (cx, cy), (cw, ch), SEARCH_SIZE, self._pad)
        out: Any = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        return out

    def decode(self, cls: F32, bbox: F32, width: int, height: int) -> MemberResult:
        """The box and stats from this object's ``cls`` [1,16,16] (logits) and ``bbox``
        [4,16,16] maps (one row of a batch, or a whole batch of 1)."""
        score = _sigmoid(np.asarray(cls, dtype=np.float64).reshape(SCORE_SIZE, SCORE_SIZE))
        ltrb = np.asarray(bbox, dtype=np.float64).reshape(4, SCORE_SIZE, SCORE_SIZE)
        gx = _GRID[None, :]
        gy = _GRID[:, None]
        bx1, by1 = gx - ltrb[0], gy - ltrb[1]
        bx2, by2 = gx + ltrb[2], gy + ltrb[3]
        ox, oy, cw, ch = self._crop_xywh
        sx, sy = cw / SEARCH_SIZE, ch / SEARCH_SIZE
        prev_w = max(float(self._xyxy[2] - self._xyxy[0]), 1.0)
        prev_h = max(float(self._xyxy[3] - self._xyxy[1]), 1.0)

        p = self.params
        pscore: npt.NDArray[np.float64] = score
        penalty = np.ones_like(score)
        if p.penalty_k > 0.0:
            # in frame pixels, so the crop's stretch does not count as an aspect change
            w = np.maximum((bx2 - bx1) * sx, 1e-3)
            h = np.maximum((by2 - by1) * sy, 1e-3)
            s_c = _change(_sz(w, h) / _sz(prev_w, prev_h))
            r_c = _change((prev_w / prev_h) / (w / h))
            penalty = np.exp(-(r_c * s_c - 1.0) * p.penalty_k)
            pscore = pscore * penalty
        if p.window_influence > 0.0:
            pscore = pscore * (1.0 - p.window_influence) + _WINDOW * p.window_influence
        rc = np.unravel_index(int(np.argmax(pscore)), pscore.shape)
        r, c = int(rc[0]), int(rc[1])

        x1 = ox + float(bx1[r, c]) * sx
        y1 = oy + float(by1[r, c]) * sy
        x2 = ox + float(bx2[r, c]) * sx
        y2 = oy + float(by2[r, c]) * sy
        if p.penalty_k > 0.0:
            lr = float(penalty[r, c] * score[r, c] * p.size_lr)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            w = prev_w * (1 - lr) + (x2 - x1) * lr
            h = prev_h * (1 - lr) + (y2 - y1) * lr
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        box = clamp_box(np.array([x1, y1, x2, y2], dtype=np.float64), width, height)
        self._xyxy = box
        return MemberResult(box, response_stats(score, (r, c)))

    def update(self, bgr: Image) -> MemberResult:
        """The object's box on the next frame ``bgr`` and the stats of ``sigmoid(cls)``."""
        feats = self.template_features
        crop = self.search_crop(bgr)
        cls, bbox = track_forward(self._track_net, _blob([crop]), feats)
        return self.decode(cls[0], bbox[0], int(bgr.shape[1]), int(bgr.shape[0]))


def _change(r: Any) -> Any:
    return np.maximum(r, 1.0 / r)


def _sz(w: Any, h: Any) -> Any:
    pad = (w + h) * 0.5
    return np.sqrt((w + pad) * (h + pad))


def fear_measurer() -> MemberMeasurer:
    """The ``fear`` back-end: a fresh FEAR-XS member as a measurer (one per pass)."""
    return MemberMeasurer(FearXS())
