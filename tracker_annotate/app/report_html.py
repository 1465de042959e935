"""The report as one self-contained HTML file with plots.

Plots use matplotlib's object API (a ``Figure`` rendered to SVG text and inlined), imported
only here and only when a report is written: matplotlib is the ``[bench]`` extra, no
pyplot, no backend chosen. Without it, :func:`write_html` raises :class:`ConfigError`
saying what to install; the text and JSON reports need no plotting library.

Plots: seconds per box over the session (each action's duration over the boxes it
covered, by kind, with the running median), flags left over time (reconstructed from the
flags in the file now and each recorded action's change to them), the confidence of the
reviewed boxes split by outcome, and the audit's residual estimate as it stood after
each answer, where an audit exists.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tracker_annotate.app.report import (
    BOX_CATEGORIES,
    ProjectFigures,
    concat_logs,
)
from tracker_annotate.core import audit
from tracker_annotate.core.errors import ConfigError
from tracker_annotate.core.quality import AuditRound, AuditSample
from tracker_annotate.core.worklog import KIND_CODES, ActionKind, Outcome

_KIND_COLORS: dict[ActionKind, str] = {
    "draw": "#1f77b4",
    "adjust": "#d62728",
    "accept": "#2ca02c",
    "stretch": "#17becf",
    "reject": "#7f7f7f",
    "outside": "#9467bd",
    "audit": "#ff7f0e",
    "watch": "#bcbd22",
}

#: At most this many actions are drawn as points (a seeded sample; the median line uses all).
MAX_POINTS = 3000

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
.note{background:#fff8e0;border-left:4px solid #e0b000;padding:.6em 1em}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots svg{width:520px;height:auto}
"""


def _figure() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ConfigError(
            "the HTML report draws plots with matplotlib: pip install 'tracker-annotate[bench]' "
            "(the text and --json reports need no plotting library)"
        ) from exc
    return Figure(figsize=(6.4, 3.8))


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.tight_layout()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _hours(t: np.ndarray, t0: float) -> np.ndarray:
    return (t - t0) / 3600.0


def residual_over_time(fig: ProjectFigures) -> list[tuple[float, float, float, float]]:
    """``(time, residual, lo, hi)`` after each recorded audit answer of the current round
    (the estimate as it stood then; none until every stratum has an answer)."""
    if fig.quality is None or not fig.quality.rounds:
        return []
    rnd: AuditRound = fig.quality.rounds[-1]
    log = fig.log
    rows = np.flatnonzero(log.mask("audit"))
    answered: dict[tuple[int, int], Outcome] = {}
    out = []
    for i in rows:
        answered[(int(log.track_id[i]), int(log.frame[i]))] = (
            "wrong" if log.outcome[i] == 1 else "ok"
        )
        samples = tuple(
            AuditSample(s.track_id, s.frame, s.stratum, answered.get((s.track_id, s.frame)))
            for s in rnd.samples
        )
        e = audit.estimate(AuditRound(rnd.seed, rnd.threshold, rnd.n_boxes, rnd.strata, samples))
        if e is not None:
            end = float(log.start[i] + log.duration_s[i])
            out.append((end, e.residual, e.residual_lo, e.residual_hi))
    return out


