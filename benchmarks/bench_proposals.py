"""Which detector score makes a proposal mostly right: precision of the shipped detector by
score on the shared multi-object pedestrian sequences.

A proposal is one detection the tool shows the annotator as "new object?". What matters
is the chance that a proposal *at* a given score is a real object of the asked class, so
the table gives, per score band, the share of the detector's ``person`` detections that
match a ground-truth box (IoU >= 0.5, Hungarian, one detection per GT box, every frame),
and the same share for every detection at or above the band (cumulative precision).

A detection that misses the match but overlaps a labelled person by IoU >= 0.3
(:attr:`ProposalConfig.explained_iou`: a duplicate or loose box on that person) is never a
proposal in the app, where that person's track explains it; those are counted apart
("near GT") and left out of the precision.

Which sequences, and why:

* **TUD-Campus and TUD-Stadtmitte** are the only shared sequences where every walker is
  meant to be labelled (8 and 10 tracks). They still leave some people unlabelled (people
  at the far end of the street, half out of the image, behind others), so an unmatched
  detection is a false proposal *or* an unlabelled person: the plain precision is a lower
  bound. ``--crops DIR`` writes a contact sheet of the unmatched detections per band (a
  seeded random sample), to look at; the count of real people found there is entered back
  with ``--unlabelled BAND=K/N`` and turns the bound into an estimate (matched + the
  unmatched share that are people);
* the single-object OTB / VOT / TLP sequences label one object among many people or cars,
  so their unmatched detections say nothing about false proposals: not used.

The threshold is the lowest band edge from which every band's precision is at least
``--want`` (0.5: a proposal is more likely right than wrong), given for the lower bound
(no judgement by eye) and for the estimate.

Usage::

    python benchmarks/bench_proposals.py [--out benchmarks/results/proposals.md]
        [--crops DIR] [--unlabelled 0.3=4/20 ...]
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
from tracker_annotate.core.boxes import iou_matrix
from tracker_annotate.io.media import open_media
from tracker_annotate.tracking.detector import DetectorConfig, shipped_detector

REPO = Path(__file__).resolve().parent.parent
#: ../shared beside the repository (a worktree one level deeper finds it one more up)
SHARED = next(
    (p / "shared" for p in (REPO.parent, REPO.parent.parent) if (p / "shared").is_dir()),
    REPO.parent / "shared",
)
SEQS = SHARED / "data" / "sequences"
SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")
#: score band edges; the last band is [0.8, 1.0]
EDGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0001)
MATCH_IOU = 0.5
#: ProposalConfig.explained_iou: a detection this close to a tracked object is that object
NEAR_IOU = 0.3


def detections(step: int) -> list[dict[str, object]]:
    """Every person detection at score >= 0.1: sequence, frame, xyxy, score, matched."""
    det = shipped_detector(DetectorConfig(score_threshold=EDGES[0], classes=("person",)))
    out: list[dict[str, object]] = []
    for name in SEQUENCES:
        path = SEQS / name
        gt = load_mot_sequence(path)
        with open_media(path) as src:
            for f in range(0, gt.n_frames, step):
                d = det.detect(src.read(f), f)
                g = [t.xyxy[i] for t in gt.tracks.values() if (i := t.index_of(f)) is not None]
                g_arr = np.array(g, dtype=np.float64).reshape(-1, 4)
                matched = np.zeros(len(d), dtype=bool)
                best = np.zeros(len(d))
                if len(d) and len(g_arr):
                    m = iou_matrix(g_arr, d.xyxy)
                    r, c = linear_sum_assignment(-m)
                    ok = m[r, c] >= MATCH_IOU
                    matched[c[ok]] = True
                    best = m.max(axis=0)
                for i in range(len(d)):
                    out.append(
                        {
                            "seq": name,
                            "frame": f,
                            "xyxy": d.xyxy[i].copy(),
                            "score": float(d.scores[i]),
                            "matched": bool(matched[i]),
                            "best_iou": float(best[i]),
                        }
                    )
    return out


def _far(d: dict[str, object]) -> bool:
    """Unmatched and away from every labelled person: a false proposal or an unlabelled one."""
    return not d["matched"] and float(d["best_iou"]) < NEAR_IOU  # type: ignore[arg-type]


def band_of(score: float) -> int:
    return int(np.searchsorted(EDGES, score, side="right")) - 1


def contact_sheets(dets: list[dict[str, object]], folder: Path, per_band: int, seed: int) -> None:
    """One image per band: a random sample of its unmatched detections, numbered, with a
    margin of context around each box."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames: dict[tuple[str, int], np.ndarray] = {}
    for b in range(len(EDGES) - 1):
        pool = [d for d in dets if _far(d) and band_of(float(d["score"])) == b]  # type: ignore[arg-type]
        if not pool:
            continue
        pick = [pool[i] for i in sorted(rng.choice(len(pool), min(per_band, len(pool)), False))]
        tiles = []
        for k, d in enumerate(pick):
            key = (str(d["seq"]), int(d["frame"]))  # type: ignore[call-overload]
            if key not in frames:
                with open_media(SEQS / key[0]) as src:
                    frames[key] = src.read(key[1]).copy()
            img = frames[key]
            x1, y1, x2, y2 = (round(float(v)) for v in d["xyxy"])  # type: ignore[attr-defined]
            pad = 12
            h, w = img.shape[:2]
            crop = img[max(0, y1 - pad) : min(h, y2 + pad), max(0, x1 - pad) : min(w, x2 + pad)]
            crop = crop.copy()
            cv2.rectangle(
                crop,
                (x1 - max(0, x1 - pad), y1 - max(0, y1 - pad)),
                (x2 - max(0, x1 - pad), y2 - max(0, y1 - pad)),
                (0, 255, 0),
                1,
            )
            tile = np.full((170, 110, 3), 255, np.uint8)
            s = min(150 / max(crop.shape[0], 1), 110 / max(crop.shape[1], 1))
            crop = cv2.resize(
                crop, (max(1, int(crop.shape[1] * s)), max(1, int(crop.shape[0] * s)))
            )
            tile[20 : 20 + crop.shape[0], : crop.shape[1]] = crop
            cv2.putText(tile, f"{k} {float(d['score']):.2f}", (2, 14), 0, 0.45, (0, 0, 255), 1)  # type: ignore[arg-type]
            tiles.append(tile)
        while len(tiles) % 10:
            tiles.append(np.full_like(tiles[0], 255))
        rows = [np.hstack(tiles[i : i + 10]) for i in range(0, len(tiles), 10)]
        cv2.imwrite(str(folder / f"band_{EDGES[b]:.1f}.png"), np.vstack(rows))


