"""The four labeling strategies, each driving a :class:`SimulatedAnnotator`.

* ``per_frame``: draw every GT box.
* ``interpolation``: keyframes on each track's first and last frame, linear interpolation
  between (CVAT, Label Studio, VATIC); the annotator adds a keyframe at the frame with the
  worst IoU below ``tau`` until every box reaches ``tau``. Cost: keyframes x draw plus a
  playback review of every box.
* ``tracker_oracle``: the same loop and accounting, but our engine fills between keyframes
  and re-tracks the touched segments after each new keyframe (Kuznetsova et al., WACV 2021:
  "manual boxes needed").
* ``tracker_flagged``: the product workflow. Draw each track's first box, mark its end,
  let the engine propagate, visit only flagged boxes (verify, or correct when IoU < tau,
  which re-tracks), until no flag is left. When the track has no box on the frame right
  after a box the annotator just verified or corrected although the object is still there
  (a wrong "track end", or a track lost right after a keyframe), the annotator continues it
  by drawing that next frame (a correction, re-tracked). Unflagged boxes are never looked
  at.

Engines are anything with ``track_project`` / ``retrack_after_edit`` (see :class:`Engine`):
the real one, the interpolation baseline, or a test double. The engine receives the
project and the frames, never the annotator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from tracker_annotate.bench.annotator import Quality, SimulatedAnnotator
from tracker_annotate.bench.costs import ActionCounts, CostModel
from tracker_annotate.bench.interpolate import LinearInterpolationEngine
from tracker_annotate.bench.sequences import GroundTruthSequence
from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.errors import TrackingError
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import Project
from tracker_annotate.core.review import flagged_positions
from tracker_annotate.tracking.api import TrackerConfig, TrackingRun, apply_run

STRATEGIES = (
    "per_frame",
    "interpolation",
    "tracker_oracle",
    "tracker_flagged",
    # the app's real review (tracker_annotate.bench.review_strategies)
    "tracker_stretch",
    "tracker_audited",
    "tracker_guided",
    "tracker_prelabeled",
    # flagged review whose verdicts recalibrate the confidence (bench.adaptive)
    "tracker_adaptive",
)
#: Strategies that use the engine's flags (flag threshold, precision and recall reported).
FLAGGING = ("tracker_flagged", "tracker_stretch", "tracker_audited", "tracker_adaptive")


def _priced(value: Any, costs: CostModel) -> Any:
    """``ActionCounts`` anywhere in ``value`` become their counts and their seconds."""
    if isinstance(value, ActionCounts):
        return {**asdict(value), "seconds": round(value.seconds(costs), 3)}
    if isinstance(value, dict):
        return {k: _priced(v, costs) for k, v in value.items()}
    if isinstance(value, list):
        return [_priced(v, costs) for v in value]
    return value


class Engine(Protocol):
    """The tracking engine's two entry points (``tracker_annotate.tracking.engine``)."""

    def track_project(
        self, project: Project, source: Any, config: TrackerConfig, *, track_ids: Any = None
    ) -> TrackingRun: ...

    def retrack_after_edit(
        self, project: Project, source: Any, config: TrackerConfig, track_id: int, frame: int
    ) -> TrackingRun: ...


def _need(source: FrameSource | None) -> FrameSource:
    if source is None:
        raise TrackingError("the tracking engine needs frames; got no frame source")
    return source


class RealEngine:
    """The production engine, imported on first use."""

    def track_project(
        self,
        project: Project,
        source: FrameSource | None,
        config: TrackerConfig,
        *,
        track_ids: list[int] | None = None,
    ) -> TrackingRun:
        from tracker_annotate.tracking import engine

        return engine.track_project(project, _need(source), config, track_ids=track_ids)

    def retrack_after_edit(
        self,
        project: Project,
        source: FrameSource | None,
        config: TrackerConfig,
        track_id: int,
        frame: int,
    ) -> TrackingRun:
        from tracker_annotate.tracking import engine

        return engine.retrack_after_edit(project, _need(source), config, track_id, frame)


@dataclass
class _Driver:
    """Runs the engine on the annotator's project, installs its output, times it."""

    engine: Engine
    source: FrameSource | None
    config: TrackerConfig
    seconds: float = 0.0
    calls: int = 0
    last_run: TrackingRun | None = None

    def track_all(self, project: Project) -> None:
        t0 = time.perf_counter()
        run = self.engine.track_project(project, self.source, self.config)
        apply_run(project, run)
        self.last_run = run
        self.seconds += time.perf_counter() - t0
        self.calls += 1

    def retrack(self, project: Project, track_id: int, frame: int) -> None:
        t0 = time.perf_counter()
        run = self.engine.retrack_after_edit(project, self.source, self.config, track_id, frame)
        apply_run(project, run, "Re-track")
        self.seconds += time.perf_counter() - t0
        self.calls += 1


