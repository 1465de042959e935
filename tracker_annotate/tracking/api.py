"""The tracking engine's public contract, shared by the CLI, the GUI and the benchmark.

* :class:`TrackerConfig`: every knob, frozen, validated, each with its trade-off.
* :class:`TrackingRun`: what a run computed; install it with :func:`apply_run` (one undo step).
* :class:`CancelToken` and :data:`ProgressCallback`: for background workers.

The implementation is :func:`tracker_annotate.tracking.engine.track_project` and
:func:`tracker_annotate.tracking.engine.retrack_after_edit`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.commands import replace_derived_boxes
from tracker_annotate.core.errors import ConfigError
from tracker_annotate.core.labels import DEFAULT_LABEL
from tracker_annotate.core.project import Project, TrackInfo
from tracker_annotate.tracking.backends import DEFAULT_TRACKER, TRACKER_NAMES, backend
from tracker_annotate.tracking.params import (
    AssocParams,
    CascadeParams,
    CommitteeParams,
    FusionParams,
    KalmanParams,
    require_unit_interval,
)

__all__ = [
    "TRACKER_NAMES",
    "CancelToken",
    "PartialCallback",
    "ProgressCallback",
    "TrackerConfig",
    "TrackingRun",
    "apply_run",
]


#: ``progress(done, total)`` in object-frames; called from the worker thread.
ProgressCallback = Callable[[int, int], None]

#: ``on_partial(track_id, boxes)``: boxes of one track finished so far, for streaming views.
PartialCallback = Callable[[int, list[FrameBox]], None]


@dataclass(frozen=True)
class TrackerConfig:
    """Engine parameters. Each says what raising it buys and what it risks."""

    #: Measurement back-end, one of :data:`TRACKER_NAMES` (see :mod:`.backends`).
    tracker: str = DEFAULT_TRACKER
    #: Boxes with confidence below this are flagged for review. Raising it shows the
    #: annotator more boxes (fewer wrong boxes slip through) but costs more review time.
    flag_threshold: float = 0.5
    #: After a track's last keyframe, keep tracking until the object leaves, is lost or the
    #: video ends (the end is flagged for confirmation). False stops at the last keyframe.
    extend: bool = True
    #: Frames the Kalman filter may coast without a trusted measurement before the track is
    #: declared lost. Raising it bridges longer occlusions but risks drifting boxes.
    max_coast_frames: int = 15
    #: Minimum IoU for a model detection to be associated with a track. Raising it avoids
    #: wrong associations in crowds but drops detections when the tracker lags.
    detection_iou: float = 0.3
    #: Detections with at least this score that match no track become proposed tracks.
    #: Raising it proposes fewer false tracks but misses weakly detected objects.
    proposal_score: float = 0.6
    #: Threads for one run: forward and backward sweeps run side by side, each decoding
    #: from its own media handle, and each frame's proposals are shared by this many
    #: threads (the next frame decoded ahead). More uses more cores; the boxes are the
    #: same. 1 runs everything on the calling thread.
    threads: int = 2
    #: The ``cascade`` back-end's thresholds (and its loss rules).
    cascade: CascadeParams = field(default_factory=CascadeParams)
    #: The motion model's noise and gate.
    kalman: KalmanParams = field(default_factory=KalmanParams)
    #: How forward, backward and straight-line paths are combined between keyframes, and
    #: when a self-contained back-end counts as lost.
    fusion: FusionParams = field(default_factory=FusionParams)
    #: Across-track rules: overlaps between tracks, proposed tracks from detections, and
    #: the confidence of rule-flagged boxes (see :class:`.params.AssocParams`).
    assoc: AssocParams = field(default_factory=AssocParams)
    #: How the ``committee`` back-end combines its members' boxes and re-starts a member
    #: that left the others (see :class:`.params.CommitteeParams`).
    committee: CommitteeParams = field(default_factory=CommitteeParams)

    def __post_init__(self) -> None:
        backend(self.tracker)  # ConfigError naming the allowed names
        require_unit_interval(self, "flag_threshold", "detection_iou", "proposal_score")
        if self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        if self.max_coast_frames < 0:
            raise ConfigError(f"max_coast_frames must be >= 0, got {self.max_coast_frames}")


class CancelToken:
    """Thread-safe cancellation flag checked by the engine between frames."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class TrackingRun:
    """Output of one engine run.

    ``boxes[track_id]`` are the new derived boxes; ``spans[track_id]`` is the inclusive frame
    range that was recomputed (derived boxes inside it are replaced). ``cancelled`` runs hold
    what was finished. ``object_frames`` and ``seconds`` give throughput.
    """

    boxes: dict[int, list[FrameBox]] = field(default_factory=dict)
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    cancelled: bool = False
    object_frames: int = 0
    seconds: float = 0.0
    proposed: list[list[FrameBox]] = field(default_factory=list)  # tracks from detections
    #: Evidence row (:data:`tracker_annotate.tracking.calibration.FEATURES`) of each derived
    #: box the calibrated model scored, by track and frame: for fitting and diagnostics.
    features: dict[int, dict[int, Any]] = field(default_factory=dict)
    #: The reason each such box would be flagged for, by track and frame.
    reasons: dict[int, dict[int, str]] = field(default_factory=dict)


def apply_run(project: Project, run: TrackingRun, description: str = "Track") -> None:
    """Install a run's boxes as one undoable step. Keyframes are never overwritten.

    ``run.proposed`` tracks (from model detections) are added in the same step as new
    tracks with ``TrackInfo(proposed=True)`` and their ``IMPORTED`` boxes.
    """
    with project.edit(description) as tx:
        replace_derived_boxes(project, run.boxes, run.spans, description)
        for boxes in run.proposed:
            if not boxes:
                continue
            if DEFAULT_LABEL.name not in project.labels:
                tx.set_label(DEFAULT_LABEL)
            tid = tx.new_track_id()
            tx.set_track(TrackInfo(tid, DEFAULT_LABEL.name, proposed=True))
            for box in boxes:
                tx.set_box(tid, box)
