"""Which classes the detector may propose in a project: the ones the annotator labels.

A detector knows 80 COCO classes; a project that labels walkers wants walkers proposed,
not the cars parked along the street. :func:`proposal_classes` reads what the project
uses, label by label, over the tracks the annotator made (not open or rejected proposals):

1. a label named after a COCO class, or a common synonym of one (:data:`LABEL_SYNONYMS`:
   "pedestrian" is ``person``, "vehicle" is ``car``, ``truck`` and ``bus``), is that class;
2. any other label (the default "object", "target", ...) is the class of the detections
   that match its hand-drawn keyframes (IoU >= ``match_iou``), looked at on a few
   keyframe frames (at most ``max_frames`` detector calls for the whole project);
3. when neither says anything, the classes the user chose (the Preferences').

The result (:class:`ProposalScope`) goes into :attr:`.proposals.ProposalConfig.classes`
(:func:`tracker_annotate.app.detector_pass.detector_pass` does it after Track all).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tracker_annotate.core.boxes import BoxSource, iou_matrix
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import Project
from tracker_annotate.tracking.detector import COCO_CLASSES, Detector

log = logging.getLogger(__name__)

#: Label words that mean a COCO class (lower case, singular). A label is matched after
#: lower-casing and dropping a plural "s"; unknown words fall through to the keyframes.
LABEL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "pedestrian": ("person",),
    "people": ("person",),
    "walker": ("person",),
    "human": ("person",),
    "man": ("person",),
    "woman": ("person",),
    "child": ("person",),
    "player": ("person",),
    "rider": ("person",),
    "cyclist": ("person",),
    "vehicle": ("car", "truck", "bus"),
    "van": ("car", "truck"),
    "suv": ("car",),
    "taxi": ("car",),
    "lorry": ("truck",),
    "bike": ("bicycle",),
    "motorbike": ("motorcycle",),
    "scooter": ("motorcycle",),
    "plane": ("airplane",),
    "aeroplane": ("airplane",),
    "ship": ("boat",),
}


def label_to_classes(label: str) -> tuple[str, ...]:
    """COCO classes a label's name means (``()`` when it names none)."""
    word = " ".join(label.lower().replace("_", " ").split())
    for w in (word, word[:-1] if word.endswith("s") else word):
        if w in COCO_CLASSES:
            return (w,)
        if w in LABEL_SYNONYMS:
            return LABEL_SYNONYMS[w]
    return ()


@dataclass(frozen=True)
class ProposalScope:
    """What :func:`proposal_classes` chose: the classes (``None``: whatever the detector
    reports), where they came from, and the detector calls it made to find out."""

    classes: tuple[str, ...] | None
    source: str  # "labels", "keyframes", "labels and keyframes" or "chosen"
    calls: int = 0

    def describe(self) -> str:
        if self.classes is None:
            return "every class the detector reports"
        where = "the classes chosen" if self.source == "chosen" else f"from the {self.source}"
        return f"{', '.join(self.classes)} ({where})"


def proposal_classes(
    project: Project,
    source: FrameSource,
    detector: Detector,
    chosen: Sequence[str] | None,
    *,
    match_iou: float = 0.5,
    max_frames: int = 3,
) -> ProposalScope:
    """The COCO classes to propose in ``project`` (see the module doc), sorted; ``chosen``
    (the user's classes, ``None``: the detector's own) when the project says nothing."""
    found: set[str] = set()
    unnamed: set[str] = set()
    for info in project.tracks.values():
        if info.proposed:
            continue
        classes = label_to_classes(info.label)
        if classes:
            found.update(classes)
        else:
            unnamed.add(info.label)
    where = ["labels"] if found else []
    calls = 0
    if unnamed:
        seen, calls = _keyframe_classes(
            project, source, detector, unnamed, match_iou=match_iou, max_frames=max_frames
        )
        if seen:
            where.append("keyframes")
        found |= seen
    if not found:
        return ProposalScope(tuple(chosen) if chosen is not None else None, "chosen", calls)
    log.debug("proposal classes from the project's %s: %s", where, sorted(found))
    return ProposalScope(tuple(sorted(found)), " and ".join(where), calls)


def _keyframe_classes(
    project: Project,
    source: FrameSource,
    detector: Detector,
    labels: set[str],
    *,
    match_iou: float,
    max_frames: int,
) -> tuple[set[str], int]:
    """Classes of the detections matching the manual keyframes of tracks labelled
    ``labels``, on the keyframe frames holding the most such boxes (at most ``max_frames``)."""
    by_frame: dict[int, list[np.ndarray]] = {}
    for tid, info in project.tracks.items():
        if info.proposed or info.label not in labels:
            continue
        for f, b in project.boxes(tid).items():
            if b.source is BoxSource.MANUAL and not b.outside and 0 <= f < source.n_frames:
                by_frame.setdefault(f, []).append(b.xyxy.to_array())
    frames = sorted(by_frame, key=lambda f: (-len(by_frame[f]), f))[:max_frames]
    out: set[str] = set()
    for f in frames:
        dets = detector.detect(source.read(f), f)
        if not len(dets):
            continue
        m = iou_matrix(np.stack(by_frame[f]), dets.xyxy)
        for j in np.flatnonzero(m.max(axis=0) >= match_iou):
            cid = int(dets.class_ids[j])
            if cid >= 0 and cid in dets.class_names:
                out.add(dets.class_names[cid])
    return out, len(frames)
