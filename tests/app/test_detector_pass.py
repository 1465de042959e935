"""The detector's pass after Track all proposes the classes the project labels."""

from __future__ import annotations

import numpy as np
from tracking_scenes import ArraySource, MovingObject

from tracker_annotate.app.detector_pass import detector_pass
from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.detections import Detections
from tracker_annotate.core.project import MediaRef, Project, snapshot_project
from tracker_annotate.tracking.api import TrackerConfig
from tracker_annotate.tracking.engine import track_project
from tracker_annotate.tracking.proposals import ProposalConfig

NAMES = {0: "person", 2: "car"}


class StreetDetector:
    """Both walkers as people, the parked car as a car, on every frame."""

    class_names = tuple(NAMES.values())
    last_ms = 1.0

    def __init__(self, scene: ArraySource) -> None:
        self.scene = scene

    def detect(self, bgr: np.ndarray, frame: int = 0) -> Detections:
        boxes = np.stack([o.xyxy(frame) for o in self.scene.objects])
        return Detections(np.full(3, frame), boxes, [0.9, 0.85, 0.8], [0, 0, 2], NAMES)


def test_after_track_all_only_the_project_s_classes_are_proposed() -> None:
    scene = ArraySource(
        [
            MovingObject((20, 60, 60, 140), (1.5, 0.2), seed=1),  # the walker drawn
            MovingObject((240, 40, 280, 120), (-1.5, 0.3), seed=3),  # a walker not drawn
            MovingObject((150, 170, 230, 220), (0.0, 0.0), seed=2),  # a parked car
        ],
        n=40,
    )
    p = Project(MediaRef("scene", scene.n_frames, scene.w, scene.h, 25.0))
    commands.add_track(p, 0, BoxXYXY.from_array(scene.truth(0, 0)))  # label "object"
    config = TrackerConfig()
    run = track_project(p, scene, config)
    finds = detector_pass(
        snapshot_project(p),
        scene,
        run,
        StreetDetector(scene),
        proposal_config=ProposalConfig(every=20),
        tracker_config=config,
    )
    assert finds is not None
    assert [(f.label, f.frame) for f in finds.found] == [("person", 0)]  # not the car
    assert finds.scope is not None and finds.scope.classes == ("person",)
    assert "1 new object(s) of person (from the keyframes)" in finds.note
    # the user names the classes: they win
    finds = detector_pass(
        snapshot_project(p),
        scene,
        run,
        StreetDetector(scene),
        proposal_config=ProposalConfig(every=20, classes=("car",)),
        tracker_config=config,
    )
    assert finds is not None and [f.label for f in finds.found] == ["car"]
