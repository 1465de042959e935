"""What the annotators' work cost and what it bought: the figures of ``tracker-annotate report``.

Each project file is read directly and read-only (a few SQL aggregates over its boxes and
its work record, :mod:`tracker_annotate.io.store_worklog`), never loaded as a whole
project: a hundred projects with a million boxes take seconds
(``benchmarks/bench_report.py``).

Per project, per annotator and for the whole set:

* **time worked**: the sum of the work actions' durations (idle spells above the idle
  threshold and tracking runs excluded; see :mod:`tracker_annotate.core.worklog`);
* **boxes in the result by source** (visible boxes of accepted tracks; open proposals and
  ``outside`` marks are not boxes of the result): *drawn* (a manual box no action
  corrected), *corrected* (a manual box whose record is an adjust, an audit sample found
  wrong and redrawn, or a proposal fixed by a drag), *tracked and accepted* (a tracked or
  interpolated box verified), *tracked and unseen* (derived, neither verified nor flagged:
  nobody looked at it), *proposed and accepted* (a detector proposal accepted as it was),
  *imported* (from a file), and *flags left* (flagged, not reviewed: unfinished);
* **seconds per finished box**: time worked over the boxes of the result minus flags left;
* **flags reviewed** (from the record) and **left** (in the file);
* **the audit's estimate** with its interval, when an audit round has one
  (:func:`tracker_annotate.core.audit.estimate`).

**Estimated time saved** (:class:`Savings`). These are estimates, not measurements: the
time the same result would have taken drawing every box (``per_frame``) and with CVAT-style
linear interpolation, priced with the annotators' *own* median draw, verify and watch times
from the record (the benchmark's defaults where the record has none of an action; each
figure says which). Interpolation is priced as the benchmark prices it
(:mod:`tracker_annotate.bench.strategies`): per track ``1 + ceil((n - 1) / spacing)``
keyframes drawn, a playback review of every box, and an end mark where a track ends
before the video does; ``spacing`` is the boxes per keyframe the benchmark's
interpolation needed (:data:`DEFAULT_KEYFRAME_SPACING`, or a ``bench`` results file's).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tracker_annotate import __version__
from tracker_annotate.core import audit
from tracker_annotate.core.errors import ConfigError, ProjectError
from tracker_annotate.core.quality import QualityState
from tracker_annotate.core.worklog import (
    KIND_CODES,
    KINDS_BY_CODE,
    NOT_WORK,
    SUBJECT_CODES,
    ActionKind,
)
from tracker_annotate.io import store_audit, store_schema, store_worklog
from tracker_annotate.io.store_worklog import WorkLog

REPORT_VERSION = 1

#: The benchmark's default seconds per action (:class:`tracker_annotate.bench.costs.
#: CostModel`; a test keeps them equal), used where the record has no such action.
DEFAULT_COSTS: dict[str, float] = {
    "draw_s": 7.0,
    "correct_s": 7.0,
    "verify_s": 1.6,
    "watch_s": 0.2,
    "end_mark_s": 1.6,
}
#: Boxes per interpolation keyframe the benchmark found on its 8 shared sequences at
#: default costs and tau 0.7 (3,622 boxes, 375 keyframes: ``bench.report.KNOWN_TOTAL``).
DEFAULT_KEYFRAME_SPACING = 3622 / 375
SPACING_SOURCE = (
    "the benchmark's interpolation on its 8 shared sequences (3622 boxes / 375 keyframes)"
)

ESTIMATE_NOTE = (
    "Estimates, not measurements: per_frame prices drawing every box of the result at the "
    "annotators' own median draw time; interpolation prices CVAT-style linear interpolation "
    "(keyframes every {spacing:.1f} boxes per track, from {spacing_source}) at the same draw "
    "time, plus a playback review of every box at the measured watch time per box and an end "
    "mark per track that ends before the video. Real time is the sum of the recorded work "
    "actions (idle spells over the idle threshold not counted). An action's time runs from "
    "the end of the previous one, so looking for the object is part of it."
)

BOX_CATEGORIES = (
    "drawn",
    "corrected",
    "tracked_accepted",
    "tracked_unseen",
    "proposed_accepted",
    "imported",
    "flags_left",
)

# stored codes (io.store_schema.SOURCE_CODES, FLAG_BITS)
_MANUAL, _TRACKED, _INTERPOLATED, _IMPORTED = 0, 1, 2, 3
_FLAGGED, _VERIFIED, _OUTSIDE = 1, 2, 8

#: Each measured cost: the kinds (and audit outcome) whose median it is.
_COST_KINDS: dict[str, tuple[tuple[ActionKind, int | None], ...]] = {
    "draw_s": (("draw", None),),
    "correct_s": (("adjust", None), ("audit", 1)),
    "verify_s": (("accept", None), ("audit", 0)),
    "end_mark_s": (("outside", None),),
}


@dataclass(frozen=True)
class Cost:
    """A per-action cost in seconds: ``measured`` over ``n`` actions, or the default."""

    value: float
    n: int
    source: str

    @property
    def measured(self) -> bool:
        return self.n > 0

    def as_dict(self) -> dict[str, Any]:
        return {"value": round(self.value, 4), "n": self.n, "source": self.source}


def measured_costs(log: WorkLog) -> dict[str, Cost]:
    """The record's median seconds per action (watch: seconds per box shown), with the
    benchmark's default where the record has none."""
    out: dict[str, Cost] = {}
    for name, kinds in _COST_KINDS.items():
        rows = np.zeros(len(log), bool)
        for kind, outcome in kinds:
            m = log.kind == KIND_CODES[kind]
            if outcome is not None:
                m &= log.outcome == outcome
            rows |= m
        d = log.duration_s[rows]
        what = "/".join(k for k, _ in kinds)
        if len(d):
            out[name] = Cost(float(np.median(d)), len(d), f"median of {len(d)} {what}")
        else:
            out[name] = Cost(DEFAULT_COSTS[name], 0, f"default (no {what} recorded)")
    w = log.mask("watch")
    shown = int(log.n_boxes[w].sum())
    if shown:
        secs = float(log.duration_s[w].sum())
        out["watch_s"] = Cost(
            secs / shown, int(w.sum()), f"{secs:.0f} s of playback / {shown} boxes"
        )
    else:
        out["watch_s"] = Cost(DEFAULT_COSTS["watch_s"], 0, "default (no playback recorded)")
    return out


