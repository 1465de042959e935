"""The model layer: boxes, tracks, project, undo, review queue, quality target and audit,
errors. NumPy only, no Qt."""

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox, iou_matrix
from tracker_annotate.core.errors import (
    BoxError,
    ConfigError,
    FormatError,
    MediaError,
    MediaMovedError,
    ProjectDamagedError,
    ProjectError,
    TrackerAnnotateError,
    TrackingError,
)
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import ChangeSet, MediaRef, Project, TrackInfo

__all__ = [
    "BoxError",
    "BoxSource",
    "BoxXYXY",
    "ChangeSet",
    "ConfigError",
    "FormatError",
    "FrameBox",
    "Label",
    "MediaError",
    "MediaMovedError",
    "MediaRef",
    "Project",
    "ProjectDamagedError",
    "ProjectError",
    "TrackInfo",
    "TrackerAnnotateError",
    "TrackingError",
    "iou_matrix",
]
