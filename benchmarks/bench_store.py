"""Benchmark the SQLite project store at scale (default: 100 tracks x 10,000 frames = 1M boxes).

Measures: building the project through one normal transaction, ProjectStore.create (write
time, file size), ProjectStore.open in a fresh process (load time, peak RSS), the latency
of one small edit committed on the big project (p50/p95, synchronous=NORMAL and FULL),
undo, and a tracking-run-sized edit (one whole track rewritten).

    python benchmarks/bench_store.py --out benchmarks/results/store.md
    python benchmarks/bench_store.py --tracks 10 --frames 1000   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.store import ProjectStore

LOAD_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from tracker_annotate.io.store import ProjectStore
t1 = time.perf_counter()
c1 = time.process_time()
store = ProjectStore.open(sys.argv[1], check_media=False)
t2 = time.perf_counter()
c2 = time.process_time()
n = store.project.n_boxes()
store.close()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork+exec
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM")][0].split()[1]
print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t1, "open_cpu_s": c2 - c1, "boxes": n,
                  "peak_rss_mib": int(hwm) / 1024}))
"""


def make_project(n_tracks: int, n_frames: int, seed: int) -> Project:
    """A realistic mix: every 25th box manual, the rest tracked, ~5% flagged, a few outside."""
    rng = random.Random(seed)
    p = Project(
        MediaRef("/nowhere/video.mp4", n_frames, 1920, 1080, 30.0, "file:0:bench"),
        [Label("car", (255, 0, 0)), Label("person", (0, 255, 0))],
    )
    with p.edit("build") as tx:
        for tid in range(1, n_tracks + 1):
            tx.set_track(TrackInfo(tid, "car" if tid % 2 else "person", f"track {tid}"))
            x, y = rng.uniform(0, 1800), rng.uniform(0, 1000)
            for f in range(n_frames):
                x = min(max(x + rng.uniform(-2, 2), 0.0), 1800.0)
                y = min(max(y + rng.uniform(-2, 2), 0.0), 1000.0)
                conf = rng.random()
                manual = f % 25 == 0
                tx.set_box(
                    tid,
                    FrameBox(
                        f,
                        BoxXYXY(x, y, x + 80.0, y + 60.0),
                        BoxSource.MANUAL if manual else BoxSource.TRACKED,
                        1.0 if manual else conf,
                        flagged=not manual and conf < 0.05,
                        outside=f == n_frames - 1,
                    ),
                )
    return p


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def edit_latency(path: Path, sync: str, n_edits: int, seed: int) -> dict[str, float]:
    """Open the big project and time ``n_edits`` one-box moves, each its own commit."""
    store = ProjectStore.open(path, check_media=False, synchronous=sync)  # type: ignore[arg-type]
    p = store.project
    rng = random.Random(seed)
    tids = sorted(p.tracks)
    n_frames = p.media.n_frames if p.media else 1
    times = []
    for _ in range(n_edits):
        tid, f = rng.choice(tids), rng.randrange(n_frames)
        b = p.box(tid, f)
        assert b is not None
        moved = b.with_(xyxy=b.xyxy.translated(1.0, 0.5), source=BoxSource.MANUAL, confidence=1.0)
        t = time.perf_counter()
        with p.edit("move box") as tx:
            tx.set_box(tid, moved)
        times.append(time.perf_counter() - t)
    undo = []
    for _ in range(min(50, n_edits)):
        t = time.perf_counter()
        p.history.undo()
        undo.append(time.perf_counter() - t)
    # a tracking-run-sized edit: rewrite one whole track in one transaction
    tid = tids[0]
    new = [b.with_(confidence=0.5, source=BoxSource.TRACKED) for b in p.boxes(tid).values()]
    t = time.perf_counter()
    with p.edit("retrack") as tx:
        for b in new:
            tx.set_box(tid, b)
    run_s = time.perf_counter() - t
    store.close()
    return {
        "p50_ms": 1e3 * statistics.median(times),
        "p95_ms": 1e3 * pct(times, 0.95),
        "max_ms": 1e3 * max(times),
        "undo_p50_ms": 1e3 * statistics.median(undo),
        "track_rewrite_s": run_s,
        "track_rewrite_boxes": len(new),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=100)
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--edits", type=int, default=300, help="single-box edits timed per mode")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write a Markdown report here")
    ap.add_argument("--dir", type=Path, help="where to put the project (default: a temp dir)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "bench.taproj"
        t = time.perf_counter()
        project = make_project(args.tracks, args.frames, args.seed)
        build_s = time.perf_counter() - t
        n = project.n_boxes()
        t = time.perf_counter()
        ProjectStore.create(path, project).close()
        create_s = time.perf_counter() - t
        size = path.stat().st_size
        del project
        in_process_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        load_runs = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, "-c", LOAD_CHILD, str(path)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            load_runs.append(json.loads(out))
        lat = {s: edit_latency(path, s, args.edits, args.seed) for s in ("NORMAL", "FULL")}

    load_s = [r["open_s"] for r in load_runs]
    res = {
        "boxes": n,
        "build_via_transaction_s": build_s,
        "create_s": create_s,
        "file_mib": size / 2**20,
        "bytes_per_box": size / max(n, 1),
        "load_s_runs": load_s,
        "load_s_median": statistics.median(load_s),
        "load_s_min": min(load_s),
        "load_cpu_s_min": min(r["open_cpu_s"] for r in load_runs),
        "load_boxes_per_s": n / statistics.median(load_s),
        "load_peak_rss_mib": max(r["peak_rss_mib"] for r in load_runs),
        "bench_process_peak_rss_mib": in_process_rss,
        "latency": lat,
        "loadavg_1min_at_end": os.getloadavg()[0],
    }
    print(json.dumps(res, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report(res, args))
    return 0


def report(r: dict, args: argparse.Namespace) -> str:  # type: ignore[type-arg]
    cmd = (
        "python benchmarks/bench_store.py "
        + " ".join(
            f"--{k} {v}"
            for k, v in (("tracks", args.tracks), ("frames", args.frames), ("edits", args.edits))
        )
        + (f" --out {args.out}" if args.out else "")
    )
    lines = [
        "# Project store benchmark",
        "",
        f"Command: `{cmd}`",
        "",
        f"Machine: {platform.machine()}, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}; 2 cores shared with "
        f"other jobs (1-min load average {r['loadavg_1min_at_end']:.1f} when it finished), so wall "
        "times are pessimistic.",
        "",
        f"Project: {args.tracks} tracks x {args.frames} frames = **{r['boxes']:,} boxes** "
        "(4% manual, rest tracked, ~5% flagged).",
        "",
        "| what | value |",
        "|---|---|",
        f"| build in memory through one `project.edit` | {r['build_via_transaction_s']:.1f} s |",
        f"| `ProjectStore.create` (write everything, one transaction) | {r['create_s']:.1f} s |",
        f"| file size | {r['file_mib']:.1f} MiB ({r['bytes_per_box']:.0f} B/box) |",
        f"| **`ProjectStore.open` (load), fresh process, median of 3** | "
        f"**{r['load_s_median']:.2f} s** ({r['load_boxes_per_s'] / 1e6:.2f} M boxes/s; runs "
        + ", ".join(f"{x:.2f}" for x in r["load_s_runs"])
        + ") |",
        f"| `ProjectStore.open` CPU time (process_time, best of 3; immune to the shared "
        f"machine's contention) | {r['load_cpu_s_min']:.2f} s |",
        f"| peak RSS of the loading process (VmHWM, includes Python + numpy) | "
        f"{r['load_peak_rss_mib']:.0f} MiB |",
        f"| peak RSS of the benchmark process (built the project, then wrote it) | "
        f"{r['bench_process_peak_rss_mib']:.0f} MiB |",
    ]
    for mode, m in r["latency"].items():
        lines.append(
            f"| one-box edit commit, synchronous={mode}: p50 / p95 / max | "
            f"{m['p50_ms']:.2f} / {m['p95_ms']:.2f} / {m['max_ms']:.2f} ms |"
        )
        lines.append(f"| undo commit, synchronous={mode}: p50 | {m['undo_p50_ms']:.2f} ms |")
        lines.append(
            f"| rewrite one whole track ({m['track_rewrite_boxes']:,} boxes, one edit), "
            f"synchronous={mode} | {m['track_rewrite_s']:.2f} s |"
        )
    lines += [
        "",
        "Edit latency is measured around `with project.edit(...)`, so it includes the model's "
        "transaction bookkeeping and the store's SQLite transaction (upsert + COMMIT).",
        "",
        "## Reading the numbers",
        "",
        "- **Load.** Wall time on this shared 2-core machine is inflated by the other jobs "
        "(see the load average above); the CPU time is closer to what an idle machine takes. "
        "Most of it is building and validating one `FrameBox` + `BoxXYXY` per row "
        "(their `__post_init__` checks, ~2-2.5 us per box together); the SQLite scan of the "
        "clustered `WITHOUT ROWID` table is ~0.8 us per row. Two store-side measures: the "
        "cyclic GC is paused while the boxes are built (it would rescan all kept objects "
        "repeatedly: -40% on the build loop) and one full collection is paid at the end of "
        "loading (~0.45 s per million boxes), otherwise it lands as a pause of that size on "
        "one of the user's next edits (seen as a 2.7 s max edit latency before the fix).",
        "- **Edits.** With `synchronous=NORMAL` a commit is an append to the WAL, no fsync: "
        "tens of microseconds. `FULL` adds an fsync per edit (0.5-4 ms here on a virtual "
        "ext4 disk; far more on an HDD or network share). Process-kill durability, which is "
        "what we promise, holds for both (tests/io/test_store_crash.py), so NORMAL is the "
        "default; FULL is a flag for power-loss durability.",
        "- **File size** is ~65 B/box: 10 typed columns in a WITHOUT ROWID B-tree keyed "
        "(track_id, frame), source as a small int, the four booleans in one bit field, "
        "flag reason NULL unless flagged.",
        "- **Memory** after loading is the model's Python objects (one `FrameBox`, one "
        "`BoxXYXY` and 5 floats per box), not the store's: the loader streams rows from the "
        "cursor and never holds them all.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
