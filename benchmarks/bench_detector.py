"""Detector benchmark: the shipped YOLOX-nano on the shared sequences with people or cars.

For each sequence (read in place, never copied), on every ``--step``-th frame:

* recall: share of GT boxes matched by a detection of the sequence's classes at IoU >= 0.5
  (Hungarian, one detection per GT box), at score >= 0.25 and >= 0.5;
* precision: share of those detections that match a GT box. On single-object OTB/TLP
  sequences only one object is labelled, so other people or cars count as false: there
  precision is a lower bound;
* ms per frame (letterbox + network + decode + NMS, one process, ``cv2.setNumThreads(1)``).

Then the cost of the new-object schedule on the multi-object sequences: the engine tracks
every GT track from its first box (the annotator's first boxes), the schedule interval is
chosen by :func:`tracker_annotate.tracking.proposals.split_budget` for a 20% budget, and
:func:`~tracker_annotate.tracking.proposals.propose_new_objects` runs (walk-back and
track-ahead included); its detector time is compared with the engine's.

Usage::

    python benchmarks/bench_detector.py [--step 3] [--out benchmarks/results/detector.md]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from tracker_annotate.bench.sequences import load_mot_sequence
from tracker_annotate.core.boxes import BoxXYXY, iou_matrix
from tracker_annotate.core.commands import add_track
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.io.media import open_media
from tracker_annotate.tracking.api import TrackerConfig, apply_run
from tracker_annotate.tracking.detector import DetectorConfig, shipped_detector
from tracker_annotate.tracking.engine import track_project
from tracker_annotate.tracking.proposals import (
    ProposalConfig,
    propose_new_objects,
    split_budget,
)
from tracker_annotate.tracking.refind import refind_lost

REPO = Path(__file__).resolve().parent.parent
SEQS = REPO.parent / "shared" / "data" / "sequences"
PEOPLE = ("person",)
CARS = ("car", "truck", "bus")
#: (sequence, classes, multi-object?)
CASES = (
    ("TUD-Campus", PEOPLE, True),
    ("TUD-Stadtmitte", PEOPLE, True),
    ("OTB-Crossing", PEOPLE, False),
    ("OTB-Couple", PEOPLE, False),
    ("OTB-Car4", CARS, False),
    ("TLP-CarChase2", CARS, False),
)


def _match(gt: np.ndarray, det: np.ndarray) -> int:
    if not len(gt) or not len(det):
        return 0
    m = iou_matrix(gt, det)
    r, c = linear_sum_assignment(-m)
    return int((m[r, c] >= 0.5).sum())


def detection_rows(step: int) -> list[dict[str, object]]:
    rows = []
    for name, classes, _multi in CASES:
        path = SEQS / name
        gt = load_mot_sequence(path)
        det = shipped_detector(DetectorConfig(score_threshold=0.25, classes=classes))
        frames = list(range(0, gt.n_frames, step))
        n_gt = 0
        hits = {0.25: 0, 0.5: 0}
        n_det = {0.25: 0, 0.5: 0}
        ms = []
        with open_media(path) as src:
            det.detect(src.read(0), 0)  # warm-up (first call allocates)
            for f in frames:
                img = src.read(f)
                d = det.detect(img, f)
                ms.append(det.last_ms)
                g = [t.xyxy[i] for t in gt.tracks.values() if (i := t.index_of(f)) is not None]
                g_arr = np.array(g).reshape(-1, 4)
                n_gt += len(g_arr)
                for s in hits:
                    keep = d.scores >= s
                    hits[s] += _match(g_arr, d.xyxy[keep])
                    n_det[s] += int(keep.sum())
            wh = f"{src.width}x{src.height}"
        rows.append(
            {
                "sequence": name,
                "classes": ", ".join(classes),
                "size": wh,
                "frames": len(frames),
                "gt": n_gt,
                "recall25": hits[0.25] / n_gt if n_gt else float("nan"),
                "precision25": hits[0.25] / n_det[0.25] if n_det[0.25] else float("nan"),
                "recall50": hits[0.5] / n_gt if n_gt else float("nan"),
                "precision50": hits[0.5] / n_det[0.5] if n_det[0.5] else float("nan"),
                "det_per_frame": n_det[0.25] / len(frames),
                "ms_p50": float(np.median(ms)),
                "ms_mean": float(np.mean(ms)),
            }
        )
        print(f"{name}: done", file=sys.stderr)
    return rows


def schedule_rows() -> list[dict[str, object]]:
    rows = []
    for name, classes, multi in CASES:
        if not multi:
            continue
        path = SEQS / name
        gt = load_mot_sequence(path)
        det = shipped_detector(DetectorConfig(score_threshold=0.25, classes=classes))
        with open_media(path) as src:
            project = Project(MediaRef(str(path), src.n_frames, src.width, src.height, src.fps))
            for t in gt.tracks.values():
                add_track(project, t.first, BoxXYXY.from_array(t.xyxy[0]))
            t0 = time.perf_counter()
            run = track_project(project, src, TrackerConfig())
            engine_s = time.perf_counter() - t0
            apply_run(project, run)
            det.detect(src.read(0), 0)
            det_ms = det.last_ms
            n_refind, every = split_budget(src.n_frames, engine_s, det_ms)
            t0 = time.perf_counter()
            refound, cost0 = refind_lost(project, src, det, run, max_calls=n_refind)
            props, cost = propose_new_objects(
                project,
                src,
                det,
                ProposalConfig(),
                every=every,
                also_explained=[(r.frame, r.xyxy) for r in refound],
            )
            total_s = time.perf_counter() - t0
        rows.append(
            {
                "sequence": name,
                "frames": gt.n_frames,
                "tracks": len(gt.tracks),
                "engine_s": engine_s,
                "det_ms": det_ms,
                "every": every,
                "calls": cost.calls + cost0.calls,
                "det_s": cost.seconds + cost0.seconds,
                "share": (cost.seconds + cost0.seconds) / engine_s,
                "refound": len(refound),
                "total_s": total_s,
                "proposals": len(props),
            }
        )
        print(f"{name}: schedule done", file=sys.stderr)
    return rows


def render(det_rows: list[dict[str, object]], sched: list[dict[str, object]], cmd: str) -> str:
    out = [
        "# Detector benchmark (shipped YOLOX-nano, 416x416, cv2.dnn, one thread)",
        "",
        f"Command: `{cmd}`",
        "",
        f"OpenCV {cv2.__version__}; the machine (2 cores) is shared with other jobs, so "
        "times are noisy. Frames are subsampled (every `--step`-th frame, from frame 0). "
        "Recall: GT boxes matched by a detection of the listed classes at IoU >= 0.5 "
        "(Hungarian). Precision: matched detections / detections; on the single-object "
        "OTB/TLP sequences other people and cars are unlabelled, so precision there is a "
        "lower bound.",
        "",
        "| sequence | classes | size | frames | GT boxes | recall @0.25 | precision @0.25 "
        "| recall @0.5 | precision @0.5 | detections/frame @0.25 | ms/frame p50 (mean) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in det_rows:
        out.append(
            f"| {r['sequence']} | {r['classes']} | {r['size']} | {r['frames']} | {r['gt']} "
            f"| {r['recall25']:.3f} | {r['precision25']:.3f} | {r['recall50']:.3f} "
            f"| {r['precision50']:.3f} | {r['det_per_frame']:.1f} "
            f"| {r['ms_p50']:.1f} ({r['ms_mean']:.1f}) |"
        )
    out += [
        "",
        "## New-object schedule cost on the multi-object sequences",
        "",
        "The engine tracks every GT track from its first GT box (full run, default "
        "`TrackerConfig`); `split_budget` turns a 20% budget into detector calls, half for "
        "`refind_lost` (at most that many calls) and half for the schedule (interval clamped "
        "to 5..250 frames, half of its calls for walking back); `propose_new_objects` "
        "then runs with the default `ProposalConfig` (walk back by 4 frames, at most as "
        "many calls as the schedule; track ahead), after `refind_lost` (its calls count too). "
        "'detector share' is the detector's own time over the engine's full run; the "
        "track-ahead engine runs for proposals are in 'schedule total'.",
        "",
        "| sequence | frames | GT tracks | engine full run | detector ms | interval N "
        "| detector calls | detector time | detector share | schedule total | re-found "
        "| new-object proposals |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sched:
        out.append(
            f"| {r['sequence']} | {r['frames']} | {r['tracks']} | {r['engine_s']:.1f} s "
            f"| {r['det_ms']:.1f} | {r['every']} | {r['calls']} | {r['det_s']:.2f} s "
            f"| {100 * float(r['share']):.1f}% | {r['total_s']:.1f} s | {r['refound']} "
            f"| {r['proposals']} |"  # type: ignore[arg-type]
        )
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--step", type=int, default=3, help="every STEP-th frame (default 3)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "detector.md")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    cmd = "python benchmarks/bench_detector.py " + shlex.join(
        ["--step", str(args.step), "--out", str(args.out.relative_to(REPO))]
        if args.out.is_relative_to(REPO)
        else ["--step", str(args.step), "--out", str(args.out)]
    )
    t0 = time.perf_counter()
    det_rows = detection_rows(args.step)
    sched = schedule_rows()
    text = render(det_rows, sched, cmd)
    text += f"\nWall time {time.perf_counter() - t0:.0f} s.\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
