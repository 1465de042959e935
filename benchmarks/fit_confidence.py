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
LOSO figures are in its ``meta`` and in ``benchmarks/results/confidence-<tracker>.md``.

The model family and its features are chosen by LOSO, never in-sample: ``--select``
fits every candidate feature set (:data:`CANDIDATES`) leave-one-sequence-out and keeps the
one with the lowest LOSO log-loss (a proper scoring rule: it rewards ranking and
calibration together). Reported per sequence and pooled: ROC-AUC, ECE, the share of wrong
boxes, flag precision and recall at the default threshold, the flagged-to-wrong ratio, and
**failure-run recall** (a run of consecutive wrong boxes of a track counts as caught when
any box in it is flagged: one correction fixes the run).

Usage::

    python benchmarks/fit_confidence.py [--synth 6] [--data ../shared/data/sequences]
        [--tracker committee] [--select] [--rows bench-out/rows-committee.npz]
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
from confidence_eval import failure_runs, log_loss, paths

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tracking import DEFAULT_DATA, GT, LOSO_DIR, REPO, Window, iou, load_gt, roc_auc

from tracker_annotate.core.boxes import BoxXYXY, FrameBox
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.media import open_media
from tracker_annotate.synth import SynthConfig, generate
from tracker_annotate.synth.writers import write_mot_sequence
from tracker_annotate.tracking.api import TrackerConfig
from tracker_annotate.tracking.calibration import (
    COMMITTEE_ONLY,
    FEATURES,
    MODEL_PATH,
    expected_calibration_error,
    fit_model,
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
    """Feature rows and IoUs of every scored box of ``seq`` under each seeding, with the
    track, frame and seeding of each row (for failure runs)."""
    gt = load_gt(seq)
    src = open_media(seq)
    n = src.n_frames
    feats, ious, kinds, tids, frames = [], [], [], [], []
    seconds, object_frames = 0.0, 0
    for k, seeding in enumerate(SEEDINGS):
        project, kfs = seed_project(gt, n, src.width, src.height, seeding, every)
        t0 = time.perf_counter()
        run = track_project(
            project, Window(src, n), TrackerConfig(tracker=tracker, extend=seeding == "first")
        )
        seconds += time.perf_counter() - t0
        object_frames += run.object_frames
        for tid, by in sorted(run.features.items()):
            got = {b.frame: b for b in run.boxes[tid]}
            for f, row in sorted(by.items()):
                g = gt.tracks[tid].get(f)
                if g is None or f in kfs[tid] or f not in got:
                    continue  # no GT box there: the object is gone; nothing to score
                feats.append(row)
                ious.append(iou(got[f].xyxy.to_array(), g))
                kinds.append(k)
                tids.append(tid)
                frames.append(f)
    src.close()
    return {
        "name": gt.name,
        "x": np.array(feats).reshape(-1, len(FEATURES)),
        "iou": np.array(ious),
        "kind": np.array(kinds, dtype=int),
        "tid": np.array(tids, dtype=int),
        "frame": np.array(frames, dtype=int),
        "seconds": seconds,
        "object_frames": object_frames,
    }


def metrics(
    conf: np.ndarray, d: dict[str, Any] | None, iou_v: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """The figures of one set of boxes (``d``: their rows, for failure runs)."""
    wrong = iou_v < 0.5
    flagged = conf < threshold
    out = {
        "boxes": len(conf),
        "wrong_rate": float(wrong.mean()) if len(conf) else float("nan"),
        "roc_auc": roc_auc(1.0 - conf, wrong),
        "ece": expected_calibration_error(conf, ~wrong),
        "log_loss": log_loss(conf, ~wrong),
        "flag_precision": float(wrong[flagged].mean()) if flagged.any() else float("nan"),
        "flag_recall": float(flagged[wrong].mean()) if wrong.any() else float("nan"),
        "flag_rate": float(flagged.mean()) if len(conf) else float("nan"),
        "flagged_per_wrong": float(flagged.sum() / wrong.sum()) if wrong.any() else float("nan"),
    }
    if d is not None:
        runs, caught = failure_runs(d["kind"], d["tid"], d["frame"], wrong, flagged)
        out["runs"] = runs
        out["run_recall"] = caught / runs if runs else float("nan")
    return out


def pooled_metrics(
    parts: list[tuple[np.ndarray, dict[str, Any]]], threshold: float = 0.5
) -> dict[str, float]:
    conf = np.concatenate([c for c, _ in parts])
    iou_v = np.concatenate([d["iou"] for _, d in parts])
    out = metrics(conf, None, iou_v, threshold)
    runs = caught = 0
    for c, d in parts:
        r, k = failure_runs(d["kind"], d["tid"], d["frame"], d["iou"] < 0.5, c < threshold)
        runs, caught = runs + r, caught + k
    out["runs"] = runs
    out["run_recall"] = caught / runs if runs else float("nan")
    return out


def threshold_for_recall(conf: np.ndarray, iou_v: np.ndarray, recall: float = 0.9) -> float:
    """Lowest flag threshold whose recall of wrong boxes reaches ``recall``."""
    wrong_conf = np.sort(conf[iou_v < 0.5])
    if not len(wrong_conf):
        return 0.0
    k = int(np.ceil(recall * len(wrong_conf))) - 1
    return float(wrong_conf[k]) + 1e-6


#: Candidate feature sets for ``--select`` (``FEATURES`` minus what is named).
BASE = FEATURES[: FEATURES.index("agree")]
CANDIDATES: dict[str, tuple[str, ...]] = {
    "v2 (engine v2's 16)": BASE,
    "all": FEATURES,
    "all but windows": tuple(f for f in FEATURES if not f.startswith("win_")),
    "all but chain": tuple(f for f in FEATURES if not f.startswith("chain_")),
    "all but response maps": tuple(
        f for f in FEATURES if f not in ("peak", "psr", "second", "entropy")
    ),
    "all but learned similarity": tuple(f for f in FEATURES if "sim" not in f),
    "committee + context": (
        *COMMITTEE_ONLY,
        "log_age",
        "vis",
        "coasted",
        "between",
        "fb_iou",
        "lin_iou",
        "reach",
        "overlap",
        "size_change",
    ),
}


def with_split_rule(conf: np.ndarray, d: dict[str, Any], cap: float = 0.4) -> np.ndarray:
    """``conf`` with the engine's split rule applied (``assemble.split_starts``: capped
    below the default threshold where a committee member leaves the majority), per path
    of consecutive frames of one track and seeding."""
    from tracker_annotate.tracking.assemble import split_starts

    out = conf.copy()
    for idx in paths(d["kind"], d["tid"], d["frame"]):
        hit = split_starts(d["x"][idx])
        out[idx[hit]] = np.minimum(out[idx[hit]], cap)
    return out


def fit_loso(
    syn: list[dict[str, Any]],
    real: list[dict[str, Any]],
    names: tuple[str, ...],
    l2: float,
    terms: str,
    loso_dir: Path | None = None,
) -> list[np.ndarray]:
    """LOSO confidences of each real sequence: fitted on the synthetic rows and the other
    real sequences (scheme ``pooled``)."""
    out = []
    for i, held in enumerate(real):
        parts = syn + [d for j, d in enumerate(real) if j != i]
        xt = np.vstack([d["x"] for d in parts])
        yt = np.concatenate([d["iou"] for d in parts]) >= 0.5
        m = fit_model(xt, yt, l2, meta={"held_out": held["name"]}, terms=terms, names=names)
        if loso_dir is not None:
            loso_dir.mkdir(parents=True, exist_ok=True)
            (loso_dir / f"{held['name']}.json").write_text(
                json.dumps(m.to_json(), indent=1) + "\n", encoding="utf-8"
            )
        out.append(m.predict(held["x"]))
    return out


def fmt_metrics(name: str, m: dict[str, float]) -> str:
    return (
        f"| {name} | {m['boxes']} | {m['wrong_rate']:.1%} | {m['roc_auc']:.3f} | "
        f"{m['ece']:.3f} | {m['flag_precision']:.1%} | {m['flag_recall']:.1%} | "
        f"{m.get('run_recall', float('nan')):.1%} ({m.get('runs', 0)}) | "
        f"{m['flagged_per_wrong']:.2f} |"
    )


METRIC_HEAD = [
    "| set | boxes | wrong | ROC-AUC | ECE | flag precision | flag recall | "
    "failure-run recall (runs) | flagged / wrong |",
    "|---|---|---|---|---|---|---|---|---|",
]


def main(argv: list[str] | None = None) -> int:
    from tracker_annotate.tracking.backends import backend

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--synth", type=int, default=6, help="synthetic sequences to fit on")
    ap.add_argument("--cache", type=Path, default=REPO / "bench-out" / "synth-fit")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--tracker", default=TrackerConfig().tracker)
    ap.add_argument("--every", type=int, default=40, help="keyframe spacing of the third seeding")
    ap.add_argument("--l2", type=float, default=0.3)
    ap.add_argument("--terms", choices=("linear", "quadratic"), default="quadratic")
    ap.add_argument(
        "--features",
        default="all",
        help=f"a candidate set name ({', '.join(CANDIDATES)}) or a comma-separated list",
    )
    ap.add_argument(
        "--select",
        action="store_true",
        help="choose the feature set and terms by LOSO log-loss among the candidates",
    )
    ap.add_argument("--out", type=Path, default=None, help="default: the back-end's model file")
    ap.add_argument("--report", type=Path, default=None)
    ap.add_argument(
        "--rows",
        default=None,
        help="cache of collected rows (.npz); several, comma-separated, are read together "
        "and new rows go to the first",
    )
    ap.add_argument(
        "--collect-only",
        default="",
        help="comma-separated sequence names: collect their rows into --rows and stop "
        "(to collect in several processes)",
    )
    ap.add_argument(
        "--members",
        default="",
        help="comma-separated learned members: run the committee back-end with these instead "
        "of its registered ones (to compare committees)",
    )
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    if args.members:
        from dataclasses import replace

        from tracker_annotate.tracking import backends

        info = backends.BACKENDS[args.tracker]
        backends.BACKENDS[args.tracker] = replace(info, args=tuple(args.members.split(",")))
    out_path = args.out or MODEL_PATH.parent / backend(args.tracker).confidence_model
    report = args.report or (REPO / "benchmarks" / "results" / f"confidence-{args.tracker}.md")
    t_start = time.perf_counter()
    syn_paths = synth_sequences(args.synth, args.cache)
    real_paths = sorted(p for p in args.data.iterdir() if (p / "gt" / "gt.txt").is_file())
    data: dict[str, dict[str, Any]] = {}
    row_files = [Path(r) for r in args.rows.split(",")] if args.rows else []
    for rf in row_files:
        if rf.is_file():
            z = np.load(rf, allow_pickle=True)
            data.update(z["data"].item())
    mine: dict[str, dict[str, Any]] = {}
    if row_files and row_files[0].is_file():
        mine = np.load(row_files[0], allow_pickle=True)["data"].item()
    todo = [*syn_paths, *real_paths]
    if args.collect_only:
        wanted = set(args.collect_only.split(","))
        todo = [p for p in todo if p.name in wanted]
    for p in todo:
        if p.name not in data:
            data[p.name] = collect(p, args.tracker, args.every)
            d = data[p.name]
            print(
                f"{p.name:22s} {len(d['iou']):6d} boxes, {np.mean(d['iou'] < 0.5):.1%} wrong, "
                f"{d['object_frames'] / max(d['seconds'], 1e-9):.0f} obj-frames/s",
                file=sys.stderr,
            )
            if row_files:
                mine[p.name] = d
                row_files[0].parent.mkdir(parents=True, exist_ok=True)
                np.savez(row_files[0], data=np.array(mine, dtype=object))
    if args.collect_only:
        return 0
    syn = [data[p.name] for p in syn_paths]
    real = [data[p.name] for p in real_paths]

    # Choice of features and terms, by LOSO log-loss.
    if args.features in CANDIDATES:
        chosen = args.features
        names = CANDIDATES[chosen]
    else:
        names = tuple(args.features.split(","))
        chosen = "custom"
    terms = args.terms
    selection: list[str] = []
    if args.select:
        scores = []
        for cname, cnames in CANDIDATES.items():
            for t in ("linear", "quadratic"):
                confs = fit_loso(syn, real, cnames, args.l2, t)
                m = pooled_metrics(list(zip(confs, real, strict=True)))
                scores.append((m["log_loss"], cname, t, m))
                print(f"{cname:28s} {t:9s} {fmt_metrics(cname, m)}", file=sys.stderr)
        scores.sort(key=lambda r: r[0])
        _, chosen, terms, _ = scores[0]
        names = CANDIDATES[chosen]
        selection = [
            "## Choice of features and terms (LOSO over the real sequences, pooled)",
            "",
            "| features | terms | LOSO log-loss | ROC-AUC | ECE | failure-run recall |",
            "|---|---|---|---|---|---|",
            *[
                f"| {c} | {t} | {ll:.4f} | {m['roc_auc']:.3f} | {m['ece']:.3f} | "
                f"{m['run_recall']:.1%} |"
                for ll, c, t, m in scores
            ],
            "",
            f"Chosen: **{chosen}**, {terms} terms (lowest LOSO log-loss).",
            "",
        ]
    loso_dir = LOSO_DIR / args.tracker
    loso_confs = fit_loso(syn, real, names, args.l2, terms, loso_dir)
    loso = pooled_metrics(list(zip(loso_confs, real, strict=True)))
    ruled = [with_split_rule(c, d) for c, d in zip(loso_confs, real, strict=True)]
    loso_rule = pooled_metrics(list(zip(ruled, real, strict=True)))
    per_seq = [(d["name"], metrics(c, d, d["iou"])) for c, d in zip(loso_confs, real, strict=True)]
    xs = np.vstack([d["x"] for d in syn])
    ys = np.concatenate([d["iou"] for d in syn]) >= 0.5
    syn_model = fit_model(xs, ys, args.l2, terms=terms, names=names)
    syn_only = pooled_metrics([(syn_model.predict(d["x"]), d) for d in real])
    loso_conf = np.concatenate(loso_confs)
    real_iou = np.concatenate([d["iou"] for d in real])
    r90 = threshold_for_recall(loso_conf, real_iou, 0.9)
    at90 = pooled_metrics(list(zip(loso_confs, real, strict=True)), r90)
    cmd = "python benchmarks/fit_confidence.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    meta = {
        "fitted_on": f"{len(syn)} synthetic + {len(real)} shared sequences, "
        f"tracker {args.tracker}, features {chosen}",
        "command": cmd,
        "loso_roc_auc": loso["roc_auc"],
        "loso_ece": loso["ece"],
        "loso_run_recall": loso["run_recall"],
        "synthetic_only_on_real_roc_auc": syn_only["roc_auc"],
    }
    xa = np.vstack([d["x"] for d in syn + real])
    ya = np.concatenate([d["iou"] for d in syn + real]) >= 0.5
    final = fit_model(xa, ya, args.l2, terms=terms, meta=meta, names=names)
    out_path.write_text(json.dumps(final.to_json(), indent=1) + "\n", encoding="utf-8")
    rel = reliability(loso_conf, real_iou >= 0.5)
    lines = [
        f"# Calibrated confidence of `{args.tracker}`: fit and out-of-sample evaluation",
        "",
        f"Command: `{cmd}` ({time.perf_counter() - t_start:.0f} s; collecting the rows "
        "without a cache takes longer). "
        f"Seedings {', '.join(SEEDINGS)} (every {args.every} frames). A box is wrong when "
        "IoU < 0.5; flagged when its confidence is below 0.5 (the default threshold; the "
        "engine's rule flags, such as overlaps and track ends, come on top).",
        "",
        f"Training rows: {len(xs)} synthetic boxes from {len(syn)} generated sequences "
        f"({np.mean(~ys):.1%} wrong); {len(real_iou)} real boxes from {len(real)} "
        f"shared sequences ({np.mean(real_iou < 0.5):.1%} wrong).",
        "",
        *selection,
        "## Out of sample on the shared sequences",
        "",
        *METRIC_HEAD,
        fmt_metrics("synthetic only (never saw a real box)", syn_only),
        fmt_metrics(f"**LOSO** (features {chosen}, {terms})", loso),
        fmt_metrics(f"LOSO at threshold {r90:.3f} (recall 0.9)", at90),
        fmt_metrics("LOSO + the engine's split rule (a member leaves the majority)", loso_rule),
        "",
        "Per held-out sequence (LOSO):",
        "",
        *METRIC_HEAD,
        *[fmt_metrics(n, m) for n, m in per_seq],
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
                [*names, *(f"{f}^2" for f in names)][: len(final.coef)],
                final.coef,
                strict=True,
            )
        ],
        f"| intercept | {final.intercept:+.3f} |",
        "",
    ]
    report.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
