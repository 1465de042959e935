"""What the detector may propose (the project's classes, one proposal per object), and a
parked object, easy to track, is not flagged frame after frame."""

from __future__ import annotations

import numpy as np
import pytest
from tracking_scenes import ArraySource, MovingObject

from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.detections import Detections
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.core.proposals import accept_proposal, add_proposals
from tracker_annotate.tracking.api import TrackerConfig, apply_run
from tracker_annotate.tracking.engine import track_project
from tracker_annotate.tracking.proposal_scope import label_to_classes, proposal_classes
from tracker_annotate.tracking.proposals import ProposalConfig, propose_new_objects

NAMES = {0: "person", 2: "car", 7: "truck"}


class SceneDetector:
    """The walker (object 0) as a person; the parked object (object 1) as a car at 0.7 *and*
    a truck at 0.6 (per-class NMS keeps both, as YOLOX-nano did on vtest.avi's van)."""

    class_names = tuple(NAMES.values())
    last_ms = 1.0

    def __init__(self, scene: ArraySource) -> None:
        self.scene = scene
        self.calls: list[int] = []

    def detect(self, bgr: np.ndarray, frame: int = 0) -> Detections:
        self.calls.append(frame)
        walker, parked = (o.xyxy(frame) for o in self.scene.objects)
        van = parked + np.array([1.0, -1.0, 2.0, 1.0])  # the truck box, IoU ~0.9 with the car
        return Detections(
            np.full(3, frame), np.stack([walker, parked, van]), [0.9, 0.7, 0.6], [0, 2, 7], NAMES
        )


def _scene() -> ArraySource:
    return ArraySource(
        [
            MovingObject((20, 60, 60, 140), (1.5, 0.2), seed=1),  # a walker
            MovingObject((200, 120, 280, 170), (0.0, 0.0), seed=2),  # a parked car
        ],
        n=60,
    )


def _project(scene: ArraySource, label: str = "object") -> tuple[Project, int]:
    p = Project(MediaRef("scene", scene.n_frames, scene.w, scene.h, 25.0))
    if label not in p.labels:
        commands.add_label(p, label)
    tid = commands.add_track(p, 0, BoxXYXY.from_array(scene.truth(0, 0)), label)
    return p, tid


@pytest.mark.parametrize(
    ("label", "classes"),
    [
        ("person", ("person",)),  # a COCO class name
        ("Persons", ("person",)),  # case and a plural
        ("pedestrian", ("person",)),  # a synonym
        ("traffic_light", ("traffic light",)),  # underscores for spaces
        ("vehicle", ("car", "truck", "bus")),  # a synonym meaning several classes
        ("object", ()),  # the default label names nothing: the keyframes decide
        ("larva", ()),  # nothing the detector knows
    ],
)
def test_label_to_classes(label: str, classes: tuple[str, ...]) -> None:
    assert label_to_classes(label) == classes


def test_the_project_s_classes_come_from_its_labels_then_its_keyframes_then_the_choice() -> None:
    scene = _scene()
    det = SceneDetector(scene)
    p, _ = _project(scene, "pedestrian")
    got = proposal_classes(p, scene, det, ("car",))
    assert (got.classes, got.source, got.calls) == (("person",), "labels", 0)
    # the default label: the detections on the drawn keyframe say what it is
    p, _ = _project(scene)
    got = proposal_classes(p, scene, det, ("car",))
    assert (got.classes, got.source, got.calls) == (("person",), "keyframes", 1)
    assert "person (from the keyframes)" in got.describe()
    # nothing drawn (open proposals do not count): the user's choice
    p = Project(MediaRef("scene", scene.n_frames, scene.w, scene.h, 25.0))
    assert proposal_classes(p, scene, det, ("car",)).classes == ("car",)
    assert proposal_classes(p, scene, det, None).classes is None


def test_only_the_project_s_classes_are_proposed_and_each_object_once() -> None:
    scene = _scene()
    p = Project(MediaRef("scene", scene.n_frames, scene.w, scene.h, 25.0))
    cfg = ProposalConfig(every=30, track_ahead=False, backtrack_step=0)
    # every class: the walker, and the parked car once, though it is also a "truck"
    found, _ = propose_new_objects(p, scene, SceneDetector(scene), cfg)
    assert sorted(x.label for x in found if x.frame == 0) == ["car", "person"]
    # the project's classes only: the walker
    found, _ = propose_new_objects(
        p, scene, SceneDetector(scene), ProposalConfig(**{**cfg.__dict__, "classes": ("person",)})
    )
    assert {x.label for x in found} == {"person"}


def test_a_parked_object_is_not_flagged_after_tracking() -> None:
    """The issue's vtest.avi case in a rendered scene: a walker drawn, the detector proposes
    the parked car (once, though it also calls it a truck), the annotator accepts it, Track
    all. The parked car is easy to track: not one of its boxes may be flagged."""
    scene = _scene()
    p, _ = _project(scene)
    apply_run(p, track_project(p, scene, TrackerConfig()))
    found, _ = propose_new_objects(p, scene, SceneDetector(scene), ProposalConfig(every=30))
    parked = [x for x in found if x.label != "person"]
    assert len(parked) == 1  # one object, one proposal
    (car,) = add_proposals(p, parked)
    accept_proposal(p, car)
    apply_run(p, track_project(p, scene, TrackerConfig()))
    boxes = p.boxes(car)
    assert len(boxes) == scene.n_frames  # tracked from its proposal to the last frame
    assert [f for f, b in boxes.items() if b.flagged] == []
    truth = scene.truth(1, scene.n_frames - 1)
    assert boxes[scene.n_frames - 1].xyxy.iou(BoxXYXY.from_array(truth)) > 0.9