@dataclass(frozen=True)
class WorkFigures:
    """What a record says (a project's, an annotator's, or the set's)."""

    time_worked_s: float
    idle_s: float
    actions: dict[str, int]
    flags_reviewed: int
    boxes_handled: int
    costs: dict[str, Cost]
    annotators: tuple[str, ...]
    sessions: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "time_worked_s": round(self.time_worked_s, 3),
            "idle_s": round(self.idle_s, 3),
            "actions": self.actions,
            "flags_reviewed": self.flags_reviewed,
            "boxes_handled": self.boxes_handled,
            "seconds_per_handled_box": _ratio(self.time_worked_s, self.boxes_handled),
            "costs": {k: c.as_dict() for k, c in self.costs.items()},
            "annotators": list(self.annotators),
            "sessions": self.sessions,
        }


_HANDLED = [
    KIND_CODES[k] for k in ("draw", "adjust", "accept", "stretch", "reject", "outside", "audit")
]


def work_figures(log: WorkLog) -> WorkFigures:
    work = ~np.isin(log.kind, [KIND_CODES[k] for k in NOT_WORK])
    codes, counts = np.unique(log.kind, return_counts=True)
    actions: dict[str, int] = {
        KINDS_BY_CODE[int(c)]: int(n) for c, n in zip(codes, counts, strict=True)
    }
    handled = np.isin(log.kind, _HANDLED)
    reviewed = work & (log.flags_delta < 0)
    return WorkFigures(
        time_worked_s=float(log.duration_s[work].sum()),
        idle_s=float(log.duration_s[log.mask("idle")].sum()),
        actions=actions,
        flags_reviewed=int(-log.flags_delta[reviewed].sum()),
        boxes_handled=int(log.n_boxes[handled].sum()),
        costs=measured_costs(log),
        annotators=tuple(sorted(set(log.annotator.tolist()))),
        sessions=len(np.unique(log.session)),
    )


