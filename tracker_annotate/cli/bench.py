"""``tracker-annotate bench``: how much annotator time the accelerator saves.

The work lives in :mod:`tracker_annotate.bench`; this module parses arguments, shows a
progress bar and writes ``results.json``, ``report.md`` and the plots.
"""

from __future__ import annotations

import argparse
import os
import shlex
import time
from pathlib import Path
from typing import Any

from tracker_annotate.bench.costs import COST_SOURCES, CostModel, costs_from_report
from tracker_annotate.bench.report import build_results, write_json
from tracker_annotate.bench.review_strategies import AuditBenchConfig
from tracker_annotate.bench.runner import BenchConfig, run_all
from tracker_annotate.bench.sequences import find_sequences
from tracker_annotate.bench.strategies import STRATEGIES
from tracker_annotate.cli.options import (
    add_jobs_option,
    add_tracker_options,
    seconds,
    tracker_config_from_args,
)
from tracker_annotate.cli.progress import progress_bar
from tracker_annotate.tracking.api import TrackerConfig

DESCRIPTION = """\
Simulate an annotator labeling every SEQ (a MOTChallenge folder: img1/, gt/gt.txt,
seqinfo.ini; or a folder holding such folders) four ways: drawing every box (per_frame),
keyframes + linear interpolation (interpolation, as in CVAT), keyframes + our tracker
(tracker_oracle), and the product workflow: first box, end mark, review only the flagged
boxes (tracker_flagged). The real engine runs; it sees ground truth only through the
simulated annotator's boxes. Writes OUT/results.json, OUT/report.md and PNG plots."""

EPILOG = """\
example:
  tracker-annotate bench /work/shared/data/sequences/* sample_videos/synthetic \\
      --out bench-out --jobs 2"""


#: The cost model's fields as options (``--draw-s`` ...), with what each action is.
COST_OPTIONS = (
    ("draw_s", "draw a new box"),
    ("correct_s", "correct a proposed box"),
    ("verify_s", "verify a proposed box"),
    ("watch_s", "watch one box during playback"),
    ("end_mark_s", "mark a track's end"),
)