@dataclass
class StrategyResult:
    """One strategy on one sequence: what the annotator did and what came out."""

    sequence: str
    strategy: str
    tau: float
    counts: ActionCounts
    quality: Quality
    compute_seconds: float = 0.0
    flag_threshold: float | None = None
    flag_precision: float | None = None
    flag_recall: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, costs: CostModel) -> dict[str, Any]:
        q = self.quality
        n = q.n_gt_boxes
        out: dict[str, Any] = {
            "seconds": round(self.counts.seconds(costs), 3),
            "manual_boxes": self.counts.manual_boxes,
            "drawn_boxes": self.counts.draws,
            "verified_boxes": self.counts.verifications,
            "corrected_boxes": self.counts.corrections,
            "end_marks": self.counts.end_marks,
            "watched_boxes": self.counts.watched,
            "gt_boxes": n,
            "mean_iou": round(q.mean_iou, 5),
            "residual_error_rate": q.unseen_below_half / n if n else 0.0,
            "residual_error_rate_tau": q.unseen_below_tau / n if n else 0.0,
            "residual_errors": q.unseen_below_half,
            "residual_errors_tau": q.unseen_below_tau,
            "missing_boxes": q.missing,
            "extra_boxes": q.extra,
            "tau": self.tau,
            "compute_seconds": round(self.compute_seconds, 3),
        }
        if self.strategy in FLAGGING:
            out["flag_threshold"] = self.flag_threshold
            out["flag_precision"] = self.flag_precision
            out["flag_recall"] = self.flag_recall
        out.update(_priced(self.extra, costs))
        return out


def run_per_frame(gt: GroundTruthSequence, tau: float) -> StrategyResult:
    """Draw every GT box by hand."""
    ann = SimulatedAnnotator(gt)
    for gid in ann.gt_track_ids:
        for f in gt.tracks[gid].frames.tolist():
            ann.draw(gid, f)
    return StrategyResult(gt.name, "per_frame", tau, ann.counts, ann.quality(tau))


def keyframe_loop(ann: SimulatedAnnotator, driver: _Driver, tau: float) -> None:
    """Keyframes on each track's first and last frame, fill, then keyframe the worst box
    below ``tau`` and re-fill its segments, until every box reaches ``tau``.

    Shared by interpolation and tracker_oracle. A track that leaves the picture and comes
    back gets keyframes on each visible run's first and last frame and an end mark (an
    ``outside`` box) after every run but the last, as a CVAT user would do.
    """
    for gid in ann.gt_track_ids:
        runs = ann.runs(gid)
        for i, (first, last) in enumerate(runs):
            ann.draw(gid, first)
            if last != first:
                ann.draw(gid, last)
            if i < len(runs) - 1:  # the object leaves and comes back: mark the gap
                ann.mark_end(gid, last)
    driver.track_all(ann.project)
    for gid in ann.gt_track_ids:
        tid = ann.track_id(gid)
        while True:
            ious = ann.ious(gid)
            i = int(ious.argmin())
            if ious[i] >= tau:
                break
            frame = int(ann.gt_frames(gid)[i])
            box = ann.project.box(tid, frame)
            if box is not None and box.is_keyframe and not box.outside:
                raise TrackingError(
                    f"{ann.project.media.path if ann.project.media else '?'}: track {tid} "
                    f"keyframe on frame {frame} scores IoU {ious[i]:.3f} < {tau}; the engine "
                    "must not move keyframes"
                )
            ann.draw(gid, frame)
            driver.retrack(ann.project, tid, frame)
        for f in ann.extra_frames(gid):  # a box where the object is not: playback shows it
            ann.delete(gid, f)
    ann.watch_playback()


def run_interpolation(gt: GroundTruthSequence, tau: float) -> StrategyResult:
    """The CVAT-style baseline (see module docstring)."""
    ann = SimulatedAnnotator(gt)
    driver = _Driver(LinearInterpolationEngine(), None, TrackerConfig(extend=False))
    keyframe_loop(ann, driver, tau)
    return StrategyResult(
        gt.name, "interpolation", tau, ann.counts, ann.quality(tau), driver.seconds
    )


def run_tracker_oracle(
    gt: GroundTruthSequence,
    engine: Engine,
    source: FrameSource | None,
    config: TrackerConfig,
    tau: float,
) -> StrategyResult:
    """The interpolation loop with our engine filling between keyframes. The engine is told
    not to extend past the last keyframe (the loop's last keyframe is the track's end)."""
    ann = SimulatedAnnotator(gt)
    cfg = TrackerConfig(**{**config.__dict__, "extend": False})
    driver = _Driver(engine, source, cfg)
    keyframe_loop(ann, driver, tau)
    return engine_result(gt, "tracker_oracle", tau, ann, driver)


