"""Ten objects at 720p: the engine's back-ends and raw trackers side by side in one run.

On the first ``--frames`` frames of TLP-CarChase2 (1280x720), ten boxes are seeded on
frame 0 (the ground-truth car plus nine background patches of its size) and followed to
the end of the window:

* each ``--engines`` back-end through the whole engine (``track_project``: decode, the
  back-end, Kalman, confidence, fusion, overlaps), first-box seeding, ``--threads``;
* each ``--raw`` tracker alone (OpenCV's CSRT, ``cv2.TrackerNano``, or one learned member),
  frame-major on one thread, decode included;
* decoding alone.

The runs are interleaved over ``--repeats`` rounds (engine A, engine B, raw ..., then again)
so that the machine's load drifts over all of them alike; the report gives the median
object-frames/s of each and its ratio to raw CSRT measured in the same rounds.

Usage::

    python benchmarks/bench_throughput.py [--engines committee,nano] [--raw csrt,nano]
        [--frames 150] [--repeats 3] [--out benchmarks/results/throughput.md]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tracking import DEFAULT_DATA, REPO, Window, load, load_gt, machine, raw_factory

from tracker_annotate.core.boxes import BoxXYXY, FrameBox
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.media import open_media
from tracker_annotate.tracking.api import TrackerConfig
from tracker_annotate.tracking.engine import track_project


def seed_boxes(seq: Path) -> list[np.ndarray]:
    """The GT car on frame 0 and nine background patches of its size."""
    gt = load_gt(seq)
    car = next(iter(gt.tracks.values()))[0]
    w, h = car[2] - car[0], car[3] - car[1]
    out = [car]
    for k in range(9):
        x = 80 + (k % 3) * 400
        y = 120 + (k // 3) * 200
        out.append(np.array([x, y, x + w, y + h], dtype=np.float64))
    return out


def seeded(src: Any, seq: Path, boxes: list[np.ndarray], n: int) -> Project:
    """A project on the first ``n`` frames of ``seq`` with one track per box on frame 0."""
    project = Project(MediaRef(str(seq), n, src.width, src.height))
    with project.edit("seed") as tx:
        for k, b in enumerate(boxes):
            tx.set_track(TrackInfo(k + 1))
            tx.set_box(k + 1, FrameBox(0, BoxXYXY.from_array(b)))
    return project


def engine_run(seq: Path, boxes: list[np.ndarray], n: int, tracker: str, threads: int) -> float:
    """Object-frames/s of the whole engine on the ten boxes (decode included)."""
    src = open_media(seq)
    project = seeded(src, seq, boxes, n)
    config = replace(TrackerConfig(tracker=tracker), threads=threads)
    t0 = time.perf_counter()
    run = track_project(project, Window(src, n), config)
    wall = time.perf_counter() - t0
    src.close()
    return run.object_frames / wall


def first_flag(seq: Path, boxes: list[np.ndarray], n: int, tracker: str, threads: int) -> dict:
    """Seconds from the start of a run (``T``) to the first streamed box, and to the first
    streamed *flagged* box (what the app's review panel can show while the run goes on)."""
    src = open_media(seq)
    project = seeded(src, seq, boxes, n)
    config = replace(TrackerConfig(tracker=tracker), threads=threads)
    t0 = time.perf_counter()
    seen: dict[str, float] = {}

    def on_partial(tid: int, got: list[FrameBox]) -> None:
        now = time.perf_counter() - t0
        seen.setdefault("box", now)
        if any(b.flagged for b in got):
            seen.setdefault("flag", now)

    track_project(project, Window(src, n), config, on_partial=on_partial)
    wall = time.perf_counter() - t0
    src.close()
    return {"first_box_s": seen.get("box"), "first_flag_s": seen.get("flag"), "run_s": wall}


def raw_run(seq: Path, boxes: list[np.ndarray], n: int, name: str, threads: int = 1) -> float:
    """Object-frames/s of a raw tracker alone on the ten boxes (decode included). With
    ``threads`` > 1 the boxes are split as the engine splits its tracks, each share in its
    own thread with its own decoder: the ceiling of the engine's parallel sweeps."""
    make = raw_factory(name)
    counts: list[int] = []

    def work(share: list[np.ndarray]) -> None:
        src = open_media(seq)
        img = src.read(0)
        trackers = []
        for b in share:
            tr = make()
            tr.init(img, (round(b[0]), round(b[1]), round(b[2] - b[0]), round(b[3] - b[1])))
            trackers.append(tr)
        of = 0
        for f in range(1, n):
            img = src.read(f)
            for tr in trackers:
                tr.update(img)
                of += 1
        src.close()
        counts.append(of)

    shares = [boxes[k::threads] for k in range(threads)]
    t0 = time.perf_counter()
    workers = [threading.Thread(target=work, args=(sh,)) for sh in shares[1:]]
    for w in workers:
        w.start()
    work(shares[0])
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - t0)


