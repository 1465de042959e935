"""Tracking-engine benchmark on the shared real sequences and the synthetic sample.

Reports, side by side in one run on one machine, for the engine with each ``--engines``
back-end (default ``nano``, ``cascade``, ``linear``) and for raw OpenCV trackers with no
engine around them (``--raw``: ``csrt``, ``nano`` = ``cv2.TrackerNano`` alone), on full
sequences:

* mean IoU with first-box seeding (each GT track seeded with its first box; the engine
  extends it to the end) and with first-and-last seeding (both as keyframes; frames between
  scored). A frame with no output box scores IoU 0. Raw trackers run once from the first box
  and are scored on the same frames for both seedings;
* object-frames per second (decode included) beside decode-only frames per second;
* the engine's confidence: ROC-AUC for "box is wrong" (IoU < 0.5), ECE, flag precision and
  recall at the default threshold. For the real sequences every box is scored by the
  leave-one-sequence-out model that never saw that sequence
  (``benchmarks/results/loso_models/``, written by ``benchmarks/fit_confidence.py``);
* ten objects at 720p: object-frames/s against decoding the same frames.

Usage::

    python benchmarks/bench_tracking.py [--data ../shared/data/sequences]
        [--engines nano,cascade,linear] [--raw csrt,nano] [--out benchmarks/results/tracking.md]
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
from tracker_annotate.tracking import confidence as cm
from tracker_annotate.tracking.api import TrackerConfig
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


LOSO_DIR = REPO / "benchmarks" / "results" / "loso_models"


def config_for(spec: str, *, extend: bool) -> TrackerConfig:
    """``nano`` or a variant such as ``nano@lost30`` (a pass past its last keyframe ends as
    lost after 30 frames unlike the keyframes)."""
    from dataclasses import replace

    name, _, variant = spec.partition("@")
    c = TrackerConfig(tracker=name, extend=extend)
    if variant.startswith("lost"):
        c = replace(c, fusion=replace(c.fusion, lost_after=int(variant[4:])))
    return c


def loso_confidence(run: Any, seq_name: str, tracker: str) -> dict[tuple[int, int], float] | None:
    """Each box's confidence under ``tracker``'s LOSO model that never saw ``seq_name``
    (``benchmarks/results/loso_models/<tracker>/``; None when there is none)."""
    path = LOSO_DIR / tracker.partition("@")[0] / f"{seq_name}.json"
    if not path.is_file() or not run.features:
        return None
    from tracker_annotate.tracking.calibration import load_model

    model = load_model(str(path))
    out = {}
    for tid, by in run.features.items():
        frames = sorted(by)
        if frames:
            conf = model.predict(np.stack([by[f] for f in frames]))
            out.update({(tid, f): float(c) for f, c in zip(frames, conf, strict=True)})
    return out


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
    config = config_for(tracker, extend=seeding == "first")
    t0 = time.perf_counter()
    run = track_project(project, source, config)
    wall = time.perf_counter() - t0
    src.close()
    ious, confs, flags = [], [], []
    loso = loso_confidence(run, gt.name, tracker)
    thr = config.flag_threshold
    for tid, frames in evals.items():
        got = {b.frame: b for b in run.boxes.get(tid, [])}
        for f in frames:
            b = got.get(f)
            if b is None:
                ious.append(0.0)
                continue
            ious.append(iou(b.xyxy.to_array(), gt.tracks[tid][f]))
            c = b.confidence
            flagged = b.flagged
            if loso is not None and (tid, f) in loso:
                # Same rules as the engine's, with the held-out model's confidence.
                rule_flag = (
                    b.flagged
                    and b.confidence < thr
                    and (b.flag_reason or "")
                    in {
                        cm.REASON_CONFLICT,
                        cm.REASON_PARTED,
                        cm.REASON_END,
                        cm.REASON_LEFT,
                    }
                )
                c = loso[(tid, f)]
                flagged = c < thr or rule_flag
            confs.append((c, flagged, ious[-1]))
            flags.append(flagged)
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
        "loso": loso is not None,
    }


class RawMember:
    """A committee member (``nano2``, ``nano3``, ``fear``...) alone, with OpenCV's tracker
    interface (``init(img, xywh)``, ``update(img) -> (ok, xywh)``)."""

    def __init__(self, name: str) -> None:
        from tracker_annotate.tracking.backends import make_measurer

        self.member = make_measurer(name).member  # type: ignore[attr-defined]

    def init(self, img: Any, xywh: tuple[int, int, int, int]) -> None:
        x, y, w, h = xywh
        self.member.init(img, np.array([x, y, x + w, y + h], dtype=np.float64))

    def update(self, img: Any) -> tuple[bool, tuple[float, float, float, float]]:
        b = self.member.update(img).xyxy
        return True, (float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1]))


def raw_factory(name: str) -> Any:
    """A constructor of the raw tracker ``name``: ``csrt``, ``nano`` (cv2.TrackerNano), or
    any learned member of the back-end registry."""
    if name == "csrt":
        return cv2.TrackerCSRT_create
    if name == "nano":
        from tracker_annotate.tracking.nano import create_nano

        return create_nano
    return lambda: RawMember(name)


def raw_runs(gt: GT, name: str, min_len: int = 5) -> list[dict[str, Any]]:
    """An OpenCV tracker alone, seeded with each track's first GT box, never corrected.

    Frame-major (each frame decoded once for all tracks, as the engine does). Returns one
    row per seeding, scored on the same frames as the engine's rows.
    """
    src = open_media(gt.path)
    n = src.n_frames
    make = raw_factory(name)
    firsts: dict[int, int] = {}
    for tid, boxes in gt.tracks.items():
        frames = sorted(boxes)
        if len(frames) >= min_len:
            firsts[tid] = frames[0]
    trackers: dict[int, Any] = {}
    out_boxes: dict[int, dict[int, np.ndarray]] = {tid: {} for tid in firsts}
    object_frames = 0
    t0 = time.perf_counter()
    for f in range(n):
        starting = [tid for tid, f0 in firsts.items() if f0 == f]
        if not starting and not trackers:
            continue
        img = src.read(f)
        for tid, tr in trackers.items():
            ok, xywh = tr.update(img)
            object_frames += 1
            if ok:
                x, y, w, h = (float(v) for v in xywh)
                out_boxes[tid][f] = np.array([x, y, x + w, y + h])
        for tid in starting:
            b = gt.tracks[tid][f]
            tr = make()
            tr.init(img, (round(b[0]), round(b[1]), round(b[2] - b[0]), round(b[3] - b[1])))
            trackers[tid] = tr
    wall = time.perf_counter() - t0
    src.close()
    rows = []
    for seeding in ("first", "first+last"):
        ious = []
        for tid in firsts:
            frames = sorted(gt.tracks[tid])
            for f in frames[1:-1] if seeding == "first+last" else frames[1:]:
                b = out_boxes[tid].get(f)
                ious.append(0.0 if b is None else iou(b, gt.tracks[tid][f]))
        arr = np.array(ious) if ious else np.zeros(1)
        rows.append(
            {
                "sequence": gt.name,
                "tracker": f"raw-{name}",
                "seeding": seeding,
                "window": n,
                "tracks": len(firsts),
                "boxes": len(ious),
                "mean_iou": float(arr.mean()),
                "auc": float(np.mean([(arr > t).mean() for t in THRESHOLDS])),
                "object_frames": object_frames if seeding == "first" else 0,
                "seconds": wall if seeding == "first" else 0.0,
                "ofps": object_frames / wall if wall > 0 else 0.0,
                "conf": [],
                "loso": False,
            }
        )
    return rows


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
    from tracker_annotate.tracking.calibration import expected_calibration_error

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
        "ece": expected_calibration_error(conf, ~wrong),
        "flag_precision": float(wrong[flagged].mean()) if flagged.any() else float("nan"),
        "flag_recall": float(flagged[wrong].mean()) if wrong.any() else float("nan"),
        "flag_rate": float(flagged.mean()),
    }


def ten_objects_720p(
    data: Path, n: int = 150, tracker: str = TrackerConfig().tracker
) -> dict[str, Any]:
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
    run = track_project(project, source, TrackerConfig(tracker=tracker))
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
        "ofps": run.object_frames / wall if wall > 0 else 0.0,
        "decode_fps": dec,
        "tracker": tracker,
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
        "| sequence | boxes | wrong | ROC-AUC | ECE | flag precision | flag recall | flagged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in sorted({r["sequence"] for r in rows}):
        c = calibration([r for r in rows if r["sequence"] == s])
        if c:
            out.append(
                f"| {s} | {c['boxes']} | {c['wrong_rate']:.1%} | {c['roc_auc']:.3f} | "
                f"{c['ece']:.3f} | "
                f"{c['flag_precision']:.1%} | {c['flag_recall']:.1%} | {c['flag_rate']:.1%} |"
            )
    return out


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


#: The learned members a committee is built from (their raw runs set its IoU target).
MEMBERS = ("nano2", "nano3", "fear", "nano")


def pooled_iou(rows: list[dict[str, Any]], t: str, seeding: str = "first") -> float:
    """Mean IoU over every scored box of ``t``'s runs (not a mean of sequence means)."""
    v = [(r["mean_iou"], r["boxes"]) for r in rows if r["tracker"] == t and r["seeding"] == seeding]
    n = sum(b for _, b in v)
    return float(sum(m * b for m, b in v) / n) if n else float("nan")


