"""Pre-track many inputs in parallel: plan the jobs, run them in worker processes or on a
Dask cluster, survive bad inputs, and summarise.

The flow is :func:`expand_inputs` -> :func:`plan_jobs` (every check that is cheap to do
up front: missing files, missing keyframes, name collisions, outputs that would clobber an
input) -> :func:`run_local` or :func:`run_dask` -> :func:`write_summary`.

Planning (inputs, keyframe lookup, names, collisions) is
:mod:`tracker_annotate.app.batch_plan`, re-exported here. Running:

* Each job writes into a hidden ``.incomplete-<name>.<format>/`` folder (a project file:
  ``.<name>.incomplete.taproj`` beside its final place) and the output is moved into place
  on success, so an output that exists is complete (interrupted or failed jobs leave
  none) and side files a writer may add (MOT's ``seqinfo.ini``) do not pile up.
* One failing input never stops the others. A job that raises becomes a ``failed`` result
  with a one-line error; a worker process that dies (a native crash in a decoder) is
  detected and the culprit is found by re-running the suspects one at a time.

No Qt, no printing: callers get :class:`JobResult` objects through ``on_result``.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from tracker_annotate.app.batch_plan import (
    DEFAULT_INIT_PATTERN,
    KEYFRAME_SUFFIXES,
    OUTPUT_FORMATS,
    SUMMARY_NAME,
    BatchInput,
    BatchJob,
    ExistingPolicy,
    InputKind,
    classify,
    expand_inputs,
    plan_jobs,
    resolve_pattern,
)
from tracker_annotate.app.pipeline import track_file
from tracker_annotate.core.errors import ConfigError, TrackerAnnotateError
from tracker_annotate.tracking.api import CancelToken, ProgressCallback, TrackerConfig

log = logging.getLogger(__name__)

Status = Literal["ok", "failed", "cancelled"]

__all__ = [
    "DEFAULT_INIT_PATTERN",
    "KEYFRAME_SUFFIXES",
    "OUTPUT_FORMATS",
    "SUMMARY_NAME",
    "BatchInput",
    "BatchJob",
    "BatchOutcome",
    "ExistingPolicy",
    "InputKind",
    "JobFn",
    "JobResult",
    "classify",
    "expand_inputs",
    "plan_jobs",
    "resolve_pattern",
    "run_dask",
    "run_local",
    "run_one",
    "write_summary",
]


class JobFn(Protocol):
    """The per-input work; :func:`tracker_annotate.app.pipeline.track_file` by default."""

    def __call__(
        self,
        media_path: str,
        init_path: str | None,
        out_path: str,
        config: TrackerConfig,
        *,
        detections_path: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]: ...


@dataclass
class JobResult:
    """What happened to one job. Counts are ``None`` when the job did not finish."""

    job: BatchJob
    status: Status
    seconds: float = 0.0
    frames: int | None = None
    objects: int | None = None
    flagged: int | None = None
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.job.name,
            "input": self.job.media_path,
            "keyframes": self.job.init_path,
            "detections": self.job.detections_path,
            "status": self.status,
            "frames": self.frames,
            "objects": self.objects,
            "flagged": self.flagged,
            "seconds": round(self.seconds, 3),
            "output": self.job.out_path if self.status == "ok" else None,
            "error": self.error,
            "summary": _jsonable(self.summary),
        }


@dataclass
class BatchOutcome:
    """Every job's result in plan order, and whether the run was cancelled."""

    results: list[JobResult]
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def n_failed(self) -> int:
        return sum(r.status == "failed" for r in self.results)

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(r.status == "ok" for r in self.results)


# ---------------------------------------------------------------------------- planning


# ------------------------------------------------------------------------ running one


def _default_job_fn() -> JobFn:

    return track_file


#: In a worker process: the shared per-job progress fractions the parent reads (or None).
#: Set once by the pool initializer; shared memory, so reporting never blocks or hangs.
_progress_slots: Any = None


def _worker_init(progress_slots: Any = None, log_level: int = logging.WARNING) -> None:
    global _progress_slots  # noqa: PLW0603 - per-process handle installed by the pool
    _progress_slots = progress_slots
    # A fresh process has no logging set up; mirror the parent's level and the CLI's format.
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
    import cv2

    # OpenCV's own "can't open" chatter duplicates the MediaError the job reports.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    # In the worker process this pool started (never the caller's): the parent owns
    # Ctrl+C, it cancels, then terminates us. Workers that caught SIGINT themselves (the
    # terminal sends it to the whole process group) would race it and print a traceback
    # per process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_threads()