def decode_run(seq: Path, n: int) -> float:
    src = open_media(seq)
    t0 = time.perf_counter()
    for f in range(n):
        src.read(f)
    wall = time.perf_counter() - t0
    src.close()
    return n / wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--engines", default="committee,nano")
    ap.add_argument("--raw", default="csrt,nano")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=TrackerConfig().threads)
    ap.add_argument(
        "--raw-threaded",
        default="",
        help="raw trackers also run with the boxes split over --threads threads (the ceiling)",
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "throughput.md")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    seq = args.data / "TLP-CarChase2"
    boxes = seed_boxes(seq)
    engines = [e for e in args.engines.split(",") if e]
    raws = [r for r in args.raw.split(",") if r]
    raws2 = [r for r in args.raw_threaded.split(",") if r]
    got: dict[str, list[float]] = {}
    load_before = load()
    t_start = time.perf_counter()
    for _ in range(args.repeats):
        got.setdefault("decode", []).append(decode_run(seq, args.frames))
        for e in engines:
            got.setdefault(e, []).append(engine_run(seq, boxes, args.frames, e, args.threads))
        for r in raws:
            got.setdefault(f"raw-{r}", []).append(raw_run(seq, boxes, args.frames, r))
        for r in raws2:
            got.setdefault(f"raw-{r} x{args.threads} threads", []).append(
                raw_run(seq, boxes, args.frames, r, args.threads)
            )
        print({k: round(v[-1], 1) for k, v in got.items()}, file=sys.stderr)
    flags = {e: first_flag(seq, boxes, args.frames, e, args.threads) for e in engines}
    elapsed = time.perf_counter() - t_start
    med = {k: statistics.median(v) for k, v in got.items()}
    csrt = med.get("raw-csrt")
    cmd = "python benchmarks/bench_throughput.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "# Throughput: ten objects at 720p, side by side",
        "",
        f"Command: `{cmd.strip()}` ({elapsed / 60:.1f} min). TLP-CarChase2 (1280x720), "
        f"first {args.frames} frames, ten boxes seeded on frame 0 (the GT car and nine "
        f"background patches of its size). Engines run with {args.threads} thread(s) "
        "(forward sweeps split by tracks); raw trackers on one thread (and, where named, "
        f"split over {args.threads} threads like the engine); OpenCV limited to one "
        f"thread per call. Median of {args.repeats} interleaved rounds.",
        "",
        f"Machine: {machine()}. Load average before {load_before}, after {load()}.",
        "",
        "| run | object-frames/s (median) | rounds | x raw CSRT |",
        "|---|---:|---|---:|",
    ]
    for k, v in got.items():
        unit = "frames/s" if k == "decode" else ""
        ratio = f"{med[k] / csrt:.2f}" if csrt and k != "decode" else ""
        rounds = ", ".join(f"{x:.0f}" for x in v)
        lines.append(f"| {k} {unit} | {med[k]:.1f} | {rounds} | {ratio} |")
    lines += [
        "",
        "## Results while tracking: time from `T` to the first streamed box and flag",
        "",
        "The same ten boxes, one run each after the rounds above; the engine streams what "
        "its passes found every 0.25 s (`on_partial`, what the app's review panel shows).",
        "",
        "| engine | first box (s) | first flagged box (s) | whole run (s) |",
        "|---|---:|---:|---:|",
    ]
    for e, r in flags.items():
        fb = "-" if r["first_box_s"] is None else f"{r['first_box_s']:.2f}"
        ff = "none flagged" if r["first_flag_s"] is None else f"{r['first_flag_s']:.2f}"
        lines.append(f"| {e} | {fb} | {ff} | {r['run_s']:.1f} |")
    lines.append("")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
