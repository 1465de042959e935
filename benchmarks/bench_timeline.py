"""The timeline on an hour of video: repaint time of 10 lanes over 108,000 frames, zoomed
out and zoomed in, today's code beside a base commit's, in one run.

The project (10 tracks, ~1M boxes) is made to be hard to draw: 4 dense tracks (a box on
every frame, ~5% flagged, a keyframe every 25), 3 that blink (visible on every other
frame: 54,000 runs each) and 3 with boxes on a random half of the frames. Each tree's
child process (offscreen Qt, ``PYTHONPATH`` = that tree) opens it with ``ProjectStore``,
binds a bare ``Timeline`` 1600 px wide and times synchronous repaints of its lanes:

* first paint (every lane's summary built, then drawn);
* the lanes redrawn with summaries cached (what a zoom or scroll costs);
* after a one-box edit (that lane's summary rebuilt, all redrawn);
* a cursor step (the cached backdrop reused);
* zoomed in to 8 px per frame, in the middle of the video.

    git worktree add /tmp/store-base <base-commit>
    python benchmarks/bench_timeline.py --base-tree /tmp/store-base \\
        --out benchmarks/results/timeline.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.core.track_boxes import FLAGGED, OUTSIDE, BoxColumns, TrackBoxes
from tracker_annotate.io.store import ProjectStore

REPO = Path(__file__).resolve().parent.parent

CHILD = """
import json, os, statistics, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PyQt6.QtWidgets import QApplication
from tracker_annotate.core.boxes import BoxSource
from tracker_annotate.core.session import Session
from tracker_annotate.gui.timeline import Timeline
from tracker_annotate.io.store import ProjectStore
app = QApplication([])
store = ProjectStore.open(sys.argv[1], check_media=False)
p = store.project
s = Session(p)
t = Timeline()
t.resize(1600, 16 + 16 * 10 + 24)
t.show()
app.processEvents()
t.bind(p, s)

def paint():
    a = time.perf_counter()
    t.lanes.repaint()
    return 1e3 * (time.perf_counter() - a)

out = {"first_ms": paint()}
def redraw():
    t._version += 1  # the backdrop is stale, the summaries are not
    return paint()
out["redraw_ms"] = statistics.median(redraw() for _ in range(15))
def edit(k):
    b = p.box(1, 1000 + k)
    with p.edit("move") as tx:
        tx.set_box(1, b.with_(xyxy=b.xyxy.translated(1, 0), source=BoxSource.MANUAL))
    return paint()
out["after_edit_ms"] = statistics.median(edit(k) for k in range(10))
def step(k):
    s.seek(5000 + k)
    return paint()
out["step_ms"] = statistics.median(step(k) for k in range(30))
t.set_px_per_frame(8.0)
t.hbar.setValue(54000)
out["zoomed_in_ms"] = statistics.median(redraw() for _ in range(15))
store.close()
print(json.dumps(out))
"""


def make_project(n_frames: int, seed: int) -> Project:
    """The hard-to-draw project of the module doc, built as columns (fast)."""
    rng = np.random.default_rng(seed)
    p = Project(
        MediaRef("/nowhere/hour.mp4", n_frames, 1920, 1080, 30.0, "file:0:hour"),
        [Label("car", (255, 0, 0))],
    )
    with p.edit("tracks") as tx:
        for tid in range(1, 11):
            tx.set_track(TrackInfo(tid, "car", f"track {tid}"))
    for tid in range(1, 11):
        # tracks 1-7 on every frame (5-7 blink through OUTSIDE), 8-10 on half of them
        full = np.arange(n_frames)
        frame = full if tid <= 7 else np.flatnonzero(rng.random(n_frames) < 0.5)
        n = frame.size
        x = np.clip(800 + np.cumsum(rng.uniform(-2, 2, n)), 0, 1800)
        xyxy = np.stack([x, np.full(n, 100.0), x + 80, np.full(n, 160.0)], axis=1)
        conf = rng.random(n)
        manual = frame % 25 == 0
        flags = np.where(~manual & (conf < 0.05), FLAGGED, 0)
        if 5 <= tid <= 7:
            flags = flags | np.where(frame % 2 == 1, OUTSIDE, 0)
        cols = BoxColumns(
            frame.astype(np.int64),
            xyxy,
            np.where(manual, 0, 1).astype(np.uint8),
            np.where(manual, 1.0, conf),
            flags.astype(np.uint8),
            np.zeros(n, np.int32),
        )
        p._boxes[tid] = TrackBoxes(cols)  # a benchmark fixture: no undo step needed
    return p


def child(tree: Path, path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,  # `-c` puts the working directory first on the path
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child failed ({tree}):\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=108_000)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--base-tree", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    trees = {"new": REPO}
    if args.base_tree:
        trees = {"base": args.base_tree.resolve(), **trees}
    args.trees = trees
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hour.taproj"
        p = make_project(args.frames, args.seed)
        n = p.n_boxes()
        ProjectStore.create(path, p).close()
        del p
        res: dict[str, list[dict[str, Any]]] = {k: [] for k in trees}
        for _ in range(args.runs):
            for name, tree in trees.items():
                res[name].append(child(tree, path))
    print(json.dumps(res, indent=2))
    if args.out:
        args.out.write_text(report(res, n, args))
    return 0


def _commit(tree: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip()


def report(res: dict[str, list[dict[str, Any]]], n: int, args: argparse.Namespace) -> str:
    names = list(res)
    cmd = f"python benchmarks/bench_timeline.py --frames {args.frames} --runs {args.runs}"
    if args.base_tree:
        cmd += f" --base-tree {args.base_tree}"
    if args.out:
        cmd += f" --out {args.out}"
    rows = [
        (
            "first paint: 10 lane summaries built, then drawn (fit: 108,000 frames in ~1500 px)",
            "first_ms",
        ),
        ("lanes redrawn, summaries cached (zoom, scroll)", "redraw_ms"),
        ("one-box edit, then redrawn", "after_edit_ms"),
        ("cursor step (cached lanes reused)", "step_ms"),
        ("zoomed in, 8 px per frame, mid-video: lanes redrawn", "zoomed_in_ms"),
    ]
    lines = [
        "# Timeline on an hour of video",
        "",
        f"Command: `{cmd}`",
        "",
        "Trees: "
        + ", ".join(f"{k} = commit `{_commit(t)}`" for k, t in args.trees.items())
        + " (plus uncommitted changes, if any).",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}; 2 cores shared "
        f"with other jobs (1-min load average {os.getloadavg()[0]:.1f} at the end). "
        f"{args.frames:,} frames, 10 lanes, {n:,} boxes; offscreen Qt (raster), a synchronous "
        f"`repaint()` of the lanes widget, 1600 px wide. Median ms per repaint; each run a "
        f"fresh process, trees alternating (runs listed).",
        "",
        "| repaint | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label, key in rows:
        cells = []
        for name in names:
            vals = sorted(r[key] for r in res[name])
            cells.append(
                f"{vals[len(vals) // 2]:.1f} ms (" + ", ".join(f"{v:.0f}" for v in vals) + ")"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "The lanes are drawn from per-track summaries (runs of visible frames, keyframe and "
        "flag ticks) cached between changes; the backdrop is cached between cursor moves. "
        "New: the summaries come from the track's columns (no `FrameBox` per frame), and runs "
        "and ticks are merged at pixel resolution before drawing, so a zoomed-out lane paints "
        "at most one rectangle per pixel column whatever the video's length.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