def plot_time_per_box(projects: Sequence[ProjectFigures]) -> str | None:
    log = concat_logs(p.log for p in projects)
    if not len(log):
        return None
    fig = _figure()
    ax = fig.add_subplot()
    end = log.start + log.duration_s
    order = np.argsort(end, kind="stable")
    # x: hours worked so far (sessions back to back, idle and machine time left out)
    work = ~log.mask("idle", "run")
    worked = np.empty(len(log))
    worked[order] = np.cumsum(np.where(work[order], log.duration_s[order], 0.0)) / 3600.0
    # a scatter of every action of a big set would be an SVG of megabytes: a seeded sample
    shown = np.zeros(len(log), bool)
    rng = np.random.default_rng(0)
    shown[rng.permutation(len(log))[:MAX_POINTS]] = True
    for kind, color in _KIND_COLORS.items():
        m = log.mask(kind) & (log.n_boxes > 0) & shown
        if m.any():
            per = log.duration_s[m] / log.n_boxes[m]
            ax.scatter(worked[m], per, s=9, color=color, label=kind, alpha=0.7)
    acted = np.isin(log.kind[order], [KIND_CODES[k] for k in _KIND_COLORS]) & (
        log.n_boxes[order] > 0
    )
    if acted.sum() >= 5:
        idx = order[acted]
        per = log.duration_s[idx] / log.n_boxes[idx]
        x = worked[idx]
        # the median of every action (not the sample) in up to 100 consecutive groups
        groups = np.array_split(np.arange(len(per)), min(100, len(per) // 5))
        ax.plot(
            [float(np.mean(x[g])) for g in groups],
            [float(np.median(per[g])) for g in groups],
            color="black",
            lw=1.2,
            label=f"median of {len(groups[0])} actions",
        )
    ax.set_yscale("log")
    ax.set_xlabel("hours worked (every project and session, in the order done)")
    ax.set_ylabel("seconds per box")
    ax.set_title("Time per box over the session")
    ax.legend(fontsize=7, ncol=3)
    return _svg(fig)


def plot_flags_left(projects: Sequence[ProjectFigures]) -> str | None:
    fig = _figure()
    ax = fig.add_subplot()
    drawn = False
    for p in projects:
        log = p.log
        if not len(log):
            continue
        end = log.start + log.duration_s
        order = np.argsort(end, kind="stable")
        delta = log.flags_delta[order]
        # flags after action i = flags now - the changes of every later action
        after = p.flags_left - (delta.sum() - np.cumsum(delta))
        t0 = float(end[order][0] - log.duration_s[order][0])
        before = p.flags_left - delta.sum()
        x = np.concatenate([[0.0], _hours(end[order], t0)])
        ax.step(x, np.concatenate([[before], after]), where="post", label=p.path.stem)
        drawn = True
    if not drawn:
        return None
    ax.set_xlabel("hours since the project's first recorded action")
    ax.set_ylabel("flags left")
    ax.set_title("Flags left over time")
    if len(projects) <= 10:
        ax.legend(fontsize=7)
    return _svg(fig)


def plot_confidence(projects: Sequence[ProjectFigures]) -> str | None:
    log = concat_logs(p.log for p in projects)
    outcomes = {
        "accepted": (log.mask("accept", "stretch") | (log.mask("audit") & (log.outcome == 0))),
        "corrected": (log.mask("adjust") | (log.mask("audit") & (log.outcome == 1))),
        "rejected": log.mask("reject"),
    }
    ok = np.isfinite(log.confidence)
    if not (ok & np.logical_or.reduce(list(outcomes.values()))).any():
        return None
    fig = _figure()
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 1.0, 21)
    for (name, m), color in zip(outcomes.items(), ("#2ca02c", "#d62728", "#7f7f7f"), strict=True):
        c = log.confidence[m & ok]
        if len(c):
            ax.hist(c, bins=bins, alpha=0.55, color=color, label=f"{name} ({len(c)})")
    ax.set_xlabel("box confidence before the review")
    ax.set_ylabel("boxes reviewed")
    ax.set_title("Confidence of reviewed boxes, by outcome")
    ax.legend(fontsize=8)
    return _svg(fig)


def plot_residual(projects: Sequence[ProjectFigures]) -> str | None:
    series = [(p, residual_over_time(p)) for p in projects]
    series = [(p, s) for p, s in series if s]
    if not series:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    for p, s in series:
        a = np.asarray(s)
        t0 = float(p.log.start.min())
        x = _hours(a[:, 0], t0)
        line = ax.plot(x, 100 * a[:, 1], marker=".", label=p.path.stem)[0]
        ax.fill_between(x, 100 * a[:, 2], 100 * a[:, 3], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("hours since the project's first recorded action")
    ax.set_ylabel("wrong and unseen boxes (%)")
    ax.set_title("Audit estimate (95% interval) after each answer")
    ax.legend(fontsize=7)
    return _svg(fig)


def _e(v: object) -> str:
    return html.escape(str(v))


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _num(v: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def _rows_table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """Two tables: the work and the result's boxes; the audit and the estimate."""
    head1 = (
        "<tr><th>project</th><th>time worked</th>"
        + "".join(f"<th>{_e(k.replace('_', ' '))}</th>" for k in BOX_CATEGORIES)
        + "<th>s / finished box</th><th>flags reviewed</th></tr>"
    )
    head2 = (
        "<tr><th>project</th><th>audit: wrong and unseen (95%)</th><th>drawing every box "
        "(est.)</th><th>interpolation (est.)</th><th>real</th><th>faster than per_frame</th>"
        "<th>faster than interpolation</th></tr>"
    )
    body1, body2 = [], []
    for name, r in rows:
        a = r.get("audit")
        lo, hi = a["residual_interval"] if a else (0.0, 0.0)
        aud = f"{100 * a['residual']:.2f}% ({100 * lo:.2f}–{100 * hi:.2f}%)" if a else "–"
        e = r["estimate"]
        body1.append(
            f"<tr><td>{_e(name)}</td><td>{_hms(r['time_worked_s'])}</td>"
            + "".join(f"<td>{r['boxes'][k]}</td>" for k in BOX_CATEGORIES)
            + f"<td>{_num(r['seconds_per_finished_box'])}</td>"
            f"<td>{r['flags']['reviewed']}</td></tr>"
        )
        body2.append(
            f"<tr><td>{_e(name)}</td><td>{aud}</td><td>{_hms(e['per_frame_s'])}</td>"
            f"<td>{_hms(e['interpolation_s'])}</td><td>{_hms(e['real_s'])}</td>"
            f"<td>{_num(e['speedup_vs_per_frame'], '{:.1f}x')}</td>"
            f"<td>{_num(e['speedup_vs_interpolation'], '{:.1f}x')}</td></tr>"
        )
    return f"<table>{head1}{''.join(body1)}</table><table>{head2}{''.join(body2)}</table>"


def _annotators_table(annotators: dict[str, Any]) -> str:
    head = (
        "<tr><th>annotator</th><th>time worked</th><th>idle</th><th>sessions</th>"
        "<th>boxes handled</th><th>s / box handled</th><th>flags reviewed</th>"
        "<th>median draw</th><th>median correct</th><th>median verify</th><th>watch / box</th></tr>"
    )
    body = []
    for name, a in annotators.items():
        c = a["costs"]

        def cost(k: str, c: dict[str, Any] = c) -> str:
            v = c[k]
            return f"{v['value']:.2f} s" + ("" if v["n"] else " (default)")

        body.append(
            f"<tr><td>{_e(name)}</td><td>{_hms(a['time_worked_s'])}</td><td>{_hms(a['idle_s'])}</td>"
            f"<td>{a['sessions']}</td><td>{a['boxes_handled']}</td>"
            f"<td>{_num(a['seconds_per_handled_box'])}</td><td>{a['flags_reviewed']}</td>"
            f"<td>{cost('draw_s')}</td><td>{cost('correct_s')}</td><td>{cost('verify_s')}</td>"
            f"<td>{cost('watch_s')}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def render_html(report: dict[str, Any], projects: Sequence[ProjectFigures]) -> str:
    plots = [
        plot_time_per_box(projects),
        plot_flags_left(projects),
        plot_confidence(projects),
        plot_residual(projects),
    ]
    t = report["total"]
    e = t["estimate"]
    paths = [r["path"] for r in report["projects"]]
    root = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    rows = [
        (os.path.relpath(r["path"], root) if root else r["path"], r) for r in report["projects"]
    ]
    rows.append((f"all {t['projects']} projects", {**t, "audit": None}))
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>tracker-annotate report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Annotation report</h1>",
        f"<p>{_e(report['generator'])}; {t['projects']} projects in {_e(root)}, "
        f"{t['finished_boxes']} finished boxes, {_hms(t['time_worked_s'])} worked "
        f"({_num(t['seconds_per_finished_box'])} s per finished box).</p>",
        "<h2>Estimated time saved</h2>",
        f"<p>Drawing every box: <b>{_hms(e['per_frame_s'])}</b>; CVAT-style interpolation "
        f"({e['keyframes']} keyframes): <b>{_hms(e['interpolation_s'])}</b>; real time spent: "
        f"<b>{_hms(e['real_s'])}</b> ({_num(e['speedup_vs_per_frame'], '{:.1f}')}x and "
        f"{_num(e['speedup_vs_interpolation'], '{:.1f}')}x faster).</p>",
        f"<p class='note'>{_e(report['estimate_note'])}</p>",
        "<h2>Projects</h2>",
        _rows_table(rows),
        "<h2>Annotators</h2>",
        _annotators_table(report["annotators"]),
        "<h2>Plots</h2><div class='plots'>",
        *[p for p in plots if p is not None],
        "</div>",
        "<h2>Definitions</h2><ul>",
        *[f"<li><b>{_e(k)}</b>: {_e(v)}</li>" for k, v in report["definitions"].items()],
        "</ul></body></html>",
    ]
    return "\n".join(parts)


def write_html(report: dict[str, Any], projects: Sequence[ProjectFigures], out: Path) -> Path:
    """Write the HTML report to ``out`` (one file, plots inlined as SVG)."""
    text = render_html(report, projects)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write the HTML report: {exc}") from exc
    return out