def _progress_reporter(slot: int | None) -> ProgressCallback | None:
    slots = _progress_slots
    if slots is None or slot is None:
        return None

    def report(done: int, total: int) -> None:
        if total > 0:
            slots[slot] = min(1.0, done / total)

    return report


def _limit_threads() -> None:
    # N worker processes each starting OpenCV's thread pool oversubscribe the cores.
    import cv2

    cv2.setNumThreads(1)


def run_one(
    job: BatchJob, config: TrackerConfig, job_fn: JobFn | None = None, slot: int | None = None
) -> JobResult:
    """Run one job, never raising for the job's own failure (it becomes the result).

    Called in worker processes (and on Dask workers), so everything here is picklable.
    ``slot`` is the job's index in the pool's shared progress array, if there is one.
    """
    _limit_threads()
    fn = job_fn if job_fn is not None else _default_job_fn()
    partial = Path(job.partial_path)
    start = time.perf_counter()
    try:
        job.discard_partial()  # a stale one from a killed run
        partial.parent.mkdir(parents=True, exist_ok=True)
        summary = fn(
            job.media_path,
            job.init_path,
            str(partial),
            config,
            detections_path=job.detections_path,
            progress=_progress_reporter(slot),
        )
        if not partial.exists():
            raise TrackerAnnotateError(f"the tracker wrote no output to {partial}")
        os.replace(partial, job.out_path)
        if summary and "out" in summary:
            summary = {**summary, "out": job.out_path}  # not the scratch name it was written as
    except Exception as exc:
        job.discard_partial()
        log.debug("job %s failed", job.name, exc_info=True)
        return JobResult(
            job, "failed", seconds=time.perf_counter() - start, error=describe_error(exc)
        )
    # Writers may leave side files (MOT's seqinfo.ini): in a folder of many outputs they
    # would describe only one input, so they go with the scratch folder.
    job.discard_partial()
    return result_from_summary(job, summary or {}, time.perf_counter() - start)


def describe_error(exc: BaseException) -> str:
    """One line: our own errors speak for themselves; anything else is a bug, say its type."""
    text = " ".join(str(exc).split()) or "(no message)"
    if isinstance(exc, TrackerAnnotateError):
        return text
    return f"{type(exc).__name__}: {text}"


def result_from_summary(job: BatchJob, summary: dict[str, Any], seconds: float) -> JobResult:
    """Read the counts from the pipeline's summary dict, tolerating key spellings."""

    def pick(*keys: str) -> int | None:
        for k in keys:
            v = summary.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return int(v)
            if isinstance(v, list | tuple | dict):
                return len(v)
        return None

    return JobResult(
        job,
        "ok",
        seconds=seconds,
        frames=pick("frames", "n_frames"),
        objects=pick("objects", "tracks", "n_tracks", "n_objects"),
        flagged=pick("flagged", "flagged_boxes", "n_flagged"),
        summary=summary,
    )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# ------------------------------------------------------------------- running many, local


