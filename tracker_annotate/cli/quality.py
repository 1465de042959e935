"""``tracker-annotate status`` and ``tracker-annotate audit``: the quality loop, headless.

``status PROJ [--json]`` prints the flags left, the target, the residual error predicted
from the confidences and the audit's measured estimate with its 95% interval.

``audit PROJ [ACTION]`` runs the audit loop on a project (one made by ``track`` works);
``audit DIR_OR_PROJECTS... [ACTION]`` (a folder, several projects or ``--manifest``) runs
one audit over the whole set instead (:mod:`tracker_annotate.cli.audit`):

* ``plan [--target T | --budget-min M] [--apply]``: the flag threshold the target (or a
  review budget) picks, with what it costs; ``--apply`` flags those boxes;
* ``start [--seed S] [--samples N] [--force] [--csv FILE]``: draw an audit round (the
  seed is stored and printed; without one a random seed is drawn); ``--csv`` writes the
  samples for a reviewer;
* ``samples [--csv FILE]``: the current round, in walk order, with outcomes so far;
* ``record [TRACK:FRAME=ok|wrong ...] [--csv FILE]``: outcomes. In the CSV the
  ``outcome`` column is ``ok``, ``wrong`` or empty (not checked yet); a wrong row may
  give the corrected box in ``x1,y1,x2,y2`` (it becomes a keyframe), else the box is
  flagged for review. ``ok`` verifies the box. Each outcome is one undoable edit;
* ``next``: apply the loop rule (upper end above the target: flag more boxes);
* no action: ``start`` if the flags are reviewed and no round is open, else ``samples``.

``--target T`` (a fraction, 0.01 = 1%) sets the project's quality target first. Frames are
0-based, as in the app. Every change is saved in the project as it happens.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path
from typing import Any

from tracker_annotate.core import audit, quality
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.errors import ConfigError, FormatError
from tracker_annotate.core.project import Project
from tracker_annotate.core.quality_report import quality_report, status_text

CSV_COLUMNS = ("ord", "track_id", "frame", "stratum", "confidence", "x1", "y1", "x2", "y2")
ACTIONS = ("plan", "start", "samples", "record", "next")


def register(subparsers: Any) -> None:
    st = subparsers.add_parser(
        "status",
        help="flags left, predicted residual error and the audit's estimate of a project",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    st.add_argument("project", metavar="PROJ", help=".taproj file")
    st.add_argument("--json", action="store_true", help="print one JSON object")
    st.set_defaults(func=run_status)

    au = subparsers.add_parser(
        "audit",
        help="the quality loop headless: pick a threshold, draw audit samples, record outcomes",
        usage="%(prog)s PROJ | DIR_OR_PROJECTS... [plan|start|samples|record|next] "
        "[OUTCOME ...] [options]",
        description="\n\n".join(__doc__.split("\n\n")[2:]) if __doc__ else None,
        epilog=_dataset_doc(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    au.add_argument(
        "words",
        nargs="+",
        metavar="WORD",
        help="one .taproj file (a project audit), or folders and several projects (one "
        "dataset audit, see 'tracker_annotate.cli.audit'); then the action and its outcomes",
    )
    au.add_argument("--manifest", metavar="FILE", help="dataset audit: the manifest file")
    au.add_argument("--target", type=float, metavar="T", help="quality target (0.01 = 1%%)")
    au.add_argument("--budget-min", type=float, metavar="M", help="plan: review budget, minutes")
    au.add_argument("--apply", action="store_true", help="plan: flag the boxes it picks")
    au.add_argument("--seed", type=int, help="start: the draw's seed (default: random)")
    au.add_argument("--samples", type=int, metavar="N", help="start: how many (default: enough)")
    au.add_argument("--force", action="store_true", help="start: even with flags unreviewed")
    au.add_argument("--csv", metavar="FILE", help="start/samples: write; record: read outcomes")
    au.add_argument("--json", action="store_true", help="print the result as JSON")
    au.set_defaults(func=run_audit)


def _dataset_doc() -> str | None:
    from tracker_annotate.cli import audit as dataset_cli

    doc = dataset_cli.__doc__
    return "Dataset audit: " + doc.split("\n", 1)[1].strip() if doc else None


def run_status(args: argparse.Namespace) -> int:
    from tracker_annotate.io.store import ProjectStore

    with ProjectStore.open(args.project, check_media=False) as store:
        if args.json:
            print(json.dumps(quality_report(store.project), indent=2, sort_keys=True))
        else:
            print(f"{args.project}:")
            print(status_text(store.project))
    return 0


def _write_csv(project: Project, path: str) -> int:
    rnd = audit.current_round(project)
    if rnd is None:
        raise ConfigError("no audit round to write; run 'audit PROJ start' first")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*CSV_COLUMNS, "outcome"])
        for i, s in enumerate(rnd.samples):
            b = project.box(s.track_id, s.frame)
            geo = [f"{v:.2f}" for v in b.xyxy.as_tuple()] if b is not None else [""] * 4
            conf = f"{b.confidence:.4f}" if b is not None else ""
            name = rnd.strata[s.stratum].name
            w.writerow([i, s.track_id, s.frame, name, conf, *geo, s.outcome or ""])
    return len(rnd.samples)


def _parse_item(text: str) -> tuple[int, int, quality.Outcome]:
    where, sep, verdict = text.partition("=")
    tid, sep2, frame = where.partition(":")
    try:
        if not sep or not sep2 or verdict not in quality.OUTCOMES:
            raise ValueError
        return int(tid), int(frame), verdict
    except ValueError:
        raise ConfigError(
            f"outcome {text!r}: expected TRACK:FRAME=ok or TRACK:FRAME=wrong (0-based frame)"
        ) from None


def _read_csv(path: str) -> list[tuple[int, int, quality.Outcome, BoxXYXY | None]]:
    out = []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise FormatError(f"cannot read {exc}", path=path) from exc
    for line, row in enumerate(rows, start=2):
        verdict = (row.get("outcome") or "").strip().lower()
        if not verdict:
            continue
        try:
            if verdict not in quality.OUTCOMES:
                raise ValueError(f"outcome {verdict!r} is not ok, wrong or empty")
            tid, frame = int(row["track_id"]), int(row["frame"])
            corr = None
            if verdict == "wrong" and all(
                (row.get(k) or "").strip() for k in ["x1", "y1", "x2", "y2"]
            ):
                given = BoxXYXY(*(float(row[k]) for k in ("x1", "y1", "x2", "y2")))
                corr = given
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"line {line}: {exc}", path=path, line=line) from exc
        out.append((tid, frame, verdict, corr))
    return out


def _record(project: Project, args: argparse.Namespace) -> dict[str, Any]:
    rows: list[tuple[int, int, quality.Outcome, BoxXYXY | None]] = [
        (*_parse_item(t), None) for t in args.items
    ]
    if args.csv:
        rows += _read_csv(args.csv)
    if not rows:
        raise ConfigError("record: give TRACK:FRAME=ok|wrong items or --csv FILE")
    rnd = audit.current_round(project)
    done = 0
    for tid, frame, verdict, corr in rows:
        current = rnd.sample_at(tid, frame) if rnd is not None else None
        if current is not None and current.outcome is not None:
            if current.outcome != verdict:
                print(
                    f"note: track {tid} frame {frame} was already {current.outcome}; "
                    f"keeping it (undo in the app to change it)",
                    file=sys.stderr,
                )
            continue
        before = project.box(tid, frame)
        fix = corr
        if fix is not None and before is not None and _same(before.xyxy, fix):
            fix = None  # the CSV's own (rounded) geometry: not a correction
        audit.check_sample(project, tid, frame, verdict, fix)
        done += 1
    return {"recorded": done}


def _same(a: BoxXYXY, b: BoxXYXY) -> bool:
    return all(abs(x - y) < 0.01 for x, y in zip(a.as_tuple(), b.as_tuple(), strict=True))


def split_words(words: list[str]) -> tuple[list[str], str | None, list[str]]:
    """``PATHS... [ACTION] [ITEMS...]``: the paths before the first action word."""
    i = next((k for k, w in enumerate(words) if w in ACTIONS), len(words))
    if i == 0:
        raise ConfigError(f"give a project file or a folder before the action {words[0]!r}")
    return words[:i], (words[i] if i < len(words) else None), words[i + 1 :]


def run_audit(args: argparse.Namespace) -> int:
    from tracker_annotate.io.store import ProjectStore

    paths, args.action, args.items = split_words(args.words)
    if len(paths) > 1 or Path(paths[0]).is_dir() or args.manifest:
        from tracker_annotate.cli.audit import run_dataset_audit

        return run_dataset_audit(args, paths)
    args.project = paths[0]
    if args.action != "record" and args.items:
        raise ConfigError(f"unexpected arguments {args.items}: only 'record' takes outcomes")
    with ProjectStore.open(args.project, check_media=False) as store:
        p = store.project
        if args.target is not None:
            audit.set_target(p, args.target)
        action = args.action or _default_action(p)
        result: dict[str, Any] = {"action": action}
        if action == "plan":
            budget = args.budget_min * 60 if args.budget_min is not None else None
            pick = (
                audit.choose_threshold(p, budget_s=budget)
                if budget is not None
                else audit.choose_threshold(p, target=p.quality.target)
            )
            result["plan"] = {
                "threshold": pick.threshold,
                "flag": pick.flagged,
                "stretches": pick.stretches,
                "predicted_residual": pick.residual,
                "review_s": pick.review_s,
            }
            msg = f"threshold {pick.threshold:.3f}: {pick.summary()}, ~{pick.review_s / 60:.1f} min"
            if args.apply:
                n = audit.apply_threshold(p, pick.threshold)
                result["flagged_now"] = n
                msg += f"; flagged {n} more boxes"
            else:
                msg += " (--apply flags them)"
            result["message"] = msg
        elif action == "start":
            seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
            drawn = audit.start_audit(p, seed=seed, n=args.samples, force=args.force)
            result["message"] = (
                f"audit round {len(p.quality.rounds)}: {len(drawn.samples)} samples "
                f"(seed {seed}; strata "
                + ", ".join(f"{s.name} {s.population}" for s in drawn.strata)
                + ")"
            )
        elif action == "record":
            result.update(_record(p, args))
            result["message"] = f"recorded {result['recorded']} outcomes"
        elif action == "next":
            step = audit.loop_step(p)
            result["message"] = step.message
            if step.action == "flag_more" and step.threshold is not None:
                n = audit.apply_threshold(p, step.threshold)
                result["flagged_now"] = n
                result["message"] += f"; flagged {n} more boxes: review them, then audit again"
        else:  # samples
            result["message"] = "current audit round"
        rnd = audit.current_round(p)
        if args.csv and action in ("start", "samples"):
            n = _write_csv(p, args.csv)
            result["csv"] = str(Path(args.csv))
            result["message"] += f"; {n} samples written to {args.csv}"
        if rnd is not None:
            result["samples"] = [
                {
                    "track_id": s.track_id,
                    "frame": s.frame,
                    "stratum": rnd.strata[s.stratum].name,
                    "outcome": s.outcome,
                }
                for s in rnd.samples
            ]
        result["status"] = quality_report(p)
        store.flush()
        if args.json:
            print(json.dumps(result, indent=2, sort_keys=True))
            return 0
        print(result["message"])
        if action in ("start", "samples") and rnd is not None and not args.csv:
            for i, s in enumerate(rnd.samples):
                print(
                    f"  {i:4d}  track {s.track_id:4d}  frame {s.frame:6d}  "
                    f"{rnd.strata[s.stratum].name:<12} {s.outcome or '-'}"
                )
        print(status_text(p))
    return 0


def _default_action(p: Project) -> str:
    rnd = audit.current_round(p)
    if rnd is not None and audit.pending_samples(p):
        return "samples"
    flagged = quality_report(p)["unreviewed_flags"]
    if flagged:
        return "plan"
    if rnd is None or audit.loop_step(p).action == "done":
        return "start" if rnd is None else "samples"
    return "next"