def engine_result(
    gt: GroundTruthSequence,
    strategy: str,
    tau: float,
    ann: SimulatedAnnotator,
    driver: _Driver,
    *,
    flags: tuple[float | None, float | None] | None = None,
    **extra: Any,
) -> StrategyResult:
    """The result of a strategy that ran the engine: the annotator's counts and quality,
    the engine's time and calls (first in ``extra``); with ``flags`` (precision, recall,
    either may be ``None``) also the flag threshold the review used."""
    precision, recall = flags if flags is not None else (None, None)
    return StrategyResult(
        gt.name,
        strategy,
        tau,
        ann.counts,
        ann.quality(tau),
        driver.seconds,
        flag_threshold=driver.config.flag_threshold if flags is not None else None,
        flag_precision=precision,
        flag_recall=recall,
        extra={"engine_calls": driver.calls, **extra},
    )


def _flag_stats(ann: SimulatedAnnotator, tau: float) -> tuple[float | None, float | None]:
    """Precision and recall of the flags against "IoU < tau" over the derived boxes (a
    missing box is bad and unflagged; a box where the object is absent is bad)."""
    tp = flagged = bad = 0
    for gid in ann.gt_track_ids:
        tid = ann.track_id(gid)
        boxes = ann.project.boxes(tid)
        ious = ann.ious(gid)
        for f, iou in zip(ann.gt_frames(gid).tolist(), ious.tolist(), strict=True):
            b = boxes.get(f)
            if b is not None and b.is_keyframe:
                continue
            is_flagged = b is not None and b.flagged
            is_bad = iou < tau
            tp += is_flagged and is_bad
            flagged += is_flagged
            bad += is_bad
        for f in ann.extra_frames(gid):
            if boxes[f].is_derived:
                tp += boxes[f].flagged
                flagged += boxes[f].flagged
                bad += 1
    return (tp / flagged if flagged else None, tp / bad if bad else None)


def _continue_track(ann: SimulatedAnnotator, driver: _Driver, gt_id: int, frame: int) -> None:
    """The annotator is on ``frame`` of a track (just verified or corrected there). If the
    track has no box on the next frame although the object is still visible (a wrong
    "track end" or a track lost right after a keyframe), they draw the next frame (priced
    as a correction) and re-track from it, until the track goes on by itself."""
    tid = ann.track_id(gt_id)
    while ann.track_stops_early(gt_id, frame):
        frame += 1
        ann.correct(gt_id, frame)
        driver.retrack(ann.project, tid, frame)


def review_flags(
    ann: SimulatedAnnotator,
    driver: _Driver,
    tau: float,
    retrack_after_verify: Callable[[FrameBox], bool] | None = None,
    fix_with: Callable[[int, int], bool] | None = None,
    *,
    after_visit: Callable[[], bool] | None = None,
) -> int:
    """Visit flagged boxes until none is left: verify (IoU >= ``tau``), correct and
    re-track, or delete where the object is not; returns the number of visits.

    ``retrack_after_verify(box)`` says whether accepting that box (now a keyframe) should
    re-track from it, as the app does for a box the detector re-found. ``fix_with(gt_id,
    frame)`` is tried on a wrong box before redrawing it: True when it fixed the box
    (counted by whoever fixed it); the box is then re-tracked from. ``after_visit()`` runs
    after each visit; True means it changed the flags (the queue is read again).
    """
    project = ann.project
    visits = 0
    while True:
        corrected = False
        for frame, tid in flagged_positions(project):
            box = project.box(tid, frame)
            owner = ann.gt_id_of(tid)
            if box is None or not box.flagged or box.verified or owner is None:
                continue
            gid = owner
            visits += 1
            iou = ann.iou_at(gid, frame)
            if iou is None:  # the object is not on this frame
                if box.outside:
                    ann.verify(gid, frame)
                else:
                    ann.delete(gid, frame)
            elif iou >= tau:
                ann.verify(gid, frame)
                if after_visit is not None and after_visit():
                    corrected = True
                    break
                if retrack_after_verify is not None and retrack_after_verify(box):
                    driver.retrack(project, tid, frame)
                    corrected = True
                    break
                if ann.track_stops_early(gid, frame):
                    _continue_track(ann, driver, gid, frame)
                    corrected = True
                    break
            else:
                if fix_with is None or not fix_with(gid, frame):
                    ann.correct(gid, frame)
                driver.retrack(project, tid, frame)
                _continue_track(ann, driver, gid, frame)
                if after_visit is not None:
                    after_visit()
                corrected = True
                break  # re-tracking may have moved or raised flags: look again
        if not corrected:
            break
    return visits


def run_tracker_flagged(
    gt: GroundTruthSequence,
    engine: Engine,
    source: FrameSource | None,
    config: TrackerConfig,
    tau: float,
) -> StrategyResult:
    """The product workflow (see module docstring)."""
    ann = SimulatedAnnotator(gt)
    driver = _Driver(engine, source, config)
    for gid in ann.gt_track_ids:
        for first, last in ann.runs(gid):  # one run unless the object leaves and returns
            ann.draw(gid, first)
            ann.mark_end(gid, last)
    driver.track_all(ann.project)
    precision, recall = _flag_stats(ann, tau)
    visits = review_flags(ann, driver, tau)
    return engine_result(
        gt, "tracker_flagged", tau, ann, driver, flags=(precision, recall), flag_visits=visits
    )
