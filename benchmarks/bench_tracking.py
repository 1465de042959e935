"""Tracking-engine benchmark on the shared real sequences (ground truth: MOT ``gt.txt``).

Reports, in one run on one machine:

* accuracy per sequence and tracker: mean IoU and OTB success AUC (thresholds 0..1 step
  0.05), with two seedings: the first GT box of each track alone (``first``), and the first
  and last GT boxes as keyframes (``first+last``). Multi-object sequences (TUD) seed every
  GT track from its own first box and run all tracks together;
* calibration of the default's confidence: ROC-AUC for "box is wrong" (IoU < 0.5) and flag
  precision/recall at the default threshold;
* throughput (object-frames/s) per tracker next to decode-only throughput of the same media,
  and a 10-object 720p run against decoding the same frames.

Slow trackers make a full run long, so the *comparison* table uses a common window: the
first ``--cap`` frames of each sequence, for every tracker alike. The default (and the fast
OpenCV trackers) are also run on the full sequences.

Usage::

    python benchmarks/bench_tracking.py [--data ../shared/data/sequences] [--cap 100]
        [--trackers cascade,csrt,kcf,mosse,medianflow,mil] [--out benchmarks/results/tracking.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tracker_annotate.bench.report import machine_info
from tracker_annotate.core.boxes import BoxXYXY, FrameBox
from tracker_annotate.core.frames import Frame
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.media import open_media
from tracker_annotate.tracking.api import TRACKER_NAMES, TrackerConfig
from tracker_annotate.tracking.engine import track_project

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "sequences"
THRESHOLDS = np.arange(0.0, 1.0001, 0.05)


@dataclass
class GT:
    name: str
    path: Path
    tracks: dict[int, dict[int, np.ndarray]]  # id -> 0-based frame -> xyxy


def load_gt(seq: Path) -> GT:
    rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
    tracks: dict[int, dict[int, np.ndarray]] = {}
    for r in rows:
        if len(r) > 6 and r[6] == 0:
            continue  # MOT ignore rows
        f, tid, x, y, w, h = int(r[0]) - 1, int(r[1]), r[2], r[3], r[4], r[5]
        if w > 0 and h > 0:
            tracks.setdefault(tid, {})[f] = np.array([x, y, x + w, y + h])
    return GT(seq.name, seq, tracks)


class Window:
    """A FrameSource showing only the first ``n`` frames of another (same indices)."""

    def __init__(self, src: Any, n: int) -> None:
        self.src, self.n = src, min(n, src.n_frames)
        self.path = src.path

    @property
    def n_frames(self) -> int:
        return self.n

    @property
    def width(self) -> int:
        return int(self.src.width)

    @property
    def height(self) -> int:
        return int(self.src.height)

    @property
    def fps(self) -> float:
        return float(self.src.fps)

    def read(self, i: int) -> Frame:
        return self.src.read(i)  # type: ignore[no-any-return]

    def reopen(self) -> Window:
        return Window(self.src.reopen(), self.n)

    def close(self) -> None:
        self.src.close()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return BoxXYXY.from_array(a).iou(BoxXYXY.from_array(b))


def run_one(
    gt: GT, tracker: str, seeding: str, n_window: int | None, min_len: int = 5
) -> dict[str, Any]:
    src = open_media(gt.path)
    n = src.n_frames if n_window is None else min(n_window, src.n_frames)
    source: Any = Window(src, n)
    project = Project(MediaRef(str(gt.path), n, src.width, src.height))
    evals: dict[int, list[int]] = {}
    with project.edit("seed") as tx:
        for tid, boxes in gt.tracks.items():
            frames = sorted(f for f in boxes if f < n)
            if len(frames) < min_len:
                continue
            tx.set_track(TrackInfo(tid))
            tx.set_box(tid, FrameBox(frames[0], BoxXYXY.from_array(boxes[frames[0]])))
            if seeding == "first+last":
                tx.set_box(tid, FrameBox(frames[-1], BoxXYXY.from_array(boxes[frames[-1]])))
                evals[tid] = frames[1:-1]
            else:
                evals[tid] = frames[1:]
    config = TrackerConfig(tracker=tracker, extend=seeding == "first")
    t0 = time.perf_counter()
    run = track_project(project, source, config)
    wall = time.perf_counter() - t0
    src.close()
    ious, confs, flags = [], [], []
    for tid, frames in evals.items():
        got = {b.frame: b for b in run.boxes.get(tid, [])}
        for f in frames:
            b = got.get(f)
            if b is None:
                ious.append(0.0)
                continue
            ious.append(iou(b.xyxy.to_array(), gt.tracks[tid][f]))
            confs.append((b.confidence, b.flagged, ious[-1]))
            flags.append(b.flagged)
    arr = np.array(ious) if ious else np.zeros(1)
    success = [(arr > t).mean() for t in THRESHOLDS]
    return {
        "sequence": gt.name,
        "tracker": tracker,
        "seeding": seeding,
        "window": n,
        "tracks": len(evals),
        "boxes": len(ious),
        "mean_iou": float(arr.mean()),
        "auc": float(np.mean(success)),
        "object_frames": run.object_frames,
        "seconds": wall,
        "ofps": run.object_frames / wall if wall > 0 else 0.0,
        "conf": confs,
    }


def decode_fps(path: Path, n: int | None = None) -> tuple[float, int]:
    """Sequential decode + grayscale of ``n`` frames with a fresh source: frames/s."""
    src = open_media(path)
    m = src.n_frames if n is None else min(n, src.n_frames)
    t0 = time.perf_counter()
    for i in range(m):
        cv2.cvtColor(src.read(i), cv2.COLOR_BGR2GRAY)
    dt = time.perf_counter() - t0
    src.close()
    return m / dt, m


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUC of ``scores`` ranking positives above negatives (ties count half)."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    i = 0
    r = np.arange(1, len(order) + 1, dtype=np.float64)
    while i < len(order):
        j = i
        while j + 1 < len(order) and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i : j + 1]] = r[i : j + 1].mean()
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def calibration(rows: list[dict[str, Any]]) -> dict[str, float]:
    c = [x for r in rows for x in r["conf"]]
    if not c:
        return {}
    conf = np.array([x[0] for x in c])
    flagged = np.array([x[1] for x in c])
    wrong = np.array([x[2] < 0.5 for x in c])
    return {
        "boxes": len(c),
        "wrong_rate": float(wrong.mean()),
        "roc_auc": roc_auc(1.0 - conf, wrong),
        "flag_precision": float(wrong[flagged].mean()) if flagged.any() else float("nan"),
        "flag_recall": float(flagged[wrong].mean()) if wrong.any() else float("nan"),
        "flag_rate": float(flagged.mean()),
    }


def ten_objects_720p(data: Path, n: int = 150) -> dict[str, Any]:
    """10 tracks on the 720p sequence (the GT car plus 9 background patches) vs decoding."""
    seq = data / "TLP-CarChase2"
    gt = load_gt(seq)
    dec, m = decode_fps(seq, n)
    src = open_media(seq)
    source = Window(src, n)
    project = Project(MediaRef(str(seq), m, src.width, src.height))
    car = next(iter(gt.tracks.values()))[0]
    w, h = car[2] - car[0], car[3] - car[1]
    with project.edit("seed") as tx:
        tx.set_track(TrackInfo(1))
        tx.set_box(1, FrameBox(0, BoxXYXY.from_array(car)))
        for k in range(9):
            x = 80 + (k % 3) * 400
            y = 120 + (k // 3) * 200
            tx.set_track(TrackInfo(k + 2))
            tx.set_box(k + 2, FrameBox(0, BoxXYXY(x, y, x + w, y + h)))
    t0 = time.perf_counter()
    run = track_project(project, source, TrackerConfig())
    wall = time.perf_counter() - t0
    src.close()
    decode_s = m / dec
    return {
        "frames": m,
        "objects": 10,
        "decode_s": decode_s,
        "run_s": wall,
        "tracking_only_s": max(wall - decode_s, 0.0),
        "ratio_tracking_to_decode": max(wall - decode_s, 0.0) / decode_s,
        "object_frames": run.object_frames,
    }


def machine() -> str:
    """CPU model, usable cores, OS and Python: what the numbers were measured on."""
    m = machine_info()
    return f"{m['cpu']}, {m['cores']} usable cores, {m['platform']}, Python {m['python']}"


def engine_version() -> str:
    """The repository commit the engine was run from (and whether it had local changes)."""
    import subprocess

    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "tracker_annotate/tracking"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return rev + (" with uncommitted changes in tracker_annotate/tracking" if dirty else "")


def load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def per_sequence_calibration(rows: list[dict[str, Any]]) -> list[str]:
    """One calibration row per sequence (default tracker, both seedings together)."""
    out = [
        "| sequence | boxes | wrong | ROC-AUC | flag precision | flag recall | flagged |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in sorted({r["sequence"] for r in rows}):
        c = calibration([r for r in rows if r["sequence"] == s])
        if c:
            out.append(
                f"| {s} | {c['boxes']} | {c['wrong_rate']:.1%} | {c['roc_auc']:.3f} | "
                f"{c['flag_precision']:.1%} | {c['flag_recall']:.1%} | {c['flag_rate']:.1%} |"
            )
    return out


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def targets(
    capped: list[dict[str, Any]], thr: dict[str, float], ten: dict[str, Any] | None
) -> list[str]:
    """The issue's targets, each with the measured value and met / not met."""

    def mean_iou(t: str) -> float:
        v = [r["mean_iou"] for r in capped if r["tracker"] == t]
        return float(np.mean(v)) if v else float("nan")

    out = ["| target | measured | met |", "|---|---|---|"]
    c = "cascade"
    if c in thr and "csrt" in thr and thr["csrt"] > 0:
        x = thr[c] / thr["csrt"]
        d = mean_iou(c) - mean_iou("csrt")
        ok = x >= 5.0 and d >= -0.02
        out.append(
            f"| default >= 5x CSRT throughput, mean IoU >= CSRT - 0.02 | {x:.1f}x, IoU "
            f"{mean_iou(c):.3f} vs {mean_iou('csrt'):.3f} ({d:+.3f}) | {_met(ok)} |"
        )
    if c in thr and "mil" in thr and thr["mil"] > 0:
        x = thr[c] / thr["mil"]
        d = mean_iou(c) - mean_iou("mil")
        ok = x >= 10.0 and d > 0
        out.append(
            f"| default >= 10x MIL throughput, higher mean IoU | {x:.1f}x, IoU "
            f"{mean_iou(c):.3f} vs {mean_iou('mil'):.3f} ({d:+.3f}) | {_met(ok)} |"
        )
    if ten is not None:
        r = ten["ratio_tracking_to_decode"]
        out.append(
            f"| 10 objects at 720p cost no more than decoding the frames | tracking "
            f"{ten['tracking_only_s']:.2f} s vs decode {ten['decode_s']:.2f} s = {r:.2f}x | "
            f"{_met(r <= 1.0)} |"
        )
    return out


