"""Object detectors behind one small protocol: the shipped YOLOX-nano, or a user's own ONNX.

A :class:`Detector` turns one BGR frame into the project's columnar
:class:`~tracker_annotate.core.detections.Detections` (the container imported
``det.txt`` files use), so everything downstream (the engine's extra measurements, proposed
tracks, the MOT writer) treats model output and imported detections alike.

:class:`OnnxYoloxDetector` runs a YOLOX-layout ONNX model through ``cv2.dnn`` (no new
dependency): the frame is letterboxed into a ``size`` x ``size`` square (scaled to fit,
top-left aligned, padded with 114), BGR 0-255, NCHW float32; the output rows are
``cx, cy, w, h, objectness, class scores...`` on stride 8/16/32 grids, decoded as
``(xy + grid) * stride`` and ``exp(wh) * stride``; score = objectness x class score;
then per-class NMS (``cv2.dnn.NMSBoxesBatched``). :func:`shipped_detector` loads the
YOLOX-nano weights shipped in :mod:`tracker_annotate.models` after checking their sha256.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

from tracker_annotate.core.detections import Detections
from tracker_annotate.core.errors import ConfigError, MediaError, ModelError
from tracker_annotate.core.frames import Frame, FrameSource
from tracker_annotate.models import check_file, verified_path

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: The 80 COCO class names, in the order of YOLOX's class scores (class id = index).
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)  # fmt: skip

#: Classes proposed by default: what annotators of traffic and crowd videos label.
DEFAULT_CLASSES: tuple[str, ...] = ("person", "car", "bicycle", "motorcycle", "bus", "truck")

#: Grid strides of a YOLOX head, finest first (the order of its output rows).
STRIDES = (8, 16, 32)
#: Letterbox padding value (YOLOX was trained with it).
PAD_VALUE = 114.0


@dataclass(frozen=True)
class DetectorConfig:
    """Post-processing of a detector's raw output. Each threshold says its trade-off."""

    #: Detections scoring below this are dropped. Raising it gives fewer false boxes for the
    #: annotator to reject but misses small and occluded objects (recall falls).
    score_threshold: float = 0.25
    #: Two boxes of one class overlapping by more than this IoU are one object (NMS).
    #: Raising it keeps people in a tight crowd apart but leaves more duplicate boxes.
    nms_iou: float = 0.45
    #: Class names to keep (``None``: every class the model knows).
    classes: tuple[str, ...] | None = DEFAULT_CLASSES

    def __post_init__(self) -> None:
        for name in ("score_threshold", "nms_iou"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {v}")
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))


@runtime_checkable
class Detector(Protocol):
    """Anything that finds objects on a frame.

    ``detect(bgr, frame)`` returns the detections of one ``H x W x 3`` BGR uint8 image as
    :class:`Detections` whose ``frames`` column is ``frame`` (0-based) and whose
    ``class_names`` name the class ids. ``last_ms`` is the wall time of the last call.
    """

    class_names: Sequence[str]
    last_ms: float

    def detect(self, bgr: Frame, frame: int = 0) -> Detections: ...


def silence_opencv_log() -> None:
    """Keep OpenCV's DNN importer from printing to stderr (errors are raised, not logged)."""
    with contextlib.suppress(AttributeError):  # builds without the logging module
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def letterbox(bgr: Frame, size: int) -> tuple[npt.NDArray[np.float32], float]:
    """``(blob 1x3xSxS float32, scale)``: the frame scaled by ``scale`` to fit, top-left."""
    h, w = bgr.shape[:2]
    r = min(size / h, size / w)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.float32)
    interp = cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR
    canvas[:nh, :nw] = cv2.resize(bgr, (nw, nh), interpolation=interp)
    blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None])
    return blob, r


def grids(size: int, strides: Sequence[int] = STRIDES) -> tuple[FloatArray, FloatArray]:
    """``(grid xy (R, 2), stride (R, 1))`` for every output row of a ``size`` input."""
    xy, st = [], []
    for s in strides:
        n = size // s
        gy, gx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        xy.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        st.append(np.full((n * n, 1), s))
    return np.concatenate(xy).astype(np.float64), np.concatenate(st).astype(np.float64)


