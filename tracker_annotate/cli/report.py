"""``tracker-annotate report``: what the annotators' recorded work cost and bought.

The figures are made by :mod:`tracker_annotate.app.report`; this module parses the
arguments and prints text (default), JSON (``--json``) or writes HTML with plots
(``--html OUT``, which needs the ``[bench]`` extra for matplotlib).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tracker_annotate.app.report import (
    BOX_CATEGORIES,
    DEFAULT_KEYFRAME_SPACING,
    SPACING_SOURCE,
    build_report,
    find_projects,
    read_project,
    spacing_from_bench,
)
from tracker_annotate.cli.options import at_least
from tracker_annotate.core.errors import ProjectError

DESCRIPTION = """\
Per project, per annotator and for the whole set: time worked, the result's boxes by
source, seconds per finished box, flags reviewed and left, the audit's estimate, and
estimated time saved against drawing every box and CVAT-style interpolation, priced with
the annotators' own measured times from the work record the app keeps. PROJ is a project
file or a folder searched for them. The JSON's measured costs feed `bench --costs-from`."""

BOX_NAMES = {
    "drawn": "drawn",
    "corrected": "corrected",
    "tracked_accepted": "tracked, accepted",
    "tracked_unseen": "tracked, unseen",
    "proposed_accepted": "proposed, accepted",
    "imported": "imported",
    "flags_left": "flags left",
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="time worked, boxes by source and estimated time saved, from the work record",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PROJ|DIR", help="project files or folders")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--html", type=Path, metavar="OUT", help="write an HTML report with plots")
    p.add_argument(
        "--keyframe-spacing",
        type=at_least(float, 1.0, "--keyframe-spacing", " boxes"),
        help=f"boxes per interpolation keyframe (default {DEFAULT_KEYFRAME_SPACING:.2f}: "
        f"{SPACING_SOURCE})",
    )
    p.add_argument(
        "--bench-results",
        type=Path,
        metavar="RESULTS_JSON",
        help="take the keyframe spacing from a `bench` results.json on this kind of motion",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spacing, source = DEFAULT_KEYFRAME_SPACING, SPACING_SOURCE
    if args.bench_results is not None:
        spacing = spacing_from_bench(args.bench_results)
        source = f"the interpolation of {args.bench_results}"
    if args.keyframe_spacing is not None:
        spacing, source = args.keyframe_spacing, "--keyframe-spacing"
    projects = []
    failed: list[ProjectError] = []
    for path in find_projects(args.paths):
        try:
            projects.append(read_project(path, spacing))
        except ProjectError as exc:  # one open or damaged project does not stop the rest
            failed.append(exc)
            print(f"tracker-annotate report: skipped: {exc}", file=sys.stderr)
    if not projects:
        raise failed[0]
    report = build_report(projects, spacing, source)
    report["skipped"] = [str(e) for e in failed]
    if args.html is not None:
        from tracker_annotate.app.report_html import write_html

        write_html(report, projects, args.html)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        print(render_text(report))
        if args.html is not None:
            print(f"wrote {args.html}")
    return 0


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _per_box(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def _block(title: str, r: dict[str, Any]) -> list[str]:
    out = [title]
    out.append(
        f"  time worked        {_hms(r['time_worked_s'])}  (idle {_hms(r['work']['idle_s'])})"
    )
    boxes = r["boxes"]
    out.append("  boxes  " + "  ".join(f"{BOX_NAMES[k]} {boxes[k]}" for k in BOX_CATEGORIES))
    out.append(
        f"  finished boxes     {r['finished_boxes']}  "
        f"({_per_box(r['seconds_per_finished_box'])} per box)"
    )
    out.append(f"  flags              reviewed {r['flags']['reviewed']}, left {r['flags']['left']}")
    a = r.get("audit")
    if a:
        lo, hi = a["residual_interval"]
        out.append(
            f"  audit              {100 * a['residual']:.2f}% wrong and unseen "
            f"({100 * lo:.2f}-{100 * hi:.2f}%, {100 * a['level']:g}%; "
            f"{a['checked']} of {a['drawn']} checked)"
        )
    e = r["estimate"]
    out.append(
        f"  estimate           per_frame {_hms(e['per_frame_s'])}, interpolation "
        f"{_hms(e['interpolation_s'])} ({e['keyframes']} keyframes), real {_hms(e['real_s'])}"
    )
    c = r["work"]["costs"]
    out.append(
        "  measured costs     "
        + ", ".join(f"{k} {v['value']:.2f}{'' if v['n'] else ' (default)'}" for k, v in c.items())
    )
    return out


def render_text(report: dict[str, Any]) -> str:
    """The report as plain text (no plotting library needed)."""
    lines: list[str] = []
    for r in report["projects"]:
        lines += _block(f"project {r['path']}", r)
        lines.append("")
    for name, a in report["annotators"].items():
        c = a["costs"]
        lines.append(
            f"annotator {name}: worked {_hms(a['time_worked_s'])} in {a['sessions']} sessions, "
            f"{a['boxes_handled']} boxes handled "
            f"({_per_box(a['seconds_per_handled_box'])} per box), flags reviewed "
            f"{a['flags_reviewed']}; median draw {c['draw_s']['value']:.2f} s, "
            f"verify {c['verify_s']['value']:.2f} s"
        )
    lines.append("")
    lines += _block(
        f"all {report['total']['projects']} projects", {**report["total"], "audit": None}
    )
    lines.append("")
    lines.append(report["estimate_note"])
    return "\n".join(lines)