def fmt_table(rows: list[dict[str, Any]], trackers: list[str], seeding: str, key: str) -> list[str]:
    seqs = sorted({r["sequence"] for r in rows})
    head = "| sequence | " + " | ".join(trackers) + " |"
    out = [head, "|" + "---|" * (len(trackers) + 1)]
    by = {(r["sequence"], r["tracker"], r["seeding"]): r for r in rows}
    means: dict[str, list[float]] = {t: [] for t in trackers}
    for s in seqs:
        cells = []
        for t in trackers:
            r = by.get((s, t, seeding))
            if r is None:
                cells.append("-")
                continue
            cells.append(f"{r[key]:.3f}")
            means[t].append(r[key])
        out.append(f"| {s} | " + " | ".join(cells) + " |")
    out.append(
        "| **mean** | "
        + " | ".join(f"**{np.mean(means[t]):.3f}**" if means[t] else "-" for t in trackers)
        + " |"
    )
    return out


def throughput(rows: list[dict[str, Any]], trackers: list[str]) -> dict[str, float]:
    out = {}
    for t in trackers:
        of = sum(r["object_frames"] for r in rows if r["tracker"] == t)
        s = sum(r["seconds"] for r in rows if r["tracker"] == t)
        out[t] = of / s if s > 0 else 0.0
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cap", type=int, default=100, help="common window (frames) for all trackers")
    ap.add_argument("--trackers", default=",".join(TRACKER_NAMES))
    ap.add_argument(
        "--full", default="cascade,mosse,medianflow,kcf", help="also run on full sequences"
    )
    ap.add_argument("--sequences", default="", help="comma-separated names (default: all)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "tracking.md")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    trackers = [t for t in args.trackers.split(",") if t and t != "none"]
    full = [t for t in args.full.split(",") if t and t != "none"]
    seqs = sorted(p for p in args.data.iterdir() if (p / "gt" / "gt.txt").is_file())
    if args.sequences:
        wanted = set(args.sequences.split(","))
        seqs = [s for s in seqs if s.name in wanted]
    t_start = time.perf_counter()
    load_before = load()
    gts = [load_gt(s) for s in seqs]
    capped: list[dict[str, Any]] = []
    fulls: list[dict[str, Any]] = []
    decode: dict[str, float] = {}
    for gt in gts:
        decode[gt.name] = decode_fps(gt.path)[0]
        for seeding in ("first", "first+last"):
            for t in trackers:
                r = run_one(gt, t, seeding, args.cap)
                capped.append(r)
                print(
                    f"[cap {args.cap}] {gt.name:15s} {seeding:10s} {t:10s} IoU {r['mean_iou']:.3f} "
                    f"AUC {r['auc']:.3f} {r['ofps']:7.1f} obj-fr/s",
                    file=sys.stderr,
                )
            for t in full:
                r = run_one(gt, t, seeding, None)
                fulls.append(r)
                print(
                    f"[full]   {gt.name:15s} {seeding:10s} {t:10s} IoU {r['mean_iou']:.3f} "
                    f"AUC {r['auc']:.3f} {r['ofps']:7.1f} obj-fr/s",
                    file=sys.stderr,
                )
    ten = ten_objects_720p(args.data) if (args.data / "TLP-CarChase2").is_dir() else None
    elapsed = time.perf_counter() - t_start
    load_after = load()
    cal_full = calibration([r for r in fulls if r["tracker"] == "cascade"])
    cal_cap = calibration([r for r in capped if r["tracker"] == "cascade"])
    thr_cap = throughput(capped, trackers)
    thr_full = throughput(fulls, full)
    cmd = "python benchmarks/bench_tracking.py " + " ".join(
        shlex.quote(a) for a in (argv or sys.argv[1:])
    )
    lines = [
        "# Tracking engine benchmark",
        "",
        f"Command: `{cmd.strip()}` (whole run {elapsed / 60:.1f} min on this machine, "
        "2 cores shared with other jobs; OpenCV limited to 1 thread).",
        "",
        f"Engine: commit {engine_version()}.",
        "",
        f"Machine: {machine()}. Load average (1/5/15 min) before {load_before}, after "
        f"{load_after}. Throughput numbers are noisy on this shared machine; compare the "
        "ratios, which are measured side by side in one run.",
        "",
        "## Targets (issue 3)",
        "",
        "Throughput and IoU from the common window (all sequences, both seedings).",
        "",
        *targets(capped, thr_cap, ten),
        "",
        "Data: the 8 shared sequences (MOT layout, real GT), read in place. `first` seeds each GT "
        "track with its first box only (the tracker extends to the end); `first+last` gives "
        "the first and last GT boxes as keyframes (forward/backward passes blended). Every GT "
        "box between is scored; a frame with no output box scores IoU 0.",
        "",
        f"## Common window: first {args.cap} frames, every tracker",
        "",
    ]
    for seeding in ("first", "first+last"):
        for key, title in (("mean_iou", "mean IoU"), ("auc", "success AUC")):
            lines += [f"### {title}, seeding `{seeding}`", ""]
            lines += [*fmt_table(capped, trackers, seeding, key), ""]
    lines += [
        "### Throughput (object-frames/s, decode included, all capped runs)",
        "",
        "| tracker | object-frames/s | x CSRT | x MIL |",
        "|---|---|---|---|",
    ]
    for t in trackers:
        x_c = thr_cap[t] / thr_cap["csrt"] if thr_cap.get("csrt") else float("nan")
        x_m = thr_cap[t] / thr_cap["mil"] if thr_cap.get("mil") else float("nan")
        lines.append(f"| {t} | {thr_cap[t]:.1f} | {x_c:.1f} | {x_m:.1f} |")
    lines += ["", "Decode-only (fresh source, sequential, + grayscale), frames/s: "]
    lines += [", ".join(f"{k} {v:.0f}" for k, v in decode.items()), ""]
    lines += ["## Full sequences", ""]
    for seeding in ("first", "first+last"):
        for key, title in (("mean_iou", "mean IoU"), ("auc", "success AUC")):
            lines += [f"### {title}, seeding `{seeding}`", ""]
            lines += [*fmt_table(fulls, full, seeding, key), ""]
    lines += [
        "Throughput (object-frames/s): " + ", ".join(f"{k} {v:.1f}" for k, v in thr_full.items()),
        "",
    ]
    lines += [
        "## Confidence calibration (default `cascade`, threshold "
        f"{TrackerConfig().flag_threshold})",
        "",
        "A box is *wrong* when its IoU with the GT box is below 0.5.",
        "",
        "| runs | boxes | wrong | ROC-AUC (1-conf vs wrong) | flag precision | flag recall "
        "| flagged |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in (("full sequences", cal_full), (f"window {args.cap}", cal_cap)):
        if c:
            lines.append(
                f"| {name} | {c['boxes']} | {c['wrong_rate']:.1%} | {c['roc_auc']:.3f} | "
                f"{c['flag_precision']:.1%} | {c['flag_recall']:.1%} | {c['flag_rate']:.1%} |"
            )
    lines += [
        "",
        "Per sequence (full sequences, both seedings):",
        "",
        *per_sequence_calibration([r for r in fulls if r["tracker"] == "cascade"]),
    ]
    if ten is not None:
        lines += [
            "",
            "## 10 objects at 720p (TLP-CarChase2, first "
            f"{ten['frames']} frames: the GT car + 9 background patches)",
            "",
            f"Decode only {ten['decode_s']:.2f} s; tracking run {ten['run_s']:.2f} s including "
            f"its own decode; tracking cost beyond decode {ten['tracking_only_s']:.2f} s = "
            f"{ten['ratio_tracking_to_decode']:.2f}x decoding.",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    if args.json is not None:
        for r in capped + fulls:
            r.pop("conf", None)
        args.json.write_text(json.dumps({"capped": capped, "full": fulls, "ten": ten}, indent=1))
    print(f"wrote {args.out} in {elapsed:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
