"""``tracker-annotate audit DIR_OR_PROJECTS... ACTION``: one audit over many projects.

Given folders (searched for ``.taproj`` files) or several project files, the audit treats
their unseen boxes as one population, stratified by video and by confidence band, and
gives one estimate with its 95% interval for the whole set
(:mod:`tracker_annotate.core.dataset_audit`). Its state lives in ``dataset_audit.json`` in
the folder given (or the projects' common folder, or ``--manifest FILE``); each project
keeps its own share of the samples, which the app walks with F.

* ``plan [--target T] [--apply]``: the samples a round needs; ``--apply`` first flags, in
  each project, the boxes its confidences pick for the target;
* ``start [--seed S] [--samples N] [--force] [--csv FILE]``: draw a round;
* ``samples [--csv FILE]``: the samples, project by project, with their look and outcome;
* ``record [PROJECT:TRACK:FRAME=ok|wrong ...] [--csv FILE]``: outcomes (the CSV of
  ``samples`` with its ``outcome`` column filled; a wrong row may carry the corrected
  ``x1,y1,x2,y2``);
* ``next``: the sequential acceptance test: accept (target met, with at most 5% risk of
  accepting a worse dataset), reject (flag more in every project; review, start again) or
  check the samples of the next look.

Every step writes the dataset figures into each project (``status --json``, exports).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from typing import Any

from tracker_annotate.core import dataset_audit as da
from tracker_annotate.core import quality
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.errors import ConfigError, FormatError

COLUMNS = (
    "project",
    "ord",
    "track_id",
    "frame",
    "stratum",
    "look",
    "confidence",
    "x1",
    "y1",
    "x2",
    "y2",
    "outcome",
)

Row = tuple[str, int, int, quality.Outcome, BoxXYXY | None]


def _parse_item(text: str) -> Row:
    where, sep, verdict = text.rpartition("=")
    rest, _, frame = where.rpartition(":")
    name, _, tid = rest.rpartition(":")
    try:
        if not sep or not name or verdict not in quality.OUTCOMES:
            raise ValueError
        return name, int(tid), int(frame), verdict, None
    except ValueError:
        raise ConfigError(
            f"outcome {text!r}: expected PROJECT:TRACK:FRAME=ok or =wrong (the project as "
            f"'samples' lists it, a 0-based frame)"
        ) from None


def _read_csv(path: str) -> list[Row]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise FormatError(f"cannot read {exc}", path=path) from exc
    out: list[Row] = []
    for line, row in enumerate(rows, start=2):
        verdict = (row.get("outcome") or "").strip().lower()
        if not verdict:
            continue
        try:
            if verdict not in quality.OUTCOMES:
                raise ValueError(f"outcome {verdict!r} is not ok, wrong or empty")
            geo = [(row.get(k) or "").strip() for k in ("x1", "y1", "x2", "y2")]
            corr = BoxXYXY(*(float(v) for v in geo)) if verdict == "wrong" and all(geo) else None
            out.append((row["project"], int(row["track_id"]), int(row["frame"]), verdict, corr))
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"line {line}: {exc}", path=path, line=line) from exc
    return out


def _write_csv(rows: list[dict[str, Any]], path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in rows:
            geo = [f"{v:.2f}" for v in r["xyxy"]] if r["xyxy"] else [""] * 4
            conf = f"{r['confidence']:.4f}" if r["confidence"] is not None else ""
            head = [r["project"], r["ord"], r["track_id"], r["frame"], r["stratum"], r["look"]]
            w.writerow([*head, conf, *geo, r["outcome"] or ""])


def run_dataset_audit(args: argparse.Namespace, paths: list[str]) -> int:
    from tracker_annotate.app.dataset_audit import DatasetAudit

    if args.action != "record" and args.items:
        raise ConfigError(f"unexpected arguments {args.items}: only 'record' takes outcomes")
    if args.budget_min is not None:
        raise ConfigError("--budget-min applies to a project audit, not a dataset audit")
    with DatasetAudit(paths, manifest=args.manifest) as ds:
        m = ds.manifest
        target = (
            args.target if args.target is not None else (m.target if m else quality.DEFAULT_TARGET)
        )
        if not 0.0 < target < 1.0:
            raise ConfigError(f"--target must be in (0, 1), got {target}")
        action = args.action or ("start" if m is None or not m.rounds else "next")
        result: dict[str, Any] = {"action": action, "manifest": str(ds.manifest_path)}
        if action == "plan":
            msg = ""
            if args.apply:
                n = ds.apply_target(target)
                result["flagged_now"] = n
                msg = f"flagged {n} more boxes for the {100 * target:g}% target; "
            plan = ds.plan(target, args.samples)
            result["plan"] = {
                "samples": plan.samples,
                "per_project": {n: sum(a) for n, a in zip(ds.found, plan.allocation, strict=True)},
                "band_edges": list(plan.edges),
                "unseen_boxes": plan.unseen,
                "visible_boxes": plan.visible,
                "predicted_residual": plan.predicted_residual,
                "target": target,
                "feasible": plan.feasible,
            }
            result["message"] = msg + plan.summary()
        elif action == "start":
            seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
            plan = ds.start(target, seed, n=args.samples, force=args.force)
            result["seed"] = seed
            result["message"] = (
                f"dataset audit round {len(ds.manifest.rounds) if ds.manifest else 1}: "
                f"{plan.samples} samples over "
                f"{len(ds.found)} projects (seed {seed}); " + da.guarantee_text(ds.acceptance())
            )
        elif action == "record":
            rows = [_parse_item(t) for t in args.items]
            if args.csv:
                rows += _read_csv(args.csv)
            if not rows:
                raise ConfigError("record: give PROJECT:TRACK:FRAME=ok|wrong items or --csv FILE")
            done = sum(ds.record(*r) for r in rows)
            result["recorded"] = done
            result["message"] = f"recorded {done} outcomes"
            ds.refresh()
        elif action == "next":
            dec, n = ds.next()
            result["decision"] = dec.action
            result["look"] = dec.look
            result["message"] = dec.message + (f"; flagged {n} more boxes" if n else "")
            result["flagged_now"] = n
        else:  # samples
            ds.refresh()
            result["message"] = "current dataset audit round"
        if action != "plan":
            rows_out = ds.sample_rows()
            result["samples"] = rows_out
            result["figures"] = ds.manifest.figures if ds.manifest else None
            result["changes"] = ds.changes()
            if args.csv and action in ("start", "samples"):
                _write_csv(rows_out, args.csv)
                result["message"] += f"; {len(rows_out)} samples written to {args.csv}"
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    print(result["message"])
    if action in ("start", "samples") and not args.csv:
        for r in result["samples"]:
            print(
                f"  {r['project']}  track {r['track_id']:4d}  frame {r['frame']:6d}  "
                f"{r['stratum']:<7} look {r['look']}  {r['outcome'] or '-'}"
            )
    for text in result.get("changes") or []:
        print(f"changed: {text}")
    figs = result.get("figures")
    if figs:
        from tracker_annotate.core.quality_report import dataset_text

        print(f"dataset: {dataset_text(quality.DatasetFigures.from_dict(figs))}")
    return 0