@dataclass(frozen=True)
class Savings:
    """The estimate of time saved (see the module doc): seconds each way."""

    boxes: int
    keyframes: int
    end_marks: int
    keyframe_spacing: float
    per_frame_s: float
    interpolation_s: float
    real_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "boxes": self.boxes,
            "keyframes": self.keyframes,
            "end_marks": self.end_marks,
            "keyframe_spacing": round(self.keyframe_spacing, 3),
            "per_frame_s": round(self.per_frame_s, 1),
            "interpolation_s": round(self.interpolation_s, 1),
            "real_s": round(self.real_s, 1),
            "saved_vs_per_frame_s": round(self.per_frame_s - self.real_s, 1),
            "saved_vs_interpolation_s": round(self.interpolation_s - self.real_s, 1),
            "speedup_vs_per_frame": _ratio(self.per_frame_s, self.real_s),
            "speedup_vs_interpolation": _ratio(self.interpolation_s, self.real_s),
        }

    def __add__(self, o: Savings) -> Savings:
        return Savings(
            self.boxes + o.boxes,
            self.keyframes + o.keyframes,
            self.end_marks + o.end_marks,
            self.keyframe_spacing,
            self.per_frame_s + o.per_frame_s,
            self.interpolation_s + o.interpolation_s,
            self.real_s + o.real_s,
        )


def price(
    track_lengths: np.ndarray,
    track_ends_early: np.ndarray,
    costs: dict[str, Cost],
    spacing: float,
    real_s: float,
) -> Savings:
    """Price the result's tracks (``track_lengths`` visible boxes each) both ways."""
    n = track_lengths[track_lengths > 0].astype(np.int64)
    boxes = int(n.sum())
    keyframes = int((1 + np.ceil((n - 1) / spacing)).sum())
    ends = int(track_ends_early[track_lengths > 0].sum())
    draw, watch, end = costs["draw_s"].value, costs["watch_s"].value, costs["end_mark_s"].value
    return Savings(
        boxes,
        keyframes,
        ends,
        spacing,
        per_frame_s=boxes * draw,
        interpolation_s=keyframes * draw + boxes * watch + ends * end,
        real_s=real_s,
    )


@dataclass
class ProjectFigures:
    """One project's report. ``log`` and ``rounds`` feed the HTML plots."""

    path: Path
    boxes: dict[str, int]
    flags_left: int
    open_proposals: int
    work: WorkFigures
    savings: Savings
    audit: dict[str, Any] | None
    log: WorkLog = field(repr=False)
    quality: QualityState | None = field(repr=False, default=None)
    track_lengths: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    track_ends_early: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, bool))
    #: the costs the estimate used (own where measured, else the set's: :meth:`repriced`)
    priced_with: dict[str, Cost] = field(repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self.priced_with:
            self.priced_with = self.work.costs

    def repriced(self, pooled: dict[str, Cost]) -> None:
        """Price with ``pooled`` (the whole set's measured costs) every cost this
        project's own record has no action for (a project only reviewed has no draws)."""
        costs = {k: c if c.measured else pooled.get(k, c) for k, c in self.work.costs.items()}
        self.savings = price(
            self.track_lengths,
            self.track_ends_early,
            costs,
            self.savings.keyframe_spacing,
            self.work.time_worked_s,
        )
        self.priced_with = costs

    @property
    def finished_boxes(self) -> int:
        return sum(v for k, v in self.boxes.items() if k != "flags_left")

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "time_worked_s": round(self.work.time_worked_s, 3),
            "boxes": self.boxes,
            "finished_boxes": self.finished_boxes,
            "seconds_per_finished_box": _ratio(self.work.time_worked_s, self.finished_boxes),
            "flags": {"reviewed": self.work.flags_reviewed, "left": self.flags_left},
            "open_proposals": self.open_proposals,
            "work": self.work.as_dict(),
            "audit": self.audit,
            "estimate": {
                **self.savings.as_dict(),
                "priced_with": {k: c.as_dict() for k, c in self.priced_with.items()},
            },
        }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


# -- reading one project -------------------------------------------------------------------


