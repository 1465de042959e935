"""Batch benchmark: wall time of pre-tracking every shared evaluation sequence, by workers.

Inputs are the MOTChallenge-layout sequences in ``../shared/data/sequences`` (read in
place, never copied); each sequence's keyframes are its ground-truth boxes on frame 1,
written to a temp dir. The same batch runs with 1 worker, with N workers, and optionally on
a local Dask cluster of N single-threaded worker processes; for each we report the wall
time, the sum of per-input job times, throughput and the speedup over one worker.

On a machine shared with other work, the speedup is bounded by the cores actually free:
read it next to the load average printed with it.

Usage::

    python benchmarks/bench_batch.py [--workers 2] [--dask] [--sequences A B ...] [--out PATH.md]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tracker_annotate.app.batch import (
    BatchJob,
    BatchOutcome,
    expand_inputs,
    plan_jobs,
    run_dask,
    run_local,
)
from tracker_annotate.tracking.api import TrackerConfig

REPO = Path(__file__).resolve().parent.parent
SEQUENCES = REPO.parent / "shared" / "data" / "sequences"


def write_keyframes(seq: Path, kf_dir: Path) -> None:
    """Frame-1 ground-truth rows (MOT, 1-based) as the sequence's keyframes."""
    rows = [
        line
        for line in (seq / "gt" / "gt.txt").read_text().splitlines()
        if line.split(",")[0].strip() == "1"
    ]
    (kf_dir / f"{seq.name}.txt").write_text("\n".join(rows) + "\n")


@dataclass
class Row:
    run: str
    wall_s: float
    job_s: float
    frames: int
    object_frames: int
    ok: int
    failed: int


def summarise(label: str, outcome: BatchOutcome) -> Row:
    ok = [r for r in outcome.results if r.status == "ok"]
    failed = [r for r in outcome.results if r.status != "ok"]
    for r in outcome.results:
        print(
            f"  {label}: {r.job.name}: {r.status} {r.seconds:.1f} s {r.error or ''}",
            file=sys.stderr,
        )
    return Row(
        run=label,
        wall_s=outcome.seconds,
        job_s=sum(r.seconds for r in outcome.results),
        frames=sum(r.frames or 0 for r in ok),
        object_frames=sum(int(r.summary.get("object_frames", 0)) for r in ok),
        ok=len(ok),
        failed=len(failed),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dask", action="store_true", help="also run on a LocalCluster")
    parser.add_argument("--sequences", nargs="*", help="names under shared/data/sequences")
    parser.add_argument("--out", type=Path, help="append a Markdown table here")
    args = parser.parse_args(argv)
    if not SEQUENCES.is_dir():
        raise SystemExit(f"{SEQUENCES} is not present")
    seqs = sorted(p for p in SEQUENCES.iterdir() if (p / "gt" / "gt.txt").is_file())
    if args.sequences:
        seqs = [s for s in seqs if s.name in set(args.sequences)]
    config = TrackerConfig()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        kf = Path(tmp) / "kf"
        kf.mkdir()
        for seq in seqs:
            write_keyframes(seq, kf)
        inputs = expand_inputs(seqs)

        def plan(name: str) -> list[BatchJob]:
            jobs, _ = plan_jobs(inputs, out_dir=Path(tmp) / name, fmt="txt", init_dir=kf)
            return jobs

        for workers in sorted({1, args.workers}):
            t = time.perf_counter()
            outcome = run_local(plan(f"local{workers}"), config, workers=workers)
            print(f"local x{workers}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
            rows.append(summarise(f"processes x{workers}", outcome))
        if args.dask:
            from distributed import LocalCluster

            with LocalCluster(
                n_workers=args.workers,
                processes=True,
                threads_per_worker=1,
                dashboard_address=None,
            ) as cluster:
                outcome = run_dask(plan("dask"), config, scheduler=cluster.scheduler_address)
            rows.append(summarise(f"dask LocalCluster x{args.workers}", outcome))

    base = rows[0].wall_s
    load = os.getloadavg()
    lines = [
        f"`{shlex.join(['python', *sys.argv])}` on {len(seqs)} sequences "
        f"({', '.join(s.name for s in seqs)}); {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}",
        "",
        "| run | wall s | sum of job s | frames | object-frames/s (wall) | speedup | ok/failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ofps = r.object_frames / r.wall_s if r.wall_s > 0 else 0.0
        lines.append(
            f"| {r.run} | {r.wall_s:.1f} | {r.job_s:.1f} | {r.frames} | {ofps:.0f} | "
            f"{base / r.wall_s:.2f}x | {r.ok}/{r.failed} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
