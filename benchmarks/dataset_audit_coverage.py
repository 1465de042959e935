"""The dataset audit on simulated datasets whose wrong boxes are known.

For each scenario (videos of different lengths; a box is wrong with probability ``1 - c``
plus a per-video excess where the confidence is over-sure) it runs SEEDS seeded audits
(:mod:`tracker_annotate.core.dataset_audit`: plan, draw, every look judged by the truth)
and reports

* coverage: how often the final look's 95% interval holds the true residual;
* acceptance: how often the sequential test accepts, and at which look (the guarantee:
  at most 5% when the truth is above the target);
* samples checked until the decision, against the plan and against per-video audits (each
  video audited alone to the same target with the same plan rule).

Usage: ``python benchmarks/dataset_audit_coverage.py [--seeds 400] [--out FILE.md]``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tracker_annotate.core import audit
from tracker_annotate.core import dataset_audit as da
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.core.quality import AuditRound

XY = BoxXYXY(0, 0, 10, 10)


@dataclass(frozen=True)
class Scenario:
    name: str
    sizes: tuple[int, ...]
    beta: float  # 1 - c ~ Beta(0.5, beta): mean predicted error 0.5 / (0.5 + beta)
    extra: tuple[float, ...]  # per-video excess error (cycled)
    target: float
    seed: int = 1


SCENARIOS = (
    Scenario(
        "over-sure in 2 of 6 videos",
        (150, 900, 400, 1400, 250, 700),
        80.0,
        (0, 0.03, 0, 0.02),
        0.02,
    ),
    Scenario(
        "worse than target (about 1.2% vs 1%)", (1200, 800, 1500, 600), 150.0, (0.010,), 0.01, 2
    ),
    Scenario(
        "just within target (about 0.9% vs 1%)", (1200, 800, 1500, 600), 150.0, (0.004,), 0.01, 5
    ),
    Scenario(
        "good, pessimistic confidences (0 wrong)", (3000, 5000, 4000), 130.0, (-1.0,), 0.01, 3
    ),
    Scenario(
        "18 short clips (200-600 boxes)", tuple(range(200, 650, 25)), 200.0, (0.0, 0.004), 0.01, 7
    ),
)


def build(sc: Scenario) -> tuple[list[Project], list[set[tuple[int, int]]]]:
    rng = np.random.default_rng(sc.seed)
    projects, truth = [], []
    for i, n in enumerate(sc.sizes):
        p = Project(MediaRef(f"v{i}.mp4", n + 1, 100, 100))
        conf = 1.0 - rng.beta(0.5, sc.beta, n)
        wrong: set[tuple[int, int]] = set()
        with p.edit("seed") as tx:
            tx.set_track(TrackInfo(1))
            tx.set_box(1, FrameBox(0, XY))
            for f in range(1, n + 1):
                c = float(conf[f - 1])
                tx.set_box(1, FrameBox(f, XY, BoxSource.TRACKED, c))
                if rng.random() < min(1.0, 1.0 - c + sc.extra[i % len(sc.extra)]):
                    wrong.add((1, f))
        p.history.clear()
        projects.append(p)
        truth.append(wrong)
    return projects, truth


def judge(rounds: list[AuditRound], truth: list[set[tuple[int, int]]]) -> list[AuditRound]:
    return [
        replace(
            r,
            samples=tuple(
                replace(s, outcome="wrong" if (s.track_id, s.frame) in t else "ok")
                for s in r.samples
            ),
        )
        for r, t in zip(rounds, truth, strict=True)
    ]


def run(sc: Scenario, seeds: int) -> dict[str, Any]:
    projects, truth = build(sc)
    visible = sum(audit.n_visible(p) for p in projects)
    true_res = sum(len(t) for t in truth) / visible
    plan = da.plan_round(projects, sc.target)
    per_video = sum(da.plan_round([p], sc.target).samples for p in projects)
    hits = 0
    decisions: Counter[tuple[str, int]] = Counter()
    checked = []
    widths = []
    for seed in range(seeds):
        rounds = judge(da.draw_round(projects, plan, seed), truth)
        est = da.estimate_look(rounds, da.LOOKS, visible=visible)
        assert est is not None
        lo, hi = est.residual_interval
        hits += lo <= true_res <= hi
        widths.append(hi - lo)
        dec = da.decide(rounds, sc.target, visible=visible)
        decisions[(dec.action, dec.look)] += 1
        stages = [st for r in rounds for st in da.sample_stages(r, da.LOOKS)]
        checked.append(sum(st <= dec.look for st in stages))
    accepted = sum(v for (a, _), v in decisions.items() if a == "accept")
    return {
        "scenario": sc.name,
        "videos": len(sc.sizes),
        "unseen": plan.unseen,
        "true_residual": true_res,
        "target": sc.target,
        "planned": plan.samples,
        "per_video_audits": per_video,
        "coverage": hits / seeds,
        "mean_width": float(np.mean(widths)),
        "accepted": accepted / seeds,
        "decisions": dict(sorted(decisions.items())),
        "mean_checked": float(np.mean(checked)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=400)
    ap.add_argument("--out", type=Path, default=None, help="write a Markdown report here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = [run(sc, args.seeds) for sc in SCENARIOS]
    given = sys.argv[1:] if argv is None else argv
    lines = [
        "# Dataset audit: coverage, acceptance and samples on simulated datasets",
        "",
        f"Command: `python {shlex.join(['benchmarks/dataset_audit_coverage.py', *given])}` "
        f"({args.seeds} seeded audits per scenario, {time.perf_counter() - t0:.0f} s).",
        "",
        f"Acceptance test: {da.guarantee_text(da.AcceptancePlan())}. Coverage is of the "
        "two-sided 95% interval at the last look (every sample checked).",
        "",
        "| scenario | videos | unseen | true residual | target | planned | per-video audits "
        "| coverage | mean width | accepted | checked until decision | decisions (action, look) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        dec = ", ".join(f"{a} {k}: {v}" for (a, k), v in r["decisions"].items())
        lines.append(
            f"| {r['scenario']} | {r['videos']} | {r['unseen']} | {100 * r['true_residual']:.2f}% "
            f"| {100 * r['target']:g}% | {r['planned']} | {r['per_video_audits']} "
            f"| {100 * r['coverage']:.1f}% | {100 * r['mean_width']:.2f} pts "
            f"| {100 * r['accepted']:.1f}% | {r['mean_checked']:.0f} | {dec} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