def _connect_read_only(path: Path) -> sqlite3.Connection:
    store_schema.check_header(path)
    try:
        con = sqlite3.connect(f"file:{path.absolute().as_posix()}?mode=ro", uri=True, timeout=1.0)
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise ProjectError(
                f"{path}: the project is open in tracker-annotate; close it there to report on it"
            ) from exc
        raise ProjectError(f"{path}: cannot read the project: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"{path}: cannot read the project: {exc}") from exc
    if app_id != store_schema.APPLICATION_ID:
        con.close()
        raise ProjectError(f"{path}: an SQLite database but not a tracker_annotate project")
    if version > store_schema.SCHEMA_VERSION:
        con.close()
        raise ProjectError(
            f"{path}: written by a newer tracker_annotate (schema v{version}); "
            f"upgrade to report on it"
        )
    return con


def _box_counts(con: sqlite3.Connection) -> tuple[dict[str, int], int]:
    """The result's boxes by category, and the open proposals' boxes."""
    counts = dict.fromkeys(BOX_CATEGORIES, 0)
    open_props = 0
    rows = con.execute(
        "SELECT t.proposed, b.source, b.flags & 11, COUNT(*) FROM boxes b "
        "JOIN tracks t ON t.track_id = b.track_id GROUP BY 1, 2, 3"
    ).fetchall()
    for proposed, src, flags, n in rows:
        if flags & _OUTSIDE:
            continue
        if proposed:
            open_props += n
        elif flags & _FLAGGED:
            counts["flags_left"] += n
        elif src == _MANUAL:
            counts["drawn"] += n
        elif src == _IMPORTED:
            counts["imported"] += n
        elif flags & _VERIFIED:
            counts["tracked_accepted"] += n
        else:
            counts["tracked_unseen"] += n
    if store_worklog.has_worklog(con):
        corrected = _joined(
            con,
            f"kind = {KIND_CODES['adjust']} OR (kind = {KIND_CODES['audit']} AND outcome = 1)",
            f"b.source = {_MANUAL}",
        )
        counts["corrected"] = corrected
        counts["drawn"] -= corrected
        accepted = _joined(
            con,
            f"kind = {KIND_CODES['accept']} AND subject = {SUBJECT_CODES['proposal']}",
            f"b.source = {_IMPORTED} AND (b.flags & {_VERIFIED})",
        )
        counts["proposed_accepted"] = accepted
        counts["imported"] -= accepted
    return counts, open_props


def _joined(con: sqlite3.Connection, actions_where: str, boxes_where: str) -> int:
    """Visible, unflagged boxes of accepted tracks matching ``boxes_where`` that an action
    matching ``actions_where`` touched (a primary-key lookup per distinct action box)."""
    return int(
        con.execute(
            f"SELECT COUNT(*) FROM (SELECT DISTINCT track_id, frame FROM work_actions "
            f"WHERE track_id IS NOT NULL AND ({actions_where})) a "
            f"JOIN boxes b ON b.track_id = a.track_id AND b.frame = a.frame "
            f"JOIN tracks t ON t.track_id = b.track_id "
            f"WHERE t.proposed = 0 AND (b.flags & {_OUTSIDE | _FLAGGED}) = 0 AND {boxes_where}"
        ).fetchone()[0]
    )


def _tracks(con: sqlite3.Connection, n_frames: int | None) -> tuple[np.ndarray, np.ndarray]:
    rows = con.execute(
        f"SELECT COUNT(*), MAX(b.frame) FROM boxes b JOIN tracks t ON t.track_id = b.track_id "
        f"WHERE t.proposed = 0 AND (b.flags & {_OUTSIDE}) = 0 GROUP BY b.track_id"
    ).fetchall()
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    a = np.asarray(rows, dtype=np.int64)
    ends_early = a[:, 1] < n_frames - 1 if n_frames else np.zeros(len(a), bool)
    return a[:, 0], ends_early


def _n_frames(con: sqlite3.Connection) -> int | None:
    row = con.execute("SELECT value FROM meta WHERE key = 'media'").fetchone()
    try:
        d = json.loads(row[0]) if row is not None else None
        return int(d["n_frames"]) if d else None
    except (ValueError, TypeError, KeyError):
        return None


def read_project(path: Path, spacing: float = DEFAULT_KEYFRAME_SPACING) -> ProjectFigures:
    """The report's figures for the project file at ``path`` (read-only)."""
    where = str(path)
    con = _connect_read_only(path)
    try:
        boxes, open_props = _box_counts(con)
        lengths, ends_early = _tracks(con, _n_frames(con))
        log = store_worklog.read_worklog(con, where)
        version = con.execute("PRAGMA user_version").fetchone()[0]
        quality = store_audit.load_quality(con, where) if version >= 2 else None
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"{path}: cannot read the project: {exc}") from exc
    finally:
        con.close()
    work = work_figures(log)
    est = None
    if quality is not None and quality.rounds:
        e = audit.estimate(quality.rounds[-1])
        est = None if e is None else e.as_dict()
    return ProjectFigures(
        path=path,
        boxes=boxes,
        flags_left=boxes["flags_left"],
        open_proposals=open_props,
        work=work,
        savings=price(lengths, ends_early, work.costs, spacing, work.time_worked_s),
        audit=est,
        log=log,
        quality=quality,
        track_lengths=lengths,
        track_ends_early=ends_early,
    )


