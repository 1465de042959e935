"""What a detector adds after a tracking run: new objects, and re-found lost tracks.

Both are plain functions over a project whose run is installed (:func:`.api.apply_run`),
a frame source and a :class:`~tracker_annotate.tracking.detector.Detector`; the app and the
CLI call them after a run, and install the results as one undoable step each
(:func:`tracker_annotate.core.proposals.add_proposals`, :func:`install_refound`).

* :func:`propose_new_objects`: the detector runs every ``every`` frames (chosen from the
  measured cost by :func:`choose_interval`, so it stays a bounded share of the engine's
  time). A confident detection no track explains, and that no rejected proposal explains,
  is followed back (detector every ``backtrack_step`` frames) to where it first appears and
  tracked ahead from there, so it is proposed once, as a whole track, not on every run of
  the schedule. Its first box is flagged "new object?" in the review queue.
* Re-finding lost tracks is :mod:`tracker_annotate.tracking.refind` (same settings,
  same call budget: :func:`split_budget`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox, iou_matrix
from tracker_annotate.core.detections import Detections
from tracker_annotate.core.errors import ConfigError
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import Project, TrackInfo
from tracker_annotate.core.proposals import (
    Proposal,
    is_rejected,
    rejected_boxes,
)
from tracker_annotate.tracking.api import TrackerConfig
from tracker_annotate.tracking.detector import Detector
from tracker_annotate.tracking.params import require_unit_interval

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ProposalConfig:
    """When the detector runs after a run, and what it may propose. Each says its trade-off."""

    #: Detector interval in frames for new objects; ``None`` picks it from the measured cost
    #: (:func:`choose_interval`). Lowering it finds entering objects sooner but costs time.
    every: int | None = None
    #: Share of the engine's compute the new-object schedule may cost when ``every`` is None.
    budget: float = 0.2
    #: Bounds of the chosen interval (frames).
    min_every: int = 5
    max_every: int = 250
    #: Detections below this score are never proposed. Raising it proposes fewer false
    #: objects for the annotator to reject, but finds fewer real ones. Measured
    #: (``benchmarks/bench_proposals.py``, ``benchmarks/results/proposals.md``): on the
    #: shared multi-object pedestrian sequences (TUD-Campus, TUD-Stadtmitte, every frame)
    #: the shipped YOLOX-nano's person detections match a labelled person in 52% of the
    #: 0.5-0.6 band (80% at 0.6-0.7, 98% above 0.7) but 20% of the 0.4-0.5 band, counting
    #: every unmatched one as wrong; 0.5 is the lowest score from which a proposal is more
    #: likely right than wrong without leaning on a judgement by eye (with the people the
    #: ground truth leaves unlabelled counted as right, 0.4 would also pass, at 0.76).
    min_score: float = 0.5
    #: COCO class names a proposal may have (``None``: every class the detector reports).
    #: After Track all the app sets it to what the project labels
    #: (:func:`~tracker_annotate.tracking.proposal_scope.proposal_classes`). Widening it
    #: finds objects of other kinds, but proposes what nobody here annotates (the cars
    #: parked along a street whose walkers are the job).
    classes: tuple[str, ...] | None = None
    #: A detection overlapping a track's box by this IoU is that track (explained).
    explained_iou: float = 0.3
    #: A detection overlapping a rejected proposal by this IoU is not proposed again.
    rejected_iou: float = 0.5
    #: The walk back links a detection to one on an earlier frame at this IoU. Raising it
    #: stops the walk sooner on fast objects; lowering it may walk onto a neighbour.
    link_iou: float = 0.3
    #: Step (frames) of the walk back to where a new object first appears (0: no walk).
    backtrack_step: int = 4
    #: Track each proposal ahead (one engine run per schedule frame with new objects), so
    #: later schedule frames see it as explained. Off: a proposal is its one box, and an
    #: object still untracked may be proposed again on each later schedule frame.
    track_ahead: bool = True
    #: Re-find: detections below this score are not looked at. Lower than ``min_score``:
    #: a re-found box must also look like the track's keyframes and fall in its Kalman gate,
    #: so a weak detection there is rarely wrong; raising it re-finds fewer occluded objects.
    refind_min_score: float = 0.5
    #: Re-find: appearance (NCC vs. the track's keyframes) a detection needs. Raising it
    #: avoids re-finding a look-alike but misses objects whose look changed.
    refind_app: float = 0.5
    #: Re-find: a detection overlapping the track's own box by this IoU is near enough
    #: (besides the Kalman gate); one overlapping another track's box by ``refind_taken_iou``
    #: is that track's. Raising the first looks at fewer far candidates; raising the second
    #: lets a track be re-found on an object a neighbour is already on.
    refind_own_iou: float = 0.3
    refind_taken_iou: float = 0.5
    #: Re-find: frames after a lost end on which the detector looks, and how many looks.
    refind_horizon: int = 60
    refind_tries: int = 4
    #: Re-find: a run of this many flagged frames below the flag threshold is "stays low".
    low_conf_frames: int = 10

    def __post_init__(self) -> None:
        if self.every is not None and self.every < 1:
            raise ConfigError(f"every must be >= 1 frame or None, got {self.every}")
        require_unit_interval(
            self,
            "budget",
            "min_score",
            "refind_min_score",
            "explained_iou",
            "rejected_iou",
            "refind_app",
            "refind_own_iou",
            "refind_taken_iou",
            "link_iou",
        )
        if not 1 <= self.min_every <= self.max_every:
            raise ConfigError(
                f"need 1 <= min_every <= max_every, got {self.min_every}, {self.max_every}"
            )
        for name in ("backtrack_step", "refind_horizon", "refind_tries", "low_conf_frames"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class DetectorCost:
    """How often the detector ran and for how long (wall time)."""

    calls: int = 0
    seconds: float = 0.0
    frames: list[int] = field(default_factory=list)

    @property
    def ms_per_call(self) -> float:
        return 1000.0 * self.seconds / self.calls if self.calls else 0.0


def choose_interval(
    engine_ms_per_frame: float, detector_ms: float, config: ProposalConfig = ProposalConfig()
) -> int:
    """Frames between detector runs so the detector costs ``config.budget`` of the engine.

    One detector call per ``N`` frames costs ``detector_ms / N`` per frame; the engine costs
    ``engine_ms_per_frame`` (all tracks together). Half the budget goes to the schedule and
    half to walking new objects back (:func:`propose_new_objects` spends at most as many
    calls walking back as the schedule has frames). ``config.every`` wins when set.
    """
    if config.every is not None:
        return config.every
    if engine_ms_per_frame <= 0 or config.budget <= 0:
        return config.max_every
    n = math.ceil(detector_ms / (0.5 * config.budget * engine_ms_per_frame))
    return int(min(max(n, config.min_every), config.max_every))


def split_budget(
    n_frames: int,
    engine_seconds: float,
    detector_ms: float,
    config: ProposalConfig = ProposalConfig(),
) -> tuple[int, int]:
    """``(re-find calls, new-object interval)`` so that re-finding, the new-object schedule
    and its walk back together cost about ``config.budget`` of the engine's run.

    The calls the budget buys (at least 2) go half to re-finding; the rest to the schedule,
    half of those to walking back (see :func:`choose_interval`). ``config.every`` wins.
    """
    calls = max(2, int(config.budget * 1000.0 * engine_seconds / max(detector_ms, 1e-3)))
    refind = calls // 2
    if config.every is not None:
        return refind, config.every
    sched = max(1, (calls - refind) // 2)
    every = math.ceil(n_frames / sched)
    return refind, int(min(max(every, config.min_every), config.max_every))


def in_scope(dets: Detections, classes: Sequence[str] | None) -> Detections:
    """The detections whose class is one of ``classes`` (all of them for ``None``)."""
    if classes is None or not len(dets):
        return dets
    names = np.array([_label_of(dets, i) for i in range(len(dets))], dtype=object)
    return dets[np.isin(names, list(classes))]


class _Runner:
    """The detector on frames of a source, with a cache and a cost count."""

    def __init__(
        self,
        source: FrameSource,
        detector: Detector,
        min_score: float,
        classes: Sequence[str] | None = None,
    ) -> None:
        self.source, self.detector, self.min_score = source, detector, min_score
        self.classes = classes
        self.cost = DetectorCost()
        self._cache: dict[int, Detections] = {}
        #: calls still allowed for optional work (walking back); None: unlimited
        self.spare: int | None = None

    def cached(self, frame: int) -> bool:
        return frame in self._cache

    def affords(self, frame: int) -> bool:
        """Whether optional work may look at ``frame`` (cached frames are free)."""
        return frame in self._cache or self.spare is None or self.spare > 0

    def optional(self, frame: int) -> Detections:
        if frame not in self._cache and self.spare is not None:
            self.spare -= 1
        return self(frame)

    def __call__(self, frame: int) -> Detections:
        got = self._cache.get(frame)
        if got is None:
            img = self.source.read(frame)
            t0 = time.perf_counter()
            got = in_scope(self.detector.detect(img, frame), self.classes)
            got = got.with_min_score(self.min_score)
            self.cost.seconds += time.perf_counter() - t0
            self.cost.calls += 1
            self.cost.frames.append(frame)
            self._cache[frame] = got
        return got


def _boxes_on(by_frame: dict[int, list[FloatArray]], frame: int) -> FloatArray:
    got = by_frame.get(frame)
    return np.stack(got) if got else np.zeros((0, 4))


def _occupancy(project: Project) -> dict[int, list[FloatArray]]:
    """Every visible box of every track but rejected proposals, by frame."""
    out: dict[int, list[FloatArray]] = {}
    for tid in project.tracks:
        if is_rejected(project, tid):
            continue
        for f, b in project.boxes(tid).items():
            if not b.outside:
                out.setdefault(f, []).append(b.xyxy.to_array())
    return out


def _label_of(dets: Detections, i: int) -> str:
    cid = int(dets.class_ids[i])
    return dets.class_names.get(cid, "object") if cid >= 0 else "object"


def _track_ahead(
    project: Project,
    source: FrameSource,
    starts: Sequence[tuple[int, FloatArray, float]],
    tracker_config: TrackerConfig,
) -> list[list[FrameBox]]:
    """Derived boxes after each ``(frame, xyxy, score)`` start, by the engine (scratch project)."""
    from tracker_annotate.tracking.engine import track_project

    scratch = Project(project.media)
    with scratch.edit("scratch") as tx:
        for i, (f, xyxy, score) in enumerate(starts, start=1):
            tx.set_track(TrackInfo(i))
            box = FrameBox(f, BoxXYXY.from_array(xyxy), BoxSource.IMPORTED, min(score, 1.0))
            tx.set_box(i, box.with_(verified=True))
    run = track_project(scratch, source, tracker_config)
    return [run.boxes.get(i, []) for i in range(1, len(starts) + 1)]


def _unexplained(
    dets: Detections, frame: int, occupied: dict[int, list[FloatArray]], iou: float
) -> npt.NDArray[np.bool_]:
    keep = np.ones(len(dets), dtype=bool)
    occ = _boxes_on(occupied, frame)
    if len(dets) and len(occ):
        keep &= iou_matrix(dets.xyxy, occ).max(axis=1) < iou
    return keep


def one_per_object(
    dets: Detections, keep: npt.NDArray[np.bool_], iou: float
) -> npt.NDArray[np.bool_]:
    """``keep`` with each object kept once: a kept detection overlapping a higher-scoring
    kept one by ``iou`` or more is that object (explained by it, as by a track's box).

    The detector's NMS is per class, so one parked van comes out as a ``truck`` *and* a
    ``car``, overlapping by IoU 0.9; proposed twice, the two tracks sit on one object on
    every frame, and every box of both is flagged "two tracks on one object" (vtest.avi:
    about 1,500 flags for one van)."""
    out = keep.copy()
    idx = np.flatnonzero(keep)
    if len(idx) < 2:
        return out
    idx = idx[np.argsort(-dets.scores[idx], kind="stable")]
    m = iou_matrix(dets.xyxy[idx], dets.xyxy[idx])
    taken: list[int] = []
    for k, i in enumerate(idx):
        if any(m[k, j] >= iou for j in taken):
            out[i] = False
        else:
            taken.append(k)
    return out


def _backtrack(
    run: _Runner,
    xyxy: FloatArray,
    *,
    frame: int,
    stop: int,
    step: int,
    occupied: dict[int, list[FloatArray]],
    iou: float,
    link_iou: float,
) -> list[tuple[int, FloatArray]]:
    """Walk each box back by ``step`` frames while the detector still sees it (IoU chain)."""
    chains = [(frame, row) for row in xyxy]
    if step <= 0:
        return chains

    def back(ks: list[int], t: int) -> list[int]:
        """Move chains ``ks`` to frame ``t`` where the detector sees them; the ones seen."""
        if not run.affords(t):
            return []
        dets = run.optional(t)
        dets = dets[_unexplained(dets, t, occupied, iou)]
        seen = []
        if len(dets):
            m = iou_matrix(np.stack([chains[k][1] for k in ks]), dets.xyxy)
            rows, cols = linear_sum_assignment(-m)
            for r, c in zip(rows, cols, strict=True):
                if m[r, c] >= link_iou:
                    chains[ks[r]] = (t, dets.xyxy[c])
                    seen.append(ks[r])
        return seen

    alive = list(range(len(chains)))
    t = frame - step
    while alive and t > stop:  # coarse: every ``step`` frames
        seen = back(alive, t)
        for k in alive:
            if k not in seen:  # fine: frame by frame between the miss and the last sighting
                g = chains[k][0] - 1
                while g > max(t, stop) and back([k], g):
                    g -= 1
        alive = seen
        t -= step
    for k in alive:  # reached the previous schedule frame: look between it and the chain
        g = chains[k][0] - 1
        while g > stop and g > chains[k][0] - step and back([k], g):
            g -= 1
    return chains


def propose_new_objects(
    project: Project,
    source: FrameSource,
    detector: Detector,
    config: ProposalConfig = ProposalConfig(),
    *,
    every: int | None = None,
    frames: Sequence[int] | None = None,
    tracker_config: TrackerConfig | None = None,
    also_explained: Sequence[tuple[int, BoxXYXY]] = (),
) -> tuple[list[Proposal], DetectorCost]:
    """Confident detections that match no track and no rejection, as proposals.

    The detector runs on ``frames`` (default: every ``every`` frames from 0, ``every``
    defaulting to ``config.every`` or 30). Proposals start where the object first appears
    (see :attr:`ProposalConfig.backtrack_step`; the walk back spends at most as many
    detector calls as the schedule) and, with ``track_ahead``, carry the engine's boxes
    after that frame. ``also_explained`` ``(frame, xyxy)`` boxes (e.g. re-found tracks)
    explain detections from their frame on (followed by the tracker with ``track_ahead``).
    Nothing is changed in the project.
    """
    n = source.n_frames
    step = every or config.every or 30
    sched = sorted(set(frames)) if frames is not None else list(range(0, n, step))
    runner = _Runner(source, detector, config.min_score, config.classes)
    runner.spare = len(sched)
    tcfg = tracker_config or TrackerConfig()
    occupied = _occupancy(project)
    rejected = rejected_boxes(project)
    rej_xyxy = np.stack([b.to_array() for _, b in rejected]) if rejected else np.zeros((0, 4))
    follow = [*rejected, *also_explained]  # a rejected object that moves is still rejected
    for f, xy in also_explained:
        occupied.setdefault(f, []).append(xy.to_array())
    if follow and config.track_ahead:
        ahead = _track_ahead(project, source, [(f, xy.to_array(), 1.0) for f, xy in follow], tcfg)
        for followed in ahead:
            for fb in followed:
                occupied.setdefault(fb.frame, []).append(fb.xyxy.to_array())
    out: list[Proposal] = []
    prev = -1
    for g in sched:
        dets = runner(g)
        keep = _unexplained(dets, g, occupied, config.explained_iou)
        if len(dets) and len(rej_xyxy):
            keep &= iou_matrix(dets.xyxy, rej_xyxy).max(axis=1) < config.rejected_iou
        idx = np.flatnonzero(one_per_object(dets, keep, config.explained_iou))
        if len(idx):
            chains = _backtrack(
                runner,
                dets.xyxy[idx],
                frame=g,
                stop=prev,
                step=config.backtrack_step,
                occupied=occupied,
                iou=config.explained_iou,
                link_iou=config.link_iou,
            )
            starts = [
                (f, xyxy, float(dets.scores[i])) for (f, xyxy), i in zip(chains, idx, strict=True)
            ]
            later: list[list[FrameBox]] = [[] for _ in starts]
            if config.track_ahead:
                later = _track_ahead(project, source, starts, tcfg)
            for (f, xyxy, score), i, boxes in zip(starts, idx, later, strict=True):
                out.append(
                    Proposal(
                        f, BoxXYXY.from_array(xyxy), score, _label_of(dets, int(i)), tuple(boxes)
                    )
                )
                occupied.setdefault(f, []).append(xyxy)
                for b in boxes:
                    occupied.setdefault(b.frame, []).append(b.xyxy.to_array())
        prev = g
    log.debug("new objects: %d proposals, %d detector calls", len(out), runner.cost.calls)
    return out, runner.cost


def detect_on_frame(
    project: Project,
    frame_bgr: npt.NDArray[np.uint8],
    frame: int,
    detector: Detector,
    config: ProposalConfig = ProposalConfig(),
) -> list[Proposal]:
    """Proposals on one frame (the "detect objects on this frame" key): detections that no
    box on the frame and no rejected proposal explains."""
    dets = in_scope(detector.detect(frame_bgr, frame), config.classes)
    dets = dets.with_min_score(config.min_score)
    occupied = _occupancy(project)
    keep = _unexplained(dets, frame, occupied, config.explained_iou)
    rejected = rejected_boxes(project)
    if len(dets) and rejected:
        rej = np.stack([b.to_array() for _, b in rejected])
        keep &= iou_matrix(dets.xyxy, rej).max(axis=1) < config.rejected_iou
    keep = one_per_object(dets, keep, config.explained_iou)
    return [
        Proposal(frame, BoxXYXY.from_array(dets.xyxy[i]), float(dets.scores[i]), _label_of(dets, i))
        for i in np.flatnonzero(keep).tolist()
    ]


class DetectorFeed:
    """The detector as the engine's ``detections`` argument, run only on the frames asked.

    ``at_frame(f)`` runs the detector on frame ``f`` of ``source`` (cached; at most
    ``max_calls`` calls, then empty). The engine today asks for every frame it steps
    through, so this is for the hook that asks only on frames where a pass is coasting
    (see the report of issue 13); with it, a detection near the Kalman prediction re-seeds
    the pass through the engine's existing detection path.
    """

    #: Tells the engine to ask only on frames where it needs a measurement (see above).
    lazy = True

    def __init__(
        self, source: FrameSource, detector: Detector, *, min_score: float = 0.5, max_calls: int
    ) -> None:
        self._runner = _Runner(source, detector, min_score)
        self._runner.spare = max_calls

    @property
    def cost(self) -> DetectorCost:
        return self._runner.cost

    def at_frame(self, frame: int) -> Detections:
        if not self._runner.affords(frame):
            return Detections.empty()
        return self._runner.optional(frame)