def decode(
    raw: npt.ArrayLike,
    size: int,
    scale: float,
    config: DetectorConfig,
    *,
    keep_class: npt.NDArray[np.bool_] | None = None,
    image_wh: tuple[int, int] | None = None,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """Raw YOLOX rows ``(R, 5 + C)`` to ``(xyxy, scores, class_ids)`` in image pixels.

    ``scale`` is the letterbox factor; ``keep_class`` masks the classes to consider;
    boxes are clipped to ``image_wh`` when given. Per-class NMS at ``config.nms_iou``.
    """
    a = np.asarray(raw, dtype=np.float64).reshape(-1, np.asarray(raw).shape[-1])
    grid_xy, stride = grids(size)
    if a.shape[0] != grid_xy.shape[0]:
        raise ModelError(
            f"detector output has {a.shape[0]} rows, a {size}x{size} YOLOX head gives "
            f"{grid_xy.shape[0]}; is this a YOLOX model with input size {size}?"
        )
    cls_scores = a[:, 5:]
    if keep_class is not None:
        cls_scores = np.where(keep_class[None, :], cls_scores, 0.0)
    cls = cls_scores.argmax(axis=1)
    scores = a[:, 4] * cls_scores[np.arange(len(a)), cls]
    ok = scores >= config.score_threshold
    if not ok.any():
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    a, scores, cls = a[ok], scores[ok], cls[ok]
    cxcy = (a[:, 0:2] + grid_xy[ok]) * stride[ok]
    wh = np.exp(np.clip(a[:, 2:4], -20, 20)) * stride[ok]
    xyxy = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], axis=1) / scale
    if image_wh is not None:
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, image_wh[0])
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, image_wh[1])
    good = (xyxy[:, 2] - xyxy[:, 0] >= 1) & (xyxy[:, 3] - xyxy[:, 1] >= 1)
    xyxy, scores, cls = xyxy[good], scores[good], cls[good]
    xywh = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in xyxy]
    idx = cv2.dnn.NMSBoxesBatched(
        xywh, scores.tolist(), cls.tolist(), config.score_threshold, config.nms_iou
    )
    keep = np.asarray(idx, dtype=np.int64).reshape(-1)
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    return xyxy[keep], scores[keep], cls[keep].astype(np.int64)