# -- many projects -------------------------------------------------------------------------


def find_projects(paths: Sequence[str | Path]) -> list[Path]:
    """The project files named, and those under the folders named (sorted, no backups)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(
                f
                for f in p.rglob("*")
                if f.suffix.lower() in store_schema.PROJECT_SUFFIXES
                and f.is_file()
                and not f.name.startswith(".")
            )
        elif p.exists():
            found.append(p)
        else:
            raise ProjectError(f"{p}: no such file or folder")
    if not found:
        raise ProjectError(
            f"no project files ({' or '.join(store_schema.PROJECT_SUFFIXES)}) in "
            + ", ".join(map(str, paths))
        )
    return found


def spacing_from_bench(path: Path) -> float:
    """Boxes per keyframe of the interpolation strategy in a ``bench`` ``results.json``."""
    try:
        s = json.loads(path.read_text())["summary"]["interpolation"]
        spacing = float(s["gt_boxes"]) / float(s["manual_boxes"])
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        raise ConfigError(
            f"{path}: expected a bench results.json with summary.interpolation "
            f"(gt_boxes, manual_boxes): {exc}"
        ) from exc
    if not math.isfinite(spacing) or spacing < 1:
        raise ConfigError(f"{path}: interpolation spacing {spacing} is not >= 1 box per keyframe")
    return spacing


def concat_logs(logs: Iterable[WorkLog]) -> WorkLog:
    logs = [g for g in logs if len(g)]
    if not logs:
        return store_worklog.empty_worklog()
    names = WorkLog.__dataclass_fields__
    return WorkLog(**{n: np.concatenate([getattr(g, n) for g in logs]) for n in names})


def build_report(
    projects: Sequence[ProjectFigures],
    spacing: float = DEFAULT_KEYFRAME_SPACING,
    spacing_source: str = SPACING_SOURCE,
) -> dict[str, Any]:
    """The JSON report: every project, every annotator, and the whole set."""
    # sessions are numbered per file: make them distinct across files before pooling
    pooled = []
    for i, p in enumerate(projects):
        g = p.log
        pooled.append(
            WorkLog(
                **{
                    **{n: getattr(g, n) for n in WorkLog.__dataclass_fields__},
                    "session": g.session + (i << 32),
                }
            )
        )
    everything = concat_logs(pooled)
    annotators = {}
    for name in sorted(set(everything.annotator.tolist())):
        annotators[name] = work_figures(everything.take(everything.annotator == name)).as_dict()
    total_work = work_figures(everything)
    for p in projects:
        p.repriced(total_work.costs)
    boxes = {k: sum(p.boxes[k] for p in projects) for k in BOX_CATEGORIES}
    finished = sum(v for k, v in boxes.items() if k != "flags_left")
    savings = Savings(0, 0, 0, spacing, 0.0, 0.0, 0.0)
    for p in projects:
        savings = savings + p.savings
    return {
        "report_version": REPORT_VERSION,
        "generator": f"tracker_annotate {__version__}",
        "estimate_note": ESTIMATE_NOTE.format(spacing=spacing, spacing_source=spacing_source),
        "definitions": {
            "time_worked_s": "sum of recorded work actions' durations; idle spells and "
            "tracking runs excluded",
            "finished_boxes": "visible boxes of accepted tracks, minus flags left",
            "boxes_handled": "boxes the annotator's actions covered (a stretch counts its boxes)",
        },
        "projects": [p.as_dict() for p in projects],
        "annotators": annotators,
        "total": {
            "projects": len(projects),
            "time_worked_s": round(total_work.time_worked_s, 3),
            "boxes": boxes,
            "finished_boxes": finished,
            "seconds_per_finished_box": _ratio(total_work.time_worked_s, finished),
            "flags": {"reviewed": total_work.flags_reviewed, "left": boxes["flags_left"]},
            "work": total_work.as_dict(),
            "estimate": savings.as_dict(),
        },
    }