def parse_unlabelled(items: list[str]) -> dict[int, tuple[int, int]]:
    out = {}
    for it in items:
        edge, frac = it.split("=")
        k, n = frac.split("/")
        out[band_of(float(edge) + 1e-6)] = (int(k), int(n))
    return out


def table(
    dets: list[dict[str, object]], unlabelled: dict[int, tuple[int, int]], want: float
) -> tuple[list[str], tuple[float, float]]:
    bands = np.array([band_of(float(d["score"])) for d in dets])  # type: ignore[arg-type]
    matched = np.array([bool(d["matched"]) for d in dets])
    far = np.array([_far(d) for d in dets])
    near = ~matched & ~far
    lines = [
        "| score band | detections | matched GT | near GT (left out) | far from GT "
        "| precision (lower bound) | far ones looked at: people | precision (estimate) "
        "| cumulative >= band (lower bound) | cumulative (estimate) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    stats = {}
    for b in range(len(EDGES) - 1):
        sel = bands == b
        tp, nf, nn = int(matched[sel].sum()), int(far[sel].sum()), int(near[sel].sum())
        k, m = unlabelled.get(b, (0, 0))
        stats[b] = (tp, nf, nn, tp + (k / m if m else 0.0) * nf)
    for b in range(len(EDGES) - 1):
        tp, nf, nn, right = stats[b]
        n = tp + nf
        ctp = sum(stats[c][0] for c in stats if c >= b)
        cn = sum(stats[c][0] + stats[c][1] for c in stats if c >= b)
        cright = sum(stats[c][3] for c in stats if c >= b)
        k, m = unlabelled.get(b, (0, 0))
        hi = min(EDGES[b + 1], 1.0)
        nan = float("nan")
        lines.append(
            f"| {EDGES[b]:.1f}-{hi:.1f} | {n + nn} | {tp} | {nn} | {nf} | "
            f"{tp / n if n else nan:.3f} | "
            + (f"{k}/{m}" if m else "-")
            + f" | {right / n if n else nan:.3f} | {ctp / cn if cn else nan:.3f} ({cn}) | "
            f"{cright / cn if cn else nan:.3f} |"
        )
    return lines, (_lowest(stats, want, estimate=False), _lowest(stats, want, estimate=True))


def _lowest(stats: dict[int, tuple[int, int, int, float]], want: float, *, estimate: bool) -> float:
    """The lowest band edge from which every band's precision reaches ``want``."""
    chosen = 1.0
    for b in reversed(range(len(EDGES) - 1)):
        tp, nf, _nn, right = stats[b]
        if tp + nf and (right if estimate else tp) / (tp + nf) < want:
            break
        chosen = EDGES[b]
    return chosen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--step", type=int, default=1, help="every N-th frame")
    ap.add_argument("--want", type=float, default=0.5, help="precision a proposal needs")
    ap.add_argument("--crops", type=Path, help="write contact sheets of unmatched detections")
    ap.add_argument("--per-band", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--unlabelled", nargs="*", default=[], metavar="BAND=K/N")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    t0 = time.perf_counter()
    dets = detections(args.step)
    if args.crops:
        contact_sheets(dets, args.crops, args.per_band, args.seed)
    lines, chosen = table(dets, parse_unlabelled(args.unlabelled), args.want)
    cmd = "python benchmarks/" + Path(__file__).name + " " + shlex.join(sys.argv[1:])
    text = "\n".join(
        [
            "# Proposal precision by detector score (shipped YOLOX-nano, class person)",
            "",
            f"Command: `{cmd.strip()}`",
            "",
            f"Sequences: {', '.join(SEQUENCES)} (every {args.step} frame(s)); a detection is "
            f"right when it matches a GT box at IoU >= {MATCH_IOU} (Hungarian). 'Near GT': "
            f"unmatched but IoU >= {NEAR_IOU} with a labelled person (that person's track "
            "explains it in the app: never a proposal), left out. 'Far from GT': a false "
            "proposal or an unlabelled person; the estimate counts as right the share of "
            "people seen on the contact sheet of that band's far detections (a seeded random "
            "sample, looked at by eye: a person recognisable as one counts, also when partly "
            "hidden behind a hedge, a railing or a sign; a sliver at the image edge or of a "
            "person's side, a sign, a tree or a shop window does not).",
            "",
            *lines,
            "",
            f"Lowest score from which every band's precision is >= {args.want}: "
            f"**{chosen[0]:.1f}** counting every far detection as wrong (the lower bound), "
            f"{chosen[1]:.1f} with the people seen on the contact sheets counted as right. "
            f"Wall time {time.perf_counter() - t0:.0f} s.",
            "",
        ]
    )
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
