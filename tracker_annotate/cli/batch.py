"""``tracker-annotate batch``: pre-track many videos in parallel, survive bad inputs.

The work itself lives in :mod:`tracker_annotate.app.batch`; this module parses
arguments, shows progress and prints the summary table.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tracker_annotate.app.batch import (
    KEYFRAME_SUFFIXES,
    OUTPUT_FORMATS,
    SUMMARY_NAME,
    BatchJob,
    BatchOutcome,
    ExistingPolicy,
    JobResult,
    expand_inputs,
    plan_jobs,
    run_dask,
    run_local,
    write_summary,
)
from tracker_annotate.cli.interrupt import cancel_on_sigint
from tracker_annotate.cli.options import (
    add_detections_sources,
    add_jobs_option,
    add_tracker_options,
    tracker_config_from_args,
)
from tracker_annotate.tracking.api import CancelToken, TrackerConfig

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

DESCRIPTION = """\
Track every INPUT from its keyframes and write one output per input to --out-dir,
named after the input (clip.mp4 -> OUT/clip.taproj). Inputs run in parallel worker
processes (or on a Dask cluster with --scheduler); a bad input fails alone, with a
one-line error, and the exit code is 1. A table and OUT/batch_summary.json say what
happened to each input.

INPUT is a video, a folder of images, a MOTChallenge sequence folder (img1/ inside),
or a folder holding any of those (expanded one level deep, sorted)."""

EPILOG = """\
keyframes (every input needs them; all are looked up before anything runs):
  default          the sidecar beside the input: clip.mp4 -> clip.keyframes.txt
                   (MOT rows; or .xml CVAT video, .json COCO-VID, .taproj project)
  --init-dir DIR   DIR/clip.txt, DIR/clip.xml, DIR/clip.json or DIR/clip.taproj
  --init-pattern P a path with {stem} (input name), {path} (the input) and
                   {parent} (its folder); relative paths are taken from the input's
                   folder. Without one of those suffixes, each is tried.
detections (optional, MOT det.txt rows or COCO results .json) are matched to the
tracks; confident unmatched ones become proposed tracks (counted in the summary).

