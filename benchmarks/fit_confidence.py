"""Fit the calibrated confidence model (``tracker_annotate/tracking/confidence_model.json``).

Data, all made by running the real engine (``nano`` by default) and scoring its boxes
against ground truth (a box is *wrong* when IoU < 0.5):

* **synthetic** sequences from ``tracker_annotate.synth`` with many seeds, lengths and hard
  cases (any amount, exact ground truth), written once to ``--cache``;
* the **shared** real sequences, used only under leave-one-sequence-out (LOSO): for each
  real sequence, a model fitted on the synthetic rows plus the other real sequences scores
  it. The figures reported are those LOSO scores (and the synthetic-only model's scores on
  the real sequences, which saw none of them), never in-sample ones.

Each sequence is run with three seedings: each track's first box alone (the extension after
the last keyframe), first and last box (between keyframes), and a keyframe every
``--every`` frames. The shipped model is then fitted on everything (synthetic + real); its
LOSO figures are in its ``meta`` and in ``benchmarks/results/confidence.md``.

Usage::

    python benchmarks/fit_confidence.py [--synth 16] [--data ../shared/data/sequences]
        [--tracker nano] [--out tracker_annotate/tracking/confidence_model.json]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tracking import DEFAULT_DATA, GT, LOSO_DIR, REPO, Window, iou, load_gt, roc_auc

from tracker_annotate.core.boxes import BoxXYXY, FrameBox
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.media import open_media
from tracker_annotate.synth import SynthConfig, generate
from tracker_annotate.synth.writers import write_mot_sequence
from tracker_annotate.tracking.api import TrackerConfig
from tracker_annotate.tracking.calibration import (
    FEATURES,
    MODEL_PATH,
    expected_calibration_error,
    fit_model,
    recalibrate,
    reliability,
)
from tracker_annotate.tracking.engine import track_project

SEEDINGS = ("first", "first+last", "every")


def synth_config(seed: int) -> SynthConfig:
    """A varied synthetic scenario per seed: length, size, noise and which hard cases."""
    rng = np.random.default_rng(seed)
    flags = {
        k: bool(rng.random() < 0.7)
        for k in (
            "crossing",
            "look_alikes",
            "scale_change",
            "exit_reenter",
            "camera_pan",
            "illumination",
            "shadow_band",
        )
    }
    return SynthConfig(
        width=int(rng.choice([480, 640])),
        height=int(rng.choice([270, 360])),
        n_frames=int(rng.choice([90, 150, 240])),
        seed=1000 + seed,
        sensor_noise_sigma=float(rng.uniform(0.5, 6.0)),
        **flags,
    )


def synth_sequences(n: int, cache: Path) -> list[Path]:
    out = []
    for seed in range(1, n + 1):
        d = cache / f"synth-{seed:03d}"
        if not (d / "gt" / "gt.txt").is_file():
            write_mot_sequence(generate(synth_config(seed)), d, name=d.name)
        out.append(d)
    return out


def seed_project(
    gt: GT, n: int, w: int, h: int, seeding: str, every: int
) -> tuple[Project, dict[int, set[int]]]:
    """A project with the seeding's keyframes from GT, and each track's keyframe frames."""
    project = Project(MediaRef(str(gt.path), n, w, h))
    kfs: dict[int, set[int]] = {}
    with project.edit("seed") as tx:
        for tid, boxes in sorted(gt.tracks.items()):
            frames = sorted(f for f in boxes if f < n)
            if len(frames) < 5:
                continue
            # Only a track's first visible run (objects that leave and come back are several
            # runs; a keyframe across the gap would ask the engine to bridge it).
            run = [frames[0]]
            for f in frames[1:]:
                if f != run[-1] + 1:
                    break
                run.append(f)
            if len(run) < 5:
                continue
            if seeding == "first":
                chosen = [run[0]]
            elif seeding == "first+last":
                chosen = [run[0], run[-1]]
            else:
                chosen = sorted({*run[::every], run[-1]})
            tx.set_track(TrackInfo(tid))
            for f in chosen:
                tx.set_box(tid, FrameBox(f, BoxXYXY.from_array(boxes[f])))
            kfs[tid] = set(chosen) | (
                {f for f in frames if f > run[-1]} if seeding != "first" else set()
            )
    return project, kfs


def collect(seq: Path, tracker: str, every: int) -> dict[str, Any]:
    """Feature rows and IoUs of every scored box of ``seq`` under each seeding."""
    gt = load_gt(seq)
    src = open_media(seq)
    n = src.n_frames
    feats, ious, kinds = [], [], []
    seconds, object_frames = 0.0, 0
    for k, seeding in enumerate(SEEDINGS):
        project, kfs = seed_project(gt, n, src.width, src.height, seeding, every)
        t0 = time.perf_counter()
        run = track_project(
            project, Window(src, n), TrackerConfig(tracker=tracker, extend=seeding == "first")
        )
        seconds += time.perf_counter() - t0
        object_frames += run.object_frames
        for tid, by in run.features.items():
            for f, row in sorted(by.items()):
                g = gt.tracks[tid].get(f)
                if g is None or f in kfs[tid]:
                    continue  # no GT box there: the object is gone; nothing to score
                b = next(b for b in run.boxes[tid] if b.frame == f)
                feats.append(row)
                ious.append(iou(b.xyxy.to_array(), g))
                kinds.append(k)
    src.close()
    return {
        "name": gt.name,
        "x": np.array(feats).reshape(-1, len(FEATURES)),
        "iou": np.array(ious),
        "kind": np.array(kinds, dtype=int),
        "seconds": seconds,
        "object_frames": object_frames,
    }


def metrics(conf: np.ndarray, iou_v: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    wrong = iou_v < 0.5
    flagged = conf < threshold
    return {
        "boxes": len(conf),
        "wrong_rate": float(wrong.mean()) if len(conf) else float("nan"),
        "roc_auc": roc_auc(1.0 - conf, wrong),
        "ece": expected_calibration_error(conf, ~wrong),
        "flag_precision": float(wrong[flagged].mean()) if flagged.any() else float("nan"),
        "flag_recall": float(flagged[wrong].mean()) if wrong.any() else float("nan"),
        "flag_rate": float(flagged.mean()) if len(conf) else float("nan"),
    }


def threshold_for_recall(conf: np.ndarray, iou_v: np.ndarray, recall: float = 0.9) -> float:
    """Lowest flag threshold whose recall of wrong boxes reaches ``recall``."""
    wrong_conf = np.sort(conf[iou_v < 0.5])
    if not len(wrong_conf):
        return 0.0
    k = int(np.ceil(recall * len(wrong_conf))) - 1
    return float(wrong_conf[k]) + 1e-6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--synth", type=int, default=16, help="synthetic sequences to fit on")
    ap.add_argument("--cache", type=Path, default=REPO / "bench-out" / "synth-fit")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--tracker", default=TrackerConfig().tracker)
    ap.add_argument("--every", type=int, default=40, help="keyframe spacing of the third seeding")
    ap.add_argument("--l2", type=float, default=0.3)
    ap.add_argument("--terms", choices=("linear", "quadratic"), default="quadratic")
    ap.add_argument(
        "--scheme",
        choices=("synthetic", "synthetic-rank", "pooled"),
        default="synthetic",
        help="synthetic: fitted on generated sequences only (every real sequence is out of "
        "sample); synthetic-rank: the ranking from generated sequences, the isotonic "
        "calibration from the real ones (LOSO: the other 7); pooled: both from everything "
        "(LOSO: synthetic + the other 7)",
    )
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument(
        "--report", type=Path, default=REPO / "benchmarks" / "results" / "confidence.md"
    )
    ap.add_argument("--rows", type=Path, default=None, help="cache of collected rows (.npz)")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    t_start = time.perf_counter()
    syn_paths = synth_sequences(args.synth, args.cache)
    real_paths = sorted(p for p in args.data.iterdir() if (p / "gt" / "gt.txt").is_file())
    data: dict[str, dict[str, Any]] = {}
    if args.rows is not None and args.rows.is_file():
        z = np.load(args.rows, allow_pickle=True)
        data = z["data"].item()
    for p in [*syn_paths, *real_paths]:
        if p.name not in data:
            data[p.name] = collect(p, args.tracker, args.every)
            d = data[p.name]
            print(
                f"{p.name:16s} {len(d['iou']):6d} boxes, {np.mean(d['iou'] < 0.5):.1%} wrong, "
                f"{d['object_frames'] / max(d['seconds'], 1e-9):.0f} obj-frames/s",
                file=sys.stderr,
            )
    if args.rows is not None:
        args.rows.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.rows, data=np.array(data, dtype=object))
    syn = [data[p.name] for p in syn_paths]
    real = [data[p.name] for p in real_paths]

    def stack(ds: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        return np.vstack([d["x"] for d in ds]), np.concatenate([d["iou"] for d in ds])

    xs, ys = stack(syn)
    syn_model = fit_model(xs, ys >= 0.5, args.l2, terms=args.terms)
    # Out of sample 1: the synthetic-only model on every real sequence.
    syn_conf = np.concatenate([syn_model.predict(d["x"]) for d in real])
    real_iou = np.concatenate([d["iou"] for d in real])
    # Out of sample 2: LOSO over the real sequences (synthetic always in the training set).
    loso_conf_parts, per_seq = [], []
    for i, held in enumerate(real):
        others = [d for j, d in enumerate(real) if j != i]
        if args.scheme == "synthetic":
            m = recalibrate(syn_model, xs, ys >= 0.5, meta={"held_out": held["name"]})
        elif args.scheme == "synthetic-rank":
            xo, yo = stack(others)
            m = recalibrate(syn_model, xo, yo >= 0.5, meta={"held_out": held["name"]})
        else:
            xt, yt = stack(syn + others)
            m = fit_model(xt, yt >= 0.5, args.l2, meta={"held_out": held["name"]}, terms=args.terms)
        LOSO_DIR.mkdir(parents=True, exist_ok=True)
        (LOSO_DIR / f"{held['name']}.json").write_text(
            json.dumps(m.to_json(), indent=1) + "\n", encoding="utf-8"
        )
        c = m.predict(held["x"])
        loso_conf_parts.append(c)
        per_seq.append((held["name"], metrics(c, held["iou"])))
    loso_conf = np.concatenate(loso_conf_parts)
    loso = metrics(loso_conf, real_iou)
    syn_only = metrics(syn_conf, real_iou)
    r90 = threshold_for_recall(loso_conf, real_iou, 0.9)
    at90 = metrics(loso_conf, real_iou, r90)
    meta = {
        "fitted_on": f"{len(syn)} synthetic + {len(real)} shared sequences, "
        f"tracker {args.tracker}, scheme {args.scheme}",
        "command": "python "
        + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
        "loso_roc_auc": loso["roc_auc"],
        "loso_ece": loso["ece"],
        "synthetic_only_on_real_roc_auc": syn_only["roc_auc"],
    }
    xa, ya = stack(syn + real)
    xr, yr = stack(real)
    if args.scheme == "synthetic":
        final = recalibrate(syn_model, xs, ys >= 0.5, meta=meta)
    elif args.scheme == "synthetic-rank":
        final = recalibrate(syn_model, xr, yr >= 0.5, meta=meta)
    else:
        final = fit_model(xa, ya >= 0.5, args.l2, terms=args.terms, meta=meta)
    args.out.write_text(json.dumps(final.to_json(), indent=1) + "\n", encoding="utf-8")
    rel = reliability(loso_conf, real_iou >= 0.5)
    cmd = "python benchmarks/fit_confidence.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "# Calibrated confidence: fit and out-of-sample evaluation",
        "",
        f"Command: `{cmd}` ({time.perf_counter() - t_start:.0f} s). Tracker `{args.tracker}`; "
        f"seedings {', '.join(SEEDINGS)} (every {args.every} frames). "
        "A box is wrong when IoU < 0.5.",
        "",
        f"Training rows: {len(xs)} synthetic boxes from {len(syn)} generated sequences "
        f"({np.mean(ys < 0.5):.1%} wrong); {len(real_iou)} real boxes from {len(real)} "
        "shared sequences "
        f"({np.mean(real_iou < 0.5):.1%} wrong).",
        "",
        "## Out of sample on the shared sequences",
        "",
        "| model | ROC-AUC (IoU<0.5) | ECE | flag precision @0.5 | flag recall @0.5 | flagged |",
        "|---|---|---|---|---|---|",
        f"| synthetic only (never saw a real box) | {syn_only['roc_auc']:.3f} | "
        f"{syn_only['ece']:.3f} | {syn_only['flag_precision']:.1%} | "
        f"{syn_only['flag_recall']:.1%} | {syn_only['flag_rate']:.1%} |",
        f"| shipped scheme `{args.scheme}`, each real sequence held out | "
        f"**{loso['roc_auc']:.3f}** | **{loso['ece']:.3f}** | "
        f"{loso['flag_precision']:.1%} | {loso['flag_recall']:.1%} | {loso['flag_rate']:.1%} |",
        f"| LOSO at threshold {r90:.3f} (recall 0.9) | | | {at90['flag_precision']:.1%} | "
        f"{at90['flag_recall']:.1%} | {at90['flag_rate']:.1%} |",
        "",
        "Per held-out sequence (LOSO):",
        "",
        "| sequence | boxes | wrong | ROC-AUC | ECE | flag precision | flag recall |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {n} | {m['boxes']} | {m['wrong_rate']:.1%} | {m['roc_auc']:.3f} | {m['ece']:.3f} | "
            f"{m['flag_precision']:.1%} | {m['flag_recall']:.1%} |"
            for n, m in per_seq
        ],
        "",
        "## Reliability diagram (LOSO, pooled real boxes)",
        "",
        "| confidence bin mean | share right | boxes |",
        "|---|---|---|",
        *[f"| {c:.2f} | {r:.2f} | {k} |" for c, r, k in rel],
        "",
        "## Shipped model (fitted on all rows)",
        "",
        "| feature | coefficient (standardised) |",
        "|---|---|",
        *[
            f"| {n} | {c:+.3f} |"
            for n, c in zip(
                [*FEATURES, *(f"{f}^2" for f in FEATURES)][: len(final.coef)],
                final.coef,
                strict=True,
            )
        ],
        f"| intercept | {final.intercept:+.3f} |",
        "",
    ]
    args.report.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
