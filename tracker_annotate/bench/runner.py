"""Plan and run the labeling benchmark: (sequence x strategy x tau [x flag threshold]) tasks,
in this process or in worker processes, with progress in GT boxes done."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from tracker_annotate.bench.costs import CostModel
from tracker_annotate.bench.review_strategies import (
    AuditBenchConfig,
    run_tracker_audited,
    run_tracker_guided,
    run_tracker_stretch,
)
from tracker_annotate.bench.sequences import load_mot_sequence
from tracker_annotate.bench.strategies import (
    STRATEGIES,
    Engine,
    RealEngine,
    StrategyResult,
    run_interpolation,
    run_per_frame,
    run_tracker_flagged,
    run_tracker_oracle,
)
from tracker_annotate.core.errors import ConfigError
from tracker_annotate.tracking.api import TrackerConfig

log = logging.getLogger(__name__)

#: Relative cost of a task per GT box, for progress and for scheduling heavy tasks first.
_WEIGHT = {
    "per_frame": 1,
    "interpolation": 1,
    "tracker_oracle": 20,
    "tracker_flagged": 20,
    "tracker_stretch": 20,
    "tracker_audited": 30,
    "tracker_guided": 30,
    "tracker_prelabeled": 20,
    "tracker_adaptive": 25,
}


@dataclass(frozen=True)
class BenchConfig:
    """What to run. The first ``tau`` is the primary one (summary, plots)."""

    #: IoU an annotator accepts as correct. Higher demands more keyframes and corrections.
    taus: tuple[float, ...] = (0.7, 0.5)
    #: Extra engine flag thresholds for the trade-off curve (tracker_flagged at the
    #: primary tau). Each adds one flagged run per sequence.
    flag_thresholds: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
    #: Engine parameters; ``tracker.flag_threshold`` is the headline flagged run.
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    costs: CostModel = field(default_factory=CostModel)
    strategies: tuple[str, ...] = STRATEGIES
    #: Worker processes. 1 runs in this process; more run sequences in parallel.
    jobs: int = 1
    #: tracker_audited / tracker_guided: target, seeds for coverage, rounds, steps.
    audit: AuditBenchConfig = field(default_factory=AuditBenchConfig)

    def __post_init__(self) -> None:
        if not self.taus:
            raise ConfigError("taus: give at least one IoU threshold")
        for t in (*self.taus, *self.flag_thresholds):
            if not 0.0 < t <= 1.0:
                raise ConfigError(f"thresholds must be in (0, 1], got {t}")
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            raise ConfigError(f"unknown strategies {unknown}; choose from {STRATEGIES}")
        if self.jobs < 1:
            raise ConfigError(f"jobs must be >= 1, got {self.jobs}")

    @property
    def tau(self) -> float:
        return self.taus[0]


@dataclass(frozen=True)
class Task:
    path: str
    strategy: str
    tau: float
    flag_threshold: float | None = None
    weight: int = 1
    #: tracker_audited: every sequence of the run (one dataset audit); ``path`` is the first.
    paths: tuple[str, ...] = ()


def plan_tasks(paths: list[Path], n_boxes: dict[str, int], cfg: BenchConfig) -> list[Task]:
    """Every run the report needs, heaviest first."""
    tasks: list[Task] = []
    headline = cfg.tracker.flag_threshold
    for p in paths:
        n = n_boxes[str(p)]
        for tau in cfg.taus:
            for s in cfg.strategies:
                if s == "tracker_audited":
                    continue  # one task over every sequence, below
                ft = headline if s == "tracker_flagged" else None
                tasks.append(Task(str(p), s, tau, ft, n * _WEIGHT[s]))
        if "tracker_flagged" in cfg.strategies:
            for ft in cfg.flag_thresholds:
                if ft != headline:
                    tasks.append(Task(str(p), "tracker_flagged", cfg.tau, ft, n * 20))
    if "tracker_audited" in cfg.strategies and paths:
        total = sum(n_boxes[str(p)] for p in paths) * _WEIGHT["tracker_audited"]
        all_paths = tuple(str(p) for p in paths)
        for tau in cfg.taus:
            ft = cfg.tracker.flag_threshold
            tasks.append(Task(all_paths[0], "tracker_audited", tau, ft, total, all_paths))
    tasks.sort(key=lambda t: -t.weight)
    return tasks


def run_task_results(
    task: Task,
    tracker: TrackerConfig,
    engine: Engine | None = None,
    audit_cfg: AuditBenchConfig | None = None,
) -> list[StrategyResult]:
    """Run one task: one result, or one per sequence for the dataset audit."""
    if task.strategy == "tracker_audited" and task.paths:
        from tracker_annotate.bench.dataset_audited import run_dataset_audited

        cfg = replace(tracker, flag_threshold=task.flag_threshold or tracker.flag_threshold)
        return run_dataset_audited(
            list(task.paths),
            lambda gt: engine if engine is not None else RealEngine(),
            cfg,
            task.tau,
            cfg=audit_cfg,
        )
    return [run_task(task, tracker, engine, audit_cfg)]


def run_task(
    task: Task,
    tracker: TrackerConfig,
    engine: Engine | None = None,
    audit_cfg: AuditBenchConfig | None = None,
) -> StrategyResult:
    """Run one task. ``engine`` defaults to the real engine (tests pass a double)."""
    gt = load_mot_sequence(task.path)
    if task.strategy == "per_frame":
        return run_per_frame(gt, task.tau)
    if task.strategy == "interpolation":
        return run_interpolation(gt, task.tau)
    from tracker_annotate.io.media import open_media

    eng = engine if engine is not None else RealEngine()
    with open_media(task.path) as source:
        if source.n_frames != gt.n_frames:
            log.warning(
                "%s: seqinfo.ini says %d frames, %d decode", task.path, gt.n_frames, source.n_frames
            )
        if task.strategy == "tracker_oracle":
            return run_tracker_oracle(gt, eng, source, tracker, task.tau)
        if task.strategy == "tracker_guided":
            return run_tracker_guided(gt, eng, source, tracker, task.tau, cfg=audit_cfg)
        if task.strategy == "tracker_prelabeled":
            from tracker_annotate.bench.prelabeled import run_tracker_prelabeled
            from tracker_annotate.tracking.detector import shipped_detector

            return run_tracker_prelabeled(
                gt, eng, source, tracker, task.tau, detector=shipped_detector()
            )
        ft = task.flag_threshold if task.flag_threshold is not None else tracker.flag_threshold
        cfg = replace(tracker, flag_threshold=ft)
        if task.strategy == "tracker_stretch":
            return run_tracker_stretch(gt, eng, source, cfg, task.tau)
        if task.strategy == "tracker_audited":
            return run_tracker_audited(gt, eng, source, cfg, task.tau, cfg=audit_cfg)
        if task.strategy == "tracker_adaptive":
            from tracker_annotate.bench.adaptive import run_tracker_adaptive

            return run_tracker_adaptive(gt, eng, source, cfg, task.tau)
        return run_tracker_flagged(gt, eng, source, cfg, task.tau)


def _worker_init() -> None:
    try:
        import cv2

        cv2.setNumThreads(1)  # one process per core; OpenCV's own threads would oversubscribe
    except ImportError:  # pragma: no cover - cv2 is a hard dependency
        pass


def run_all(
    paths: list[Path],
    cfg: BenchConfig,
    progress: Callable[[int, int], None] | None = None,
    engine: Engine | None = None,
) -> list[StrategyResult]:
    """Run every planned task; ``progress(done_weight, total_weight)`` after each.

    With ``cfg.jobs > 1`` tasks run in spawned worker processes (the real engine only;
    ``engine`` test doubles need ``jobs == 1``).
    """
    n_boxes = {str(p): load_mot_sequence(p).n_boxes for p in paths}
    tasks = plan_tasks(paths, n_boxes, cfg)
    total = sum(t.weight for t in tasks)
    done = 0
    results: list[StrategyResult] = []
    if progress is not None:
        progress(0, total)
    if cfg.jobs == 1 or engine is not None:
        for t in tasks:
            results.extend(run_task_results(t, cfg.tracker, engine, cfg.audit))
            done += t.weight
            if progress is not None:
                progress(done, total)
        return results
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(cfg.jobs, mp_context=ctx, initializer=_worker_init) as pool:
        futures = {pool.submit(run_task_results, t, cfg.tracker, None, cfg.audit): t for t in tasks}
        for fut in as_completed(futures):
            results.extend(fut.result())
            done += futures[fut].weight
            if progress is not None:
                progress(done, total)
    return results
