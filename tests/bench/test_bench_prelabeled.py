"""``tracker_prelabeled`` accounting on a sequence whose answer is known by hand: a fake
detector proposes one exact box, one loose box, one false box, and misses one object; the
engine is the GT test double of ``test_bench_strategies`` (a perfect tracker)."""

from __future__ import annotations

import numpy as np
import pytest
from bench_helpers import static
from conftest import MakeSequence
from test_bench_strategies import GroundTruthEngineDouble

from tracker_annotate.bench.costs import ActionCounts, CostModel
from tracker_annotate.bench.prelabeled import run_tracker_prelabeled
from tracker_annotate.bench.sequences import load_mot_sequence
from tracker_annotate.bench.strategies import run_tracker_flagged
from tracker_annotate.core.detections import Detections
from tracker_annotate.core.project import Project
from tracker_annotate.tracking.api import TrackerConfig, TrackingRun


class OnlyGtTracks(GroundTruthEngineDouble):
    """The double, ignoring rejected proposals (tracks with no GT behind them)."""

    def track_project(
        self, project: Project, source: object, config: TrackerConfig, *, track_ids: object = None
    ) -> TrackingRun:
        tids = [t for t in sorted(project.tracks) if project.track(t).name.startswith("gt")]
        return self._run(project, config, tids)


class FakeDetector:
    class_names = ("person",)
    last_ms = 0.0

    def __init__(self, boxes: dict[int, list[tuple[float, float, float, float]]]) -> None:
        self.boxes, self.calls = boxes, []

    def detect(self, bgr: np.ndarray, frame: int = 0) -> Detections:
        self.calls.append(frame)
        b = self.boxes.get(frame, [])
        return Detections(
            [frame] * len(b), np.array(b).reshape(-1, 4), [0.9] * len(b), [0] * len(b)
        )


class Frames:
    n_frames = 30

    def read(self, index: int) -> np.ndarray:
        return np.zeros((120, 160, 3), np.uint8)


def test_prelabeled_prices_proposals_as_verifications_and_corrections(
    make_sequence: MakeSequence,
) -> None:
    # static() puts a 30x40 box at (10, 30): shift each track to its own place
    rows = {
        1: [(f, 5, 5, 30, 40) for f, *_ in static(range(30))],
        2: [(f, 60, 5, 30, 40) for f, *_ in static(range(30))],
        3: [(f, 110, 5, 30, 40) for f, *_ in static(range(10, 30))],  # enters mid-video
        4: [(f, 60, 60, 30, 40) for f, *_ in static(range(30))],  # the detector misses it
    }
    gt = load_mot_sequence(make_sequence(rows, 30))
    det = FakeDetector(
        {
            0: [(5, 5, 35, 45), (66, 9, 96, 49), (130, 80, 150, 110)],  # exact, loose, false
            10: [(110, 5, 140, 45)],  # the newcomer, exactly, on its first frame
        }
    )
    tau = 0.7
    r = run_tracker_prelabeled(
        gt, OnlyGtTracks(gt), Frames(), TrackerConfig(), tau, detector=det, refind=False
    )  # type: ignore[arg-type]
    assert det.calls == [0, 10]  # each track's first frame, once per frame
    e = r.extra
    assert (e["proposals_accepted"], e["proposals_corrected"], e["first_boxes_drawn"]) == (2, 1, 1)
    assert e["proposals_rejected"] == 1
    # 2 accepted + 1 rejected proposals are verifications; the loose one (IoU 0.56) is fixed
    assert r.counts == ActionCounts(draws=1, corrections=1, verifications=3, end_marks=4)
    assert r.quality.mean_iou == pytest.approx(1.0)  # accepted boxes are exact here
    flagged = run_tracker_flagged(gt, GroundTruthEngineDouble(gt), None, TrackerConfig(), tau)
    assert flagged.counts == ActionCounts(draws=4, end_marks=4)
    costs = CostModel()
    saved = flagged.counts.seconds(costs) - r.counts.seconds(costs)
    assert saved == pytest.approx(4 * 7.0 - (7.0 + 7.0 + 3 * 1.6))  # 9.2 s on 4 tracks