def _floats(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one number")
    return vals


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (every option spelled out)."""
    parts = ["tracker-annotate", "bench", *args.sequences, "--out", str(args.out)]
    for opt, _ in COST_OPTIONS:
        parts += ["--" + opt.replace("_", "-"), f"{getattr(args, opt):g}"]
    parts += ["--tau", ",".join(f"{v:g}" for v in args.tau)]
    parts += ["--flag-thresholds", ",".join(f"{v:g}" for v in args.flag_thresholds)]
    parts += ["--tracker", args.tracker, "--flag-threshold", f"{args.flag_threshold:g}"]
    parts += ["--strategies", args.strategies, "--jobs", str(args.jobs)]
    parts += ["--audit-target", f"{args.audit_target:g}", "--audit-seeds", str(args.audit_seeds)]
    parts += ["--audit-curve-targets", ",".join(f"{v:g}" for v in args.audit_curve_targets)]
    parts += ["--guided-max-steps", str(args.guided_max_steps)]
    return " ".join(shlex.quote(str(p)) for p in parts)


def resolve_costs(args: argparse.Namespace) -> dict[str, str]:
    """Fill each cost option left unset from ``--costs-from`` (what the record measured)
    or the default; returns each cost's source, printed in the report."""
    measured = costs_from_report(args.costs_from) if args.costs_from is not None else {}
    d = CostModel()
    sources = {}
    for name, _ in COST_OPTIONS:
        flag = "--" + name.replace("_", "-")
        if getattr(args, name) is not None:
            sources[name] = f"{flag} on the command line"
        elif name in measured:
            setattr(args, name, measured[name][0])
            sources[name] = measured[name][1]
        else:
            setattr(args, name, getattr(d, name))
            sources[name] = COST_SOURCES[name]
    return sources


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench",
        help="labeling-time benchmark with a simulated annotator",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sequences", nargs="+", metavar="SEQ", help="MOT sequence folders")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    costs = p.add_argument_group("cost model (seconds per action)")
    d = CostModel()
    for name, what in COST_OPTIONS:
        costs.add_argument(
            f"--{name.replace('_', '-')}",
            type=seconds,
            default=None,  # resolved in run(): the option, else --costs-from, else the default
            help=f"{what} (default {getattr(d, name)}; {COST_SOURCES[name]})",
        )
    costs.add_argument(
        "--costs-from",
        type=Path,
        metavar="REPORT_JSON",
        help="take the costs measured in real sessions from `tracker-annotate report --json` "
        "(the whole set's medians); an action the record has none of keeps its default, "
        "and a cost option given here wins",
    )
    p.add_argument(
        "--tau",
        type=_floats,
        default=(0.7, 0.5),
        help="IoU an annotator accepts, comma-separated; the first is the headline "
        "(default 0.7,0.5)",
    )
    p.add_argument(
        "--flag-thresholds",
        type=_floats,
        default=(0.3, 0.5, 0.7, 0.9),
        help="engine flag thresholds for the trade-off curve (default 0.3,0.5,0.7,0.9)",
    )
    add_tracker_options(p, extend=False, flag_help="headline flag threshold (default %(default)s)")
    lost_after = TrackerConfig().fusion.lost_after
    p.add_argument(
        "--lost-after",
        type=int,
        default=lost_after,
        help="self-contained back-ends: frames unlike the keyframes before a track past its "
        f"last keyframe ends as lost (0 = only when it leaves; default {lost_after})",
    )
    p.add_argument(
        "--strategies",
        default=",".join(STRATEGIES),
        help=f"comma-separated subset of {','.join(STRATEGIES)}",
    )
    a = AuditBenchConfig()
    p.add_argument(
        "--audit-target",
        type=float,
        default=a.target,
        help=f"tracker_audited/guided: target residual (default {a.target:g})",
    )
    p.add_argument(
        "--audit-seeds",
        type=int,
        default=a.seeds,
        help=f"tracker_audited: seeded audits per round for coverage (default {a.seeds})",
    )
    p.add_argument(
        "--audit-curve-targets",
        type=_floats,
        default=a.curve_targets,
        help="tracker_audited: extra targets for the budget curve (default "
        + ",".join(f"{v:g}" for v in a.curve_targets)
        + ")",
    )
    p.add_argument(
        "--guided-max-steps",
        type=int,
        default=a.max_steps,
        help=f"tracker_guided: most suggestions followed per sequence (default {a.max_steps})",
    )
    # a plain int: BenchConfig names a bad count ("jobs must be >= 1") like its other checks
    add_jobs_option(
        p, type=int, help="worker processes (default: the usable cores, here %(default)s)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tracker = tracker_config_from_args(args)  # a bad option is named before any search
    paths = find_sequences(list(args.sequences))
    strategies = tuple(s.strip() for s in args.strategies.split(",") if s.strip())
    sources = resolve_costs(args)
    costs = CostModel(**{opt: getattr(args, opt) for opt, _ in COST_OPTIONS})
    cfg = BenchConfig(
        taus=args.tau,
        flag_thresholds=args.flag_thresholds,
        tracker=tracker,
        costs=costs,
        strategies=strategies,
        jobs=args.jobs,
        audit=AuditBenchConfig(
            target=args.audit_target,
            curve_targets=tuple(args.audit_curve_targets),
            seeds=args.audit_seeds,
            max_steps=args.guided_max_steps,
        ),
    )
    command = _command(args)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    with progress_bar(args.no_progress, "bench", unit="box-work", leave=True) as progress:
        rows = run_all(paths, cfg, progress)
    results = build_results(
        rows,
        cfg,
        command=command,
        wall_seconds=time.perf_counter() - t0,
        load_before=load_before,
        load_after=os.getloadavg(),
    )
    from tracker_annotate.bench.render import write_report

    results["cost_sources"] = sources
    write_json(results, args.out)
    report = write_report(results, args.out)
    summary = results["summary"]
    for s, r in summary.items():
        print(
            f"{s:16s} {r['seconds']:>10,.0f} s  {r['speedup_vs_per_frame'] or 0:6.1f}x  "
            f"manual {r['manual_boxes']:>5}  residual {100 * r['residual_error_rate']:.2f}%"
        )
    print(f"wrote {args.out / 'results.json'} and {report}")
    return 0