@dataclass
class OnnxYoloxDetector:
    """A YOLOX-layout ONNX model run by ``cv2.dnn`` (see the module doc for the format).

    ``class_names`` name the model's class scores in order; ``sha256``, when given, is
    checked before loading. ``config.classes`` names the classes kept (names the model does
    not know are a :class:`ConfigError`). Calls are serialised: a ``cv2.dnn`` net is not
    safe to share between threads.
    """

    path: Path
    class_names: Sequence[str] = COCO_CLASSES
    config: DetectorConfig = field(default_factory=DetectorConfig)
    size: int = 416
    sha256: str | None = None
    last_ms: float = 0.0
    _net: Any = field(init=False, repr=False)
    _keep: npt.NDArray[np.bool_] = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.class_names = tuple(self.class_names)
        if self.size % max(STRIDES) or self.size <= 0:
            raise ConfigError(f"input size must be a positive multiple of 32, got {self.size}")
        if self.sha256 is not None:
            check_file(self.path, self.sha256, fix="pass the right model file or its sha256")
        elif not self.path.is_file():
            raise ModelError(f"model file {self.path} is missing; pass the path of an ONNX file")
        wanted = self.config.classes
        if wanted is None:
            self._keep = np.ones(len(self.class_names), dtype=bool)
        else:
            unknown = [c for c in wanted if c not in self.class_names]
            if unknown:
                raise ConfigError(
                    f"classes {unknown} are not among the model's {len(self.class_names)} "
                    f"classes (e.g. {list(self.class_names[:6])})"
                )
            self._keep = np.array([c in wanted for c in self.class_names], dtype=bool)
        silence_opencv_log()
        try:
            self._net = cv2.dnn.readNet(str(self.path))
        except cv2.error as exc:
            raise ModelError(
                f"model file {self.path} cannot be loaded by OpenCV's DNN module: "
                f"{str(exc).strip().splitlines()[-1]}"
            ) from exc
        n_out = self._forward(np.full((1, 3, self.size, self.size), PAD_VALUE, np.float32))
        if n_out.shape[-1] != 5 + len(self.class_names):
            raise ModelError(
                f"model {self.path} outputs {n_out.shape[-1]} columns per row; a YOLOX model "
                f"with {len(self.class_names)} class names gives {5 + len(self.class_names)}"
            )

    def _forward(self, blob: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        with self._lock:
            self._net.setInput(blob)
            try:
                out: npt.NDArray[np.float32] = self._net.forward()
            except cv2.error as exc:
                raise ModelError(
                    f"model {self.path} failed on a {self.size}x{self.size} input: "
                    f"{str(exc).strip().splitlines()[-1]}"
                ) from exc
        return out

    def detect(self, bgr: Frame, frame: int = 0) -> Detections:
        if bgr.ndim != 3 or bgr.shape[2] != 3:
            raise MediaError(f"expected an H x W x 3 BGR image, got shape {bgr.shape}", frame=frame)
        t0 = time.perf_counter()
        blob, r = letterbox(bgr, self.size)
        raw = self._forward(blob)
        h, w = bgr.shape[:2]
        xyxy, scores, cls = decode(
            raw[0], self.size, r, self.config, keep_class=self._keep, image_wh=(w, h)
        )
        self.last_ms = (time.perf_counter() - t0) * 1000.0
        return Detections(
            np.full(len(scores), frame, np.int64),
            xyxy,
            scores,
            cls,
            dict(enumerate(self.class_names)),
        )


def shipped_detector(config: DetectorConfig | None = None) -> OnnxYoloxDetector:
    """The YOLOX-nano shipped with tracker_annotate (80 COCO classes), sha256-checked."""
    return OnnxYoloxDetector(
        verified_path("yolox_nano"), COCO_CLASSES, config or DetectorConfig(), size=416
    )


def read_class_names(path: Path) -> tuple[str, ...]:
    """Class names from a text file, one per line in the model's order (blank lines ignored)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"class-names file {path} cannot be read ({exc.strerror})") from exc
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not names:
        raise ModelError(f"class-names file {path} names no class (expected one per line)")
    return names


def load_detector(
    model: Path | None = None,
    class_names: Sequence[str] | Path | None = None,
    *,
    sha256: str | None = None,
    config: DetectorConfig | None = None,
    size: int = 416,
) -> OnnxYoloxDetector:
    """The shipped detector (``model`` None) or a user's own YOLOX-layout ONNX model.

    ``class_names`` is a sequence or a text file of names (default: the 80 COCO classes).
    """
    if model is None:
        return shipped_detector(config)
    names: Sequence[str]
    if class_names is None:
        names = COCO_CLASSES
    elif isinstance(class_names, Path):
        names = read_class_names(class_names)
    else:
        names = class_names
    return OnnxYoloxDetector(model, names, config or DetectorConfig(), size=size, sha256=sha256)


@dataclass
class DetectionTiming:
    """Detector wall time over several frames (ms)."""

    ms: list[float] = field(default_factory=list)

    @property
    def mean_ms(self) -> float:
        return float(np.mean(self.ms)) if self.ms else 0.0

    @property
    def total_s(self) -> float:
        return float(np.sum(self.ms)) / 1000.0


def concat_detections(parts: Iterable[Detections]) -> Detections:
    """One :class:`Detections` holding every row of ``parts`` (class names merged)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Detections.empty()
    names: dict[int, str] = {}
    for p in parts:
        names.update(p.class_names)
    return Detections(
        np.concatenate([p.frames for p in parts]),
        np.concatenate([p.xyxy for p in parts]),
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.class_ids for p in parts]),
        names,
    )


def detect_frames(
    detector: Detector, source: FrameSource, frames: Iterable[int]
) -> tuple[Detections, DetectionTiming]:
    """Run ``detector`` on each 0-based frame of ``source``: all detections, and the timing."""
    timing = DetectionTiming()
    parts = []
    for f in frames:
        if not 0 <= f < source.n_frames:
            raise MediaError(
                f"frame {f} is outside the video (0..{source.n_frames - 1})", path=source.path
            )
        parts.append(detector.detect(source.read(f), f))
        timing.ms.append(detector.last_ms)
    return concat_detections(parts), timing