examples:
  tracker-annotate batch videos/*.mp4 --init-dir keyframes/ --out-dir tracked/ -j 4
  tracker-annotate batch videos/ --init-pattern '{stem}.kf.xml' --format xml
  tracker-annotate batch MOT17/train/ --init-pattern '{path}/gt/keyframes.txt' \\
      --detections-pattern '{path}/det/det.txt' --format txt --out-dir tracked/
  tracker-annotate batch videos/ --init-dir kf/ --scheduler tcp://10.0.0.5:8786

exit codes: 0 all inputs tracked, 1 some input failed, 2 bad arguments or plan
(nothing was run), 130 interrupted (finished outputs are kept)."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "batch",
        help="pre-track many videos in parallel processes or on a Dask cluster",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="videos, image folders, ...")
    add_jobs_option(
        p,
        help="worker processes (default: the CPUs available, %(default)s); each uses one "
        "OpenCV thread. Ignored with --scheduler (the cluster has its own workers)",
    )
    kf = p.add_mutually_exclusive_group()
    kf.add_argument("--init-dir", metavar="DIR", help="keyframes as DIR/<name>.<suffix>")
    kf.add_argument("--init-pattern", metavar="PATTERN", help="keyframes path pattern")
    add_detections_sources(p)
    p.add_argument("-o", "--out-dir", default="tracked", metavar="DIR", help="default: %(default)s")
    p.add_argument(
        "-f",
        "--format",
        choices=OUTPUT_FORMATS,
        default="taproj",
        help="output: taproj (a project to review in the GUI, keeps flags), txt (MOT), "
        "xml (CVAT video), json (default: %(default)s)",
    )
    add_tracker_options(p)
    ex = p.add_mutually_exclusive_group()
    ex.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip inputs whose output exists (resume an interrupted batch)",
    )
    ex.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask distributed scheduler (e.g. tcp://host:8786); "
        "paths must be visible to its workers. Needs tracker_annotate[dask]",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (input, keyframes, output), run nothing",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no table; errors only"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = tracker_config_from_args(args)
    inputs = expand_inputs(args.inputs)
    existing: ExistingPolicy = (
        "skip" if args.skip_existing else "overwrite" if args.overwrite else "error"
    )
    jobs, skipped = plan_jobs(
        inputs,
        out_dir=args.out_dir,
        fmt=args.format,
        init_dir=args.init_dir,
        init_pattern=args.init_pattern,
        detections_dir=args.detections_dir,
        detections_pattern=args.detections_pattern,
        existing=existing,
    )
    if args.dry_run:
        _print_plan(jobs, skipped)
        return 0
    out_dir = Path(args.out_dir)
    # Ctrl+C from here on cancels the run (finished outputs kept, the summary written);
    # the handler before it is back when the command returns.
    with cancel_on_sigint(CancelToken()) as cancel:
        out_dir.mkdir(parents=True, exist_ok=True)
        outcome = _run_with_progress(jobs, config, args, cancel)
        summary = write_summary(outcome, out_dir / SUMMARY_NAME, config=config, skipped=skipped)
    if not args.quiet:
        _print_table(outcome.results, skipped)
        print(_totals_line(outcome, len(skipped), summary))
    if outcome.cancelled:
        print("tracker-annotate batch: interrupted; finished outputs kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if outcome.n_failed else 0


def _run_with_progress(
    jobs: list[BatchJob], config: TrackerConfig, args: argparse.Namespace, cancel: CancelToken
) -> BatchOutcome:
    from tqdm import tqdm

    with tqdm(
        total=len(jobs),
        file=sys.stderr,
        disable=args.quiet,
        dynamic_ncols=True,
        # Fractional: an input half tracked counts 0.5, so long videos show movement.
        bar_format="{l_bar}{bar}| {n:.1f}/{total} inputs [{elapsed}<{remaining}]{postfix}",
    ) as bar:
        finished = failed = 0

        def show(inputs_done: float) -> None:
            bar.n = max(inputs_done, finished)
            bar.refresh()

        def on_result(result: JobResult) -> None:
            nonlocal finished, failed
            finished += 1
            if result.status == "failed":
                failed += 1
                bar.set_postfix(failed=failed, refresh=False)
                # tqdm.write keeps the bar intact; errors show even with --quiet.
                tqdm.write(f"FAILED {_failure_line(result)}", file=sys.stderr)
            show(finished)

        if args.scheduler:
            return run_dask(
                jobs, config, scheduler=args.scheduler, on_result=on_result, cancel=cancel
            )
        return run_local(
            jobs, config, workers=args.jobs, on_result=on_result, on_progress=show, cancel=cancel
        )


def _failure_line(result: JobResult) -> str:
    """``<input>: <error>``, without naming the input twice (most errors name the file)."""
    error = result.error or "failed"
    return error if result.job.media_path in error else f"{result.job.media_path}: {error}"


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _rel(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def _print_table(results: list[JobResult], skipped: list[BatchJob]) -> None:
    header = ("input", "status", "frames", "objects", "flagged", "seconds", "output")
    rows: list[tuple[str, ...]] = [
        (
            r.job.name,
            r.status,
            _cell(r.frames),
            _cell(r.objects),
            _cell(r.flagged),
            _cell(r.seconds) if r.status != "cancelled" else "-",
            _rel(r.job.out_path) if r.status == "ok" else _short(r.error or "-"),
        )
        for r in results
    ]
    rows += [(j.name, "skipped", "-", "-", "-", "-", _rel(j.out_path)) for j in skipped]
    print(_table(header, rows))


def _totals_line(outcome: BatchOutcome, n_skipped: int, summary: Path) -> str:
    ok = [r for r in outcome.results if r.status == "ok"]
    frames = sum(r.frames or 0 for r in ok)
    parts = [f"{len(ok)} ok", f"{outcome.n_failed} failed"]
    n_cancelled = sum(r.status == "cancelled" for r in outcome.results)
    if n_cancelled:
        parts.append(f"{n_cancelled} cancelled")
    if n_skipped:
        parts.append(f"{n_skipped} skipped")
    rate = f" ({frames / outcome.seconds:.1f} frames/s)" if outcome.seconds > 0 and frames else ""
    return (
        f"{', '.join(parts)}; {frames} frames in {outcome.seconds:.1f} s{rate}; "
        f"summary: {_rel(str(summary))}"
    )


def _print_plan(jobs: list[BatchJob], skipped: list[BatchJob]) -> None:
    header = ("input", "keyframes", "detections", "output")
    rows: list[tuple[str, ...]] = [
        (
            _rel(j.media_path),
            _rel(j.init_path) if j.init_path else "-",
            _rel(j.detections_path) if j.detections_path else "-",
            _rel(j.out_path),
        )
        for j in jobs
    ]
    rows += [
        (_rel(j.media_path), "(skipped: output exists)", "-", _rel(j.out_path)) for j in skipped
    ]
    print(_table(header, rows))
    print(
        f"{len(jobs)} to run, {len(skipped)} skipped; keyframe suffixes tried: "
        f"{', '.join(KEYFRAME_SUFFIXES)}"
    )
