"""The ``nano`` measurement back-end: NanoTrack v2 through OpenCV's ``cv2.TrackerNano``.

The weights ship inside the package (``tracker_annotate/models/nanotrack-v2/``, Apache-2.0)
and are checked by sha256 before OpenCV loads them; a missing or damaged file is a
:class:`~tracker_annotate.core.errors.ModelError` naming it. OpenCV parses the ONNX files on
every ``TrackerNano_create`` (about 20 ms), so one tracker is created per pass and
re-initialised (``init``, about 1 ms) whenever the engine hands it a trusted box.

NanoTrack's own score does not predict its failures (ROC-AUC 0.56 measured here), so the
engine builds the confidence from other evidence; the score is only one input.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any

import cv2
import numpy as np

from tracker_annotate.core.errors import ModelError
from tracker_annotate.models import verified_path
from tracker_annotate.tracking.measure import FloatArray, FrameData, Measurement, clip_xywh

log = logging.getLogger(__name__)


def _quiet_opencv() -> None:
    """OpenCV 5 warns on every TrackerNano load ("Targets are not supported ..."): noise."""
    with contextlib.suppress(AttributeError):  # builds without the logging utils
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def create_nano() -> Any:
    """A new ``cv2.TrackerNano`` on the shipped, verified weights."""
    backbone = verified_path("nanotrack_backbone")
    head = verified_path("nanotrack_head")
    if not hasattr(cv2, "TrackerNano_create"):
        raise ModelError(
            f"this OpenCV build ({cv2.__version__}) has no TrackerNano; install "
            "opencv-contrib-python-headless >= 4.7 or choose another --tracker"
        )
    _quiet_opencv()
    params = cv2.TrackerNano_Params()  # type: ignore[attr-defined]
    params.backbone = str(backbone)
    params.neckhead = str(head)
    try:
        return cv2.TrackerNano_create(params)
    except cv2.error as exc:
        raise ModelError(
            f"OpenCV could not load the NanoTrack model {backbone} / {head}: {exc}; "
            "reinstall tracker_annotate"
        ) from exc


def _bgr(frame: FrameData) -> Any:
    return frame.bgr if frame.bgr.ndim == 3 else cv2.cvtColor(frame.bgr, cv2.COLOR_GRAY2BGR)


class NanoMeasurer:
    """NanoTrack v2: Siamese template matching in a search region around its last box."""

    name = "nano"

    def __init__(self) -> None:
        self._tracker: Any = create_nano()
        self._ok = False
        self.score = math.nan

    def start(self, frame: FrameData, xyxy: FloatArray) -> None:
        xywh = clip_xywh(xyxy, frame.width, frame.height)
        self._ok = xywh is not None
        if xywh is not None:
            self._tracker.init(_bgr(frame), xywh)

    def measure(
        self, prev: FrameData, cur: FrameData, prev_xyxy: FloatArray, pred_xyxy: FloatArray
    ) -> Measurement:
        if not self._ok:
            return Measurement(None, method=self.name)
        try:
            ok, xywh = self._tracker.update(_bgr(cur))
        except cv2.error as exc:
            log.debug("nano update failed on frame %d: %s", cur.index, exc)
            return Measurement(None, method=self.name)
        if not ok or xywh[2] < 1 or xywh[3] < 1:
            return Measurement(None, method=self.name)
        x, y, w, h = (float(v) for v in xywh)
        score = float(self._tracker.getTrackingScore())
        return Measurement(
            np.array([x, y, x + w, y + h], dtype=np.float64),
            quality=0.8,
            method=self.name,
            score=score,
        )