def pool_context() -> multiprocessing.context.BaseContext:
    """forkserver where it exists (fast, and safe with threads in the parent), else spawn.

    Never plain fork: the parent may hold OpenCV or Qt threads whose locks a fork would
    copy in a locked state.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # The server imports the tracking stack once (about 1 s of OpenCV/SciPy/filterpy, more
    # on a loaded machine) and every worker, and every pool re-made after a crash, forks
    # from it with those modules loaded. Only effective before the server first starts.
    ctx.set_forkserver_preload(["tracker_annotate.app.pipeline"])
    return ctx


ResultCallback = Callable[[JobResult], None]


def run_local(
    jobs: Sequence[BatchJob],
    config: TrackerConfig,
    *,
    workers: int,
    job_fn: JobFn | None = None,
    on_result: ResultCallback | None = None,
    on_progress: Callable[[float], None] | None = None,
    cancel: CancelToken | None = None,
) -> BatchOutcome:
    """Run ``jobs`` in ``workers`` processes; results come back in plan order.

    ``on_progress(inputs_done)`` is called about five times a second with the number of
    inputs done, counting the finished fraction of those in flight (1.5: one done, one
    half tracked).

    At most ``workers`` jobs are in flight, so when a worker dies every in-flight job is a
    suspect: a lone suspect is the culprit; several are re-run one at a time in a fresh
    single-process pool. ``cancel`` (checked about five times a second) or a
    KeyboardInterrupt terminate the workers, mark unfinished jobs ``cancelled`` and remove
    their partial outputs.

    The SIGINT handler is the caller's: this function never swaps it. A KeyboardInterrupt
    that lands while a worker process is being started can leave that process behind, so
    a caller that wants Ctrl+C to cancel cleanly installs a handler that cancels ``cancel``
    (the CLI does, :func:`tracker_annotate.cli.interrupt.cancel_on_sigint`).
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if not jobs:
        return BatchOutcome([])
    results: dict[int, JobResult] = {}
    start = time.perf_counter()

    def record(index: int, result: JobResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    queue = deque(range(len(jobs)))
    slots = pool_context().Array("d", max(1, len(jobs)), lock=False) if on_progress else None
    pool = _new_pool(min(workers, max(1, len(jobs))), slots)
    cancelled = False
    try:
        in_flight: dict[Future[JobResult], int] = {}
        while queue or in_flight:
            if cancel is not None and cancel.cancelled:
                raise KeyboardInterrupt
            while queue and len(in_flight) < workers:
                i = queue.popleft()
                in_flight[pool.submit(run_one, jobs[i], config, job_fn, i)] = i
            done, _ = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
            suspects = [i for f in done if _take(f, (i := in_flight.pop(f)), record, jobs)]
            if on_progress is not None and slots is not None:
                on_progress(len(results) + sum(slots[i] for i in in_flight.values()))
            if not suspects:
                continue
            # The pool is broken: every other in-flight future fails the same way, soon.
            wait(in_flight)
            suspects += [i for f, i in in_flight.items() if _take(f, i, record, jobs)]
            in_flight.clear()
            _terminate(pool)
            _isolate(
                sorted(suspects),
                jobs=jobs,
                config=config,
                job_fn=job_fn,
                record=record,
                cancel=cancel,
            )
            pool = _new_pool(min(workers, max(1, len(queue))), slots)
    except KeyboardInterrupt:
        cancelled = True
        _terminate(pool)
        log.info("batch cancelled; %d of %d jobs finished", len(results), len(jobs))
    else:
        pool.shutdown(wait=True)
    return _outcome(jobs, results, cancelled, start)


def _take(
    future: Future[JobResult],
    index: int,
    record: Callable[[int, JobResult], None],
    jobs: Sequence[BatchJob],
) -> bool:
    """Record a finished future; True when it failed because its worker died."""
    try:
        record(index, future.result())
    except BrokenProcessPool:
        return True
    except Exception as exc:  # e.g. an unpicklable summary; the job itself returned
        record(index, JobResult(jobs[index], "failed", error=describe_error(exc)))
    return False


def _isolate(
    suspects: Sequence[int],
    *,
    jobs: Sequence[BatchJob],
    config: TrackerConfig,
    job_fn: JobFn | None,
    record: Callable[[int, JobResult], None],
    cancel: CancelToken | None,
) -> None:
    crashed = (
        "the worker process died while tracking this input (a crash in native code "
        "such as the video decoder, or out of memory)"
    )
    if len(suspects) == 1:
        record(suspects[0], JobResult(jobs[suspects[0]], "failed", error=crashed))
        return
    for i in suspects:
        if cancel is not None and cancel.cancelled:
            raise KeyboardInterrupt
        solo = _new_pool(1)
        try:
            future = solo.submit(run_one, jobs[i], config, job_fn)
            if _take(future, i, record, jobs):
                jobs[i].discard_partial()
                record(i, JobResult(jobs[i], "failed", error=crashed))
        finally:
            _terminate(solo)


def _new_pool(workers: int, progress_slots: Any = None) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        workers,
        mp_context=pool_context(),
        initializer=_worker_init,
        initargs=(progress_slots, logging.getLogger().getEffectiveLevel()),
    )


def _terminate(pool: ProcessPoolExecutor) -> None:
    # ProcessPoolExecutor has no public terminate before Python 3.14; its worker dict is
    # the documented-in-practice way to stop jobs that are mid-frame.
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.join(timeout=5)


# -------------------------------------------------------------------- running many, Dask