def targets(rows: list[dict[str, Any]], thr: dict[str, float], cal: dict[str, float]) -> list[str]:
    """Issue 17's tracking targets, each with the measured value (the confidence targets are
    in ``confidence-<tracker>.md``, fitted and scored leave-one-sequence-out)."""

    def mean_iou(t: str, seeding: str = "first") -> float:
        v = [r["mean_iou"] for r in rows if r["tracker"] == t and r["seeding"] == seeding]
        return float(np.mean(v)) if v else float("nan")

    out = ["| target | measured | met |", "|---|---|---|"]
    e = DEFAULT
    raws = [f"raw-{m}" for m in MEMBERS if f"raw-{m}" in thr]
    if raws:
        best = max(raws, key=mean_iou)
        d = mean_iou(e) - mean_iou(best)
        bp = max(raws, key=lambda t: pooled_iou(rows, t))
        dp = pooled_iou(rows, e) - pooled_iou(rows, bp)
        out.append(
            f"| engine (`{e}`), first box only: mean IoU >= best single raw member + 0.03 | "
            f"mean of sequences {mean_iou(e):.3f} vs {best} {mean_iou(best):.3f} ({d:+.3f}); "
            f"pooled over boxes {pooled_iou(rows, e):.3f} vs {bp} {pooled_iou(rows, bp):.3f} "
            f"({dp:+.3f}) | {_met(d >= 0.03)} |"
        )
    if "raw-csrt" in thr and thr["raw-csrt"] > 0:
        x = thr[e] / thr["raw-csrt"]
        out.append(
            f"| throughput of `{e}` against raw CSRT on these runs (the 720p target is in "
            f"throughput.md) | {x:.1f}x | - |"
        )
    if cal:
        out.append(
            f"| confidence (this run's boxes, LOSO models): ROC-AUC >= 0.90, ECE <= 0.05 | "
            f"AUC {cal['roc_auc']:.3f}, ECE {cal['ece']:.3f} | "
            f"{_met(cal['roc_auc'] >= 0.90 and cal['ece'] <= 0.05)} |"
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


DEFAULT = TrackerConfig().tracker


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--synthetic", type=Path, default=REPO / "sample_videos" / "synthetic")
    ap.add_argument("--engines", default="nano,cascade,linear")
    ap.add_argument(
        "--raw",
        default="csrt,nano",
        help="raw trackers alone: csrt, nano (cv2.TrackerNano), or learned members (nano2, "
        "nano3, fear)",
    )
    ap.add_argument("--sequences", default="", help="comma-separated names (default: all)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "tracking.md")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    engines = [t for t in args.engines.split(",") if t]
    raws = [t for t in args.raw.split(",") if t]
    seqs = sorted(p for p in args.data.iterdir() if (p / "gt" / "gt.txt").is_file())
    if args.synthetic.is_dir():
        seqs.append(args.synthetic)
    if args.sequences:
        wanted = set(args.sequences.split(","))
        seqs = [s for s in seqs if s.name in wanted]
    t_start = time.perf_counter()
    load_before = load()
    rows: list[dict[str, Any]] = []
    decode: dict[str, float] = {}
    for seq in seqs:
        gt = load_gt(seq)
        decode[gt.name] = decode_fps(gt.path)[0]
        for t in engines:
            for seeding in ("first", "first+last"):
                r = run_one(gt, t, seeding, None)
                rows.append(r)
                print(
                    f"{gt.name:15s} {seeding:10s} {t:10s} IoU {r['mean_iou']:.3f} "
                    f"{r['ofps']:7.1f} obj-fr/s",
                    file=sys.stderr,
                )
        for t in raws:
            for r in raw_runs(gt, t):
                rows.append(r)
                print(
                    f"{gt.name:15s} {r['seeding']:10s} {r['tracker']:10s} IoU {r['mean_iou']:.3f} "
                    f"{r['ofps']:7.1f} obj-fr/s",
                    file=sys.stderr,
                )
    names = engines + [f"raw-{t}" for t in raws]
    ten = ten_objects_720p(args.data) if (args.data / "TLP-CarChase2").is_dir() else None
    elapsed = time.perf_counter() - t_start
    load_after = load()
    real = [r for r in rows if r["tracker"] == DEFAULT and r["sequence"] != "synthetic"]
    variants = [t for t in engines if "@" in t]
    cal = calibration(real)
    thr = throughput(rows, names)
    cmd = "python benchmarks/bench_tracking.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "# Tracking engine benchmark",
        "",
        f"Command: `{cmd.strip()}` (whole run {elapsed / 60:.1f} min on this machine, "
        "2 cores shared with other jobs; OpenCV limited to 1 thread).",
        "",
        f"Engine: commit {engine_version()}. Default back-end: `{DEFAULT}`.",
        "",
        f"Machine: {machine()}. Load average (1/5/15 min) before {load_before}, after "
        f"{load_after}. Throughput is noisy on this shared machine; compare the ratios, "
        "measured side by side in one run.",
        "",
        "Data: the shared sequences (MOT layout, real GT, read in place) and the synthetic "
        "sample. `first`: each GT track seeded with its first box only (the engine extends it "
        "to the end of the video); `first+last`: first and last GT boxes as keyframes, frames "
        "between scored. A frame with no output box scores IoU 0. `raw-*` are OpenCV "
        "trackers alone (no engine), seeded with the first box. `linear` has no pixels: with "
        "first-box seeding it outputs nothing past the keyframe.",
        "",
        "## Targets (issue 17)",
        "",
        *targets([r for r in rows if r["sequence"] != "synthetic"], thr, cal),
        "",
        "(Means over the shared sequences; the synthetic sample is in the tables but not in "
        "the target means.)",
        "",
    ]
    for seeding in ("first", "first+last"):
        for key, title in (("mean_iou", "mean IoU"), ("auc", "success AUC")):
            lines += [f"## {title}, seeding `{seeding}`", ""]
            lines += [*fmt_table(rows, names, seeding, key), ""]
    lines += [
        "## Throughput (object-frames/s, decode included, all runs)",
        "",
        "| tracker | object-frames/s | x raw CSRT |",
        "|---|---|---|",
    ]
    for t in names:
        x_c = thr[t] / thr["raw-csrt"] if thr.get("raw-csrt") else float("nan")
        lines.append(f"| {t} | {thr[t]:.1f} | {x_c:.1f} |")
    lines += ["", "Decode-only (fresh source, sequential, + grayscale), frames/s: "]
    lines += [", ".join(f"{k} {v:.0f}" for k, v in decode.items()), ""]
    for v in variants:
        base = v.split("@")[0]
        lines += [f"## Variant `{v}` against `{base}` (first-box seeding)", ""]
        lines += [
            "| sequence | mean IoU base | mean IoU variant | flagged base | flagged variant |"
        ]
        lines += ["|---|---|---|---|---|"]
        for seq in sorted({r["sequence"] for r in rows}):
            rb = next(
                (
                    r
                    for r in rows
                    if (r["sequence"], r["tracker"], r["seeding"]) == (seq, base, "first")
                ),
                None,
            )
            rv = next(
                (
                    r
                    for r in rows
                    if (r["sequence"], r["tracker"], r["seeding"]) == (seq, v, "first")
                ),
                None,
            )
            if rb is None or rv is None:
                continue
            fb = sum(x[1] for x in rb["conf"])
            fv = sum(x[1] for x in rv["conf"])
            lines.append(f"| {seq} | {rb['mean_iou']:.3f} | {rv['mean_iou']:.3f} | {fb} | {fv} |")
        lines.append("")
    lines += [
        f"## Confidence (`{DEFAULT}`, threshold {TrackerConfig().flag_threshold}, "
        "leave-one-sequence-out)",
        "",
        "A box is *wrong* when its IoU with the GT box is below 0.5. Each real sequence's boxes "
        "are scored by the model fitted without it (see `confidence-<tracker>.md`).",
        "",
        "| runs | boxes | wrong | ROC-AUC | ECE | flag precision | flag recall | flagged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    if cal:
        lines.append(
            f"| {len({r['sequence'] for r in real})} shared sequences, both seedings | "
            f"{cal['boxes']} | {cal['wrong_rate']:.1%} | "
            f"{cal['roc_auc']:.3f} | {cal['ece']:.3f} | {cal['flag_precision']:.1%} | "
            f"{cal['flag_recall']:.1%} | {cal['flag_rate']:.1%} |"
        )
    lines += [
        "",
        "Per sequence (both seedings):",
        "",
        *per_sequence_calibration([r for r in rows if r["tracker"] == DEFAULT]),
    ]
    if ten is not None:
        lines += [
            "",
            f"## 10 objects at 720p (TLP-CarChase2, first {ten['frames']} frames, "
            f"`{ten['tracker']}`: "
            "the GT car + 9 background patches)",
            "",
            f"{ten['ofps']:.0f} object-frames/s = {ten['ofps'] / 10:.1f} frames/s for 10 objects, "
            f"against decoding alone at {ten['decode_fps']:.0f} frames/s. Run "
            f"{ten['run_s']:.2f} s including its own decode ({ten['decode_s']:.2f} s).",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    if args.json is not None:
        for r in rows:
            r.pop("conf", None)
        args.json.write_text(json.dumps({"rows": rows, "ten": ten}, indent=1))
    print(f"wrote {args.out} in {elapsed:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