def run_dask(
    jobs: Sequence[BatchJob],
    config: TrackerConfig,
    *,
    scheduler: str,
    job_fn: JobFn | None = None,
    on_result: ResultCallback | None = None,
    cancel: CancelToken | None = None,
    connect_timeout: float = 10.0,
) -> BatchOutcome:
    """Submit the same jobs to an existing Dask distributed scheduler at ``scheduler``.

    Every path must be readable and writable from the workers (a shared filesystem). A
    worker that dies is retried by Dask on another worker; a job that keeps killing
    workers ends as ``failed`` (KilledWorker). Ctrl+C or ``cancel`` cancel every task that
    has not started; Dask cannot stop one mid-run, so such a job may still finish in the
    background (its output then appears whole, never half-written). ``cancel`` is checked
    about five times a second. There is no per-frame progress from Dask workers.
    """
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise ConfigError(
            "--scheduler needs Dask distributed: pip install 'tracker_annotate[dask]'"
        ) from exc
    try:
        client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}") from exc
    start = time.perf_counter()
    results: dict[int, JobResult] = {}
    token = uuid.uuid4().hex[:8]
    cancelled = False
    try:
        futures = {
            client.submit(
                run_one,
                job,
                config,
                job_fn,
                key=f"tracker-annotate-{token}-{i}-{job.name}",
                pure=False,
            ): i
            for i, job in enumerate(jobs)
        }
        try:
            arriving = as_completed(futures, loop=client.loop)
            while not arriving.is_empty():
                if not arriving.has_ready():
                    if cancel is not None and cancel.cancelled:
                        raise KeyboardInterrupt
                    time.sleep(0.2)
                    continue
                for fut in arriving.next_batch(block=False):
                    i = futures[fut]
                    try:
                        res = fut.result()
                    except Exception as exc:  # KilledWorker, CancelledError, unpicklable
                        jobs[i].discard_partial()
                        res = JobResult(jobs[i], "failed", error=describe_error(exc))
                    results[i] = res
                    if on_result is not None:
                        on_result(res)
                if cancel is not None and cancel.cancelled:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            cancelled = True
            client.cancel(list(futures))
    finally:
        client.close()
    return _outcome(jobs, results, cancelled, start)


def _outcome(
    jobs: Sequence[BatchJob], results: dict[int, JobResult], cancelled: bool, start: float
) -> BatchOutcome:
    """Results in input order; a job that never finished is cancelled and its partial
    output removed."""
    for i, job in enumerate(jobs):
        if i not in results:
            job.discard_partial()
            results[i] = JobResult(job, "cancelled", error="cancelled before it finished")
    ordered = [results[i] for i in range(len(jobs))]
    return BatchOutcome(ordered, cancelled=cancelled, seconds=time.perf_counter() - start)


# ------------------------------------------------------------------------------ summary


def write_summary(
    outcome: BatchOutcome,
    path: str | os.PathLike[str],
    *,
    config: TrackerConfig,
    skipped: Sequence[BatchJob] = (),
) -> Path:
    """Write the run's JSON summary atomically (a reader never sees half a file).

    When resuming (``skipped`` jobs) over an earlier summary at ``path``, each skipped
    job keeps its earlier record under ``previous``, so the file still describes every
    output in the folder.
    """
    target = Path(path)
    earlier = _earlier_jobs(target) if skipped else {}
    counts = {s: sum(r.status == s for r in outcome.results) for s in ("ok", "failed", "cancelled")}
    doc = {
        "schema": "tracker_annotate.batch_summary/1",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(outcome.seconds, 3),
        "cancelled": outcome.cancelled,
        "config": asdict(config),
        "counts": {**counts, "skipped": len(skipped)},
        "jobs": [r.to_json() for r in outcome.results],
        "skipped": [
            {
                "name": j.name,
                "input": j.media_path,
                "output": j.out_path,
                "previous": earlier.get(j.name),
            }
            for j in skipped
        ],
    }
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def _earlier_jobs(path: Path) -> dict[str, Any]:
    """Successful job records of an earlier summary, by name (a skipped job's own earlier
    record, or the one it carried over itself)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, Any] = {}
    for rec in doc.get("jobs", []):
        if isinstance(rec, dict) and rec.get("status") == "ok":
            out[str(rec.get("name"))] = rec
    for rec in doc.get("skipped", []):
        if isinstance(rec, dict) and isinstance(rec.get("previous"), dict):
            out.setdefault(str(rec.get("name")), rec["previous"])
    return out
