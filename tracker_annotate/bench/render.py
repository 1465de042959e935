"""Render ``results.json`` as a markdown report and PNG plots.

The plots use matplotlib's object API (``Figure`` saved straight to PNG), imported only
when a plot is drawn: no pyplot, no backend chosen, no global state touched, so importing
:mod:`tracker_annotate.bench` does not import matplotlib and a caller's own backend stays
as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tracker_annotate.bench.strategies import STRATEGIES

NOTES = """\
## How the numbers are made

- The simulated annotator holds the ground truth (GT) and acts on a project only through
  the editing commands the GUI uses (draw = new manual keyframe, correct = redraw a proposed
  box, verify = accept a proposed box, mark end = an `outside` box). The engine receives the
  project and the frames, never the GT.
- **per_frame** draws every GT box. **interpolation** puts keyframes on each track's first
  and last frame, interpolates xyxy linearly (CVAT, Label Studio, VATIC), then keyframes
  the frame with the worst IoU below tau until every box reaches tau; cost = keyframes x
  draw + a playback review of every box. **tracker_oracle** is the same loop and accounting
  with our engine filling between keyframes (told not to extend past the last keyframe)
  and re-tracking only the touched segments after each keyframe. **tracker_flagged** draws
  each track's first box and marks its end, lets the engine propagate, then visits only
  flagged boxes in playback order: verify when IoU >= tau, else correct (a keyframe, then
  re-track); new flags are visited too until none are left. Unflagged boxes are never looked
  at; cost = draws + verifications + corrections + end marks.
- **tracker_stretch** prices the app's real review: flagged stretches in the app's value
  order are watched (watch_s per box), then accepted in one action (verify_s) if every box
  has IoU >= tau, else the worst box is corrected (correct_s) and re-tracked.
  **tracker_audited** adds the random audit (core/audit.py) to a target residual: samples
  are verified (or corrected), the stratified estimate's 95% interval decides whether to
  flag more and audit again; coverage is measured over many seeds at each round's state
  (re-drawing is cheap) against the true value of the same estimand (wrong unseen project
  boxes / visible boxes, "wrong" = IoU < tau or a box where the object is not).
  **tracker_guided** draws each track's first box, then follows the tool's own keyframe
  suggestion (accept or correct, re-track) until the predicted residual of the unverified
  boxes meets the target, then reviews the remaining flagged stretches: no oracle.
  **tracker_prelabeled** is the flagged loop started from the shipped detector's proposals
  on each track's first frame (accept = verify, fix = correct, uncovered objects drawn,
  false proposals rejected at
  verify cost), with lost tracks re-found by the detector (a re-found box is reviewed like
  a flag; accepting it re-tracks from it).
- An end mark always costs its seconds; when a track is visible until the video's last
  frame there is no frame after it to put the `outside` box on, so nothing is written.
- *Residual error* = share of GT boxes whose final box has IoU < 0.5 (or < tau) and was
  never shown to the annotator (a missing box scores IoU 0; a box where the object is not
  counts as an error too). Strategies with a playback review show every box, so their
  residual error is 0 by construction.
- *Flag precision / recall* are measured on the first propagation: a derived box is "bad"
  when its IoU < tau.
- *Engine compute* is wall time inside the engine (and installing its output); it is
  reported apart and never added to annotator time.
"""


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _x(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}x"


def _hms(seconds: float) -> str:
    h, rem = divmod(round(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def _summary_table(summary: dict[str, Any]) -> list[str]:
    lines = [
        "| strategy | annotator time | speedup vs per_frame | manual boxes | manual vs "
        "interpolation | verified | corrected | mean IoU | residual err IoU<0.5 | residual "
        "err IoU<tau | engine compute |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in STRATEGIES:
        if s not in summary:
            continue
        r = summary[s]
        lines.append(
            f"| {s} | {r['seconds']:,.0f} s ({_hms(r['seconds'])}) | "
            f"{_x(r['speedup_vs_per_frame'])} | {r['manual_boxes']:,} | "
            f"{_pct(r['manual_boxes_vs_interpolation'])} | {r['verified_boxes']:,} | "
            f"{r['corrected_boxes']:,} | {r['mean_iou']:.3f} | "
            f"{_pct(r['residual_error_rate'])} | {_pct(r['residual_error_rate_tau'])} | "
            f"{r['compute_seconds']:.0f} s |"
        )
    return lines


def _sequence_table(seqs: dict[str, Any]) -> list[str]:
    lines = [
        "| sequence | GT boxes | per_frame | interpolation (keyframes) | tracker_oracle "
        "(keyframes) | tracker_flagged (manual / verified) | flagged residual IoU<0.5 | flag "
        "precision / recall | engine compute |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(d: dict[str, Any] | None, extra: str) -> str:
        return "-" if d is None else f"{d['seconds']:,.0f} s ({extra.format(**d)})"

    for name, by in seqs.items():
        pf, it = by.get("per_frame"), by.get("interpolation")
        orc, fl = by.get("tracker_oracle"), by.get("tracker_flagged")
        n = next(iter(by.values()))["gt_boxes"]
        comp = sum(d["compute_seconds"] for d in by.values())
        lines.append(
            f"| {name} | {n:,} | {cell(pf, '{manual_boxes}')} | "
            f"{cell(it, '{manual_boxes}')} | {cell(orc, '{manual_boxes}')} | "
            f"{cell(fl, '{manual_boxes} / {verified_boxes}')} | "
            f"{_pct(fl['residual_error_rate']) if fl else '-'} | "
            f"{(_pct(fl['flag_precision']) + ' / ' + _pct(fl['flag_recall'])) if fl else '-'} | "
            f"{comp:.0f} s |"
        )
    return lines


def _prelabeled_table(seqs: dict[str, Any]) -> list[str]:
    """tracker_prelabeled beside tracker_flagged, per sequence (empty when not run)."""
    rows = [
        (n, by["tracker_flagged"], by["tracker_prelabeled"])
        for n, by in seqs.items()
        if "tracker_flagged" in by and "tracker_prelabeled" in by
    ]
    if not rows:
        return []
    lines = [
        "## tracker_prelabeled beside tracker_flagged",
        "",
        "Proposals on each track's first frame: accepted (verify), fixed (correct), or the "
        "object drawn; false proposals rejected (verify); lost tracks re-found by the "
        "detector. Same cost model.",
        "",
        "| sequence | flagged time | prelabeled time | saved | flagged residual IoU<0.5 | "
        "prelabeled residual IoU<0.5 | accepted / fixed / drawn / rejected | re-found | "
        "detector / engine compute |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    tf = tp = 0.0
    for name, fl, pre in rows:
        tf += fl["seconds"]
        tp += pre["seconds"]
        saved = 1 - pre["seconds"] / fl["seconds"] if fl["seconds"] else None
        lines.append(
            f"| {name} | {fl['seconds']:,.0f} s | {pre['seconds']:,.0f} s | {_pct(saved)} | "
            f"{_pct(fl['residual_error_rate'])} | {_pct(pre['residual_error_rate'])} | "
            f"{pre.get('proposals_accepted', 0)} / {pre.get('proposals_corrected', 0)} / "
            f"{pre.get('first_boxes_drawn', 0)} / {pre.get('proposals_rejected', 0)} | "
            f"{pre.get('refound', 0)} | {pre.get('detector_seconds', 0):.1f} s / "
            f"{pre['compute_seconds']:.0f} s |"
        )
    total = _pct(1 - tp / tf) if tf else "n/a"
    lines += ["", f"All sequences: {tf:,.0f} s -> {tp:,.0f} s ({total} saved).", ""]
    return lines


def render_markdown(results: dict[str, Any], plots: list[str]) -> str:
    tau = results["tau"]
    summary = results["summary"]
    n_boxes = next(iter(summary.values()))["gt_boxes"] if summary else 0
    m = results["machine"]
    out = [
        "# Labeling-time benchmark",
        "",
        f"Command: `{results['command']}`",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}. "
        f"Wall time {results['wall_seconds']:.0f} s; load average before "
        f"{results['load_average_before']}, after {results['load_average_after']} "
        "(other jobs shared the machine).",
        "",
        f"## Summary: {len(results['sequences'])} sequences, {n_boxes:,} GT boxes, tau = {tau}",
        "",
        *_summary_table(summary),
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *[
            f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |"
            for t in results["targets"]
        ],
        "",
    ]
    ka = results["known_answer"]
    if ka.get("measured_keyframes") and not ka.get("applies", True):
        out += [f"Known-answer check: not applicable ({ka.get('why_not', '')}).", ""]
    elif ka.get("measured_keyframes"):
        out += [
            "## Known-answer check (interpolation keyframes, default costs, tau 0.7)",
            "",
            f"Expected per sequence {ka['expected_keyframes']}, measured "
            f"{ka['measured_keyframes']}.",
        ]
        if "measured_total" in ka:
            out.append(f"Expected total {ka['expected_total']}, measured {ka['measured_total']}.")
        out += [f"Matches: **{'yes' if ka['matches'] else 'no'}**.", ""]
    out += [f"## Per sequence (tau = {tau})", "", *_sequence_table(results["sequences"]), ""]
    out += _prelabeled_table(results["sequences"])
    for t, block in results["by_tau"].items():
        if float(t) == tau:
            continue
        out += [f"## Summary at tau = {t}", "", *_summary_table(block["summary"]), ""]
    out += [
        "## Sensitivity: drawing (and correcting) at "
        f"{results['sensitivity_costs']['draw_s']} s per box",
        "",
        "| tau | strategy | annotator time | speedup vs per_frame | speedup vs interpolation |",
        "|---|---|---:|---:|---:|",
    ]
    for t, block in results["by_tau"].items():
        for s, r in block["sensitivity_slow_drawing"].items():
            out.append(
                f"| {t} | {s} | {r['seconds']:,.0f} s | {_x(r['speedup_vs_per_frame'])} | "
                f"{_x(r['speedup_vs_interpolation'])} |"
            )
    out += ["", f"## Trade-off: engine flag threshold (tracker_flagged, tau = {tau})", ""]
    out += [
        "| flag threshold | annotator time | speedup vs per_frame | verified | corrected | "
        "residual err IoU<0.5 | residual err IoU<tau | mean IoU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = summary.get("per_frame", {}).get("seconds")
    for r in results["tradeoff"]:
        sp = base / r["seconds"] if base and r["seconds"] else None
        out.append(
            f"| {r['flag_threshold']} | {r['seconds']:,.0f} s | {_x(sp)} | "
            f"{r['verified_boxes']:,} | {r['corrected_boxes']:,} | "
            f"{_pct(r['residual_error_rate'])} | {_pct(r['residual_error_rate_tau'])} | "
            f"{r['mean_iou']:.3f} |"
        )
    out += _audit_section(results)
    out += _curves_section(results)
    out += ["", "## Cost model", "", "| action | seconds | source |", "|---|---:|---|"]
    for k, v in results["costs"].items():
        out.append(f"| {k} | {v} | {results['cost_sources'].get(k, '')} |")
    out += ["", f"Engine: `{results['tracker_config']}`", "", NOTES]
    for p in plots:
        out += [f"![{Path(p).stem}]({Path(p).name})", ""]
    return "\n".join(out)


def _audit_section(results: dict[str, Any]) -> list[str]:
    a = results.get("audit")
    if not a:
        return []
    cov = a["coverage"]
    cov_text = (
        f"{100 * cov:.1f}% over {a['coverage_runs']} seeded audits" if cov is not None else "n/a"
    )
    out = [
        "",
        f"## Audit (tracker_audited, target {100 * a['target']:g}%)",
        "",
        f"Audit checks {a['audit_checks']:,} ({a['audit_seconds']:,.0f} s); target met on "
        f"{a['met_sequences']}/{a['sequences']} sequences; 95% interval coverage "
        + cov_text
        + f" (at a fixed 40-sample round: {_pct(a['coverage_fixed_n'])} over "
        f"{a['coverage_fixed_n_runs']})"
        + f"; true residual (IoU<0.5, GT boxes) {_pct(a['true_residual'])}.",
        "",
        "| sequence | first round: checked / wrong | its estimate (95%) | its true value | "
        "final estimate (95%) | final true | coverage | coverage, 40 samples | rounds | met |",
        "|---|---:|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for name, r in a["per_sequence"].items():
        lo, hi = r["interval"] or (None, None)
        f = r["first_round"] or {}
        flo, fhi = f.get("interval") or (None, None)
        out.append(
            f"| {name} | {f.get('samples', 0)} / {f.get('wrong', 0)} | "
            f"{_pct(f.get('estimate'))} ({_pct(flo)}–{_pct(fhi)}) | "
            f"{_pct(f.get('true_residual'))} | {_pct(r['estimate'])} ({_pct(lo)}–{_pct(hi)}) | "
            f"{_pct(r['true_residual_audit_definition'])} | {_pct(r['coverage'])} | "
            f"{_pct(r['coverage_fixed_n'])} | {r['rounds']} | {'yes' if r['met'] else '**no**'} |"
        )
    return out


def _curves_section(results: dict[str, Any]) -> list[str]:
    curves = results.get("budget_curves") or {}
    if not curves:
        return []
    out = ["", "## Budget curves (all sequences)", "", "| strategy | knob | seconds | residual |"]
    out.append("|---|---|---:|---:|")
    for s, pts in curves.items():
        for p in pts:
            out.append(
                f"| {s} | {p['knob']} = {p['value']:g} | {p['seconds']:,.0f} s | "
                f"{_pct(p['residual_error_rate'])} |"
            )
    return out


def _plot_budget_curves(results: dict[str, Any], out_dir: Path) -> str | None:
    from matplotlib.figure import Figure

    curves = results.get("budget_curves") or {}
    if not curves:
        return None
    fig = Figure(figsize=(7.0, 4.8))
    ax = fig.subplots()
    for s, unsorted in curves.items():
        pts = sorted(unsorted, key=lambda p: p["seconds"])
        xs = [p["seconds"] for p in pts]
        ys = [100 * p["residual_error_rate"] for p in pts]
        ax.plot(xs, ys, "o-" if len(pts) > 1 else "o", label=s, markersize=4)
        for p in pts:
            ax.annotate(
                f"{p['knob'][:3]} {p['value']:g}",
                (p["seconds"], 100 * p["residual_error_rate"]),
                fontsize=6,
                textcoords="offset points",
                xytext=(3, 3),
            )
    ax.set_xscale("log")
    ax.set_xlabel("annotator seconds, all sequences (log)")
    ax.set_ylabel("residual error: unseen boxes IoU<0.5 (% of GT)")
    ax.set_title("Budget curves: residual error vs annotator time, by knob", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out_dir / "budget_curves.png"
    fig.savefig(path, dpi=110)
    return str(path)


def write_plots(results: dict[str, Any], out_dir: Path) -> list[str]:
    """``seconds_per_sequence.png`` and ``tradeoff.png``; returns the written paths."""
    import numpy as np
    from matplotlib.figure import Figure

    written: list[str] = []
    seqs = results["sequences"]
    names = list(seqs)
    strategies = [s for s in STRATEGIES if any(s in seqs[n] for n in names)]
    fig = Figure(figsize=(max(6.0, 1.1 * len(names) + 2), 4.5))
    ax = fig.subplots()
    width = 0.8 / max(1, len(strategies))
    x = np.arange(len(names))
    for i, s in enumerate(strategies):
        vals = [seqs[n][s]["seconds"] if s in seqs[n] else np.nan for n in names]
        ax.bar(x + (i - (len(strategies) - 1) / 2) * width, vals, width, label=s)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("annotator seconds (log)")
    ax.set_title(f"Annotator time per sequence (tau = {results['tau']})", pad=24)
    ax.legend(fontsize=8, ncol=len(strategies), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    path = out_dir / "seconds_per_sequence.png"
    fig.savefig(path, dpi=110)
    written.append(str(path))

    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    trade = results["tradeoff"]
    if trade:
        xs = [r["seconds"] for r in trade]
        ax.plot(xs, [100 * r["residual_error_rate"] for r in trade], "o-", label="IoU < 0.5")
        ax.plot(xs, [100 * r["residual_error_rate_tau"] for r in trade], "s--", label="IoU < tau")
        for r in trade:
            ax.annotate(
                f"flag<{r['flag_threshold']}",
                (r["seconds"], 100 * r["residual_error_rate"]),
                fontsize=7,
                textcoords="offset points",
                xytext=(4, 4),
            )
    refs = (("per_frame", "v", 6), ("interpolation", "D", 6), ("tracker_oracle", "^", -14))
    for s, marker, dy in refs:
        if s in results["summary"]:
            r = results["summary"][s]
            ax.plot([r["seconds"]], [100 * r["residual_error_rate"]], marker, color="grey")
            ax.annotate(
                s,
                (r["seconds"], 100 * r["residual_error_rate"]),
                fontsize=7,
                textcoords="offset points",
                xytext=(4, dy),
            )
    ax.set_xscale("log")
    ax.set_xlabel("annotator seconds, all sequences (log)")
    ax.set_ylabel("residual error: unseen bad boxes (% of GT boxes)")
    ax.set_title(
        "Residual error vs annotator time (tracker_flagged by flag threshold;\n"
        "grey: strategies that review every box)",
        fontsize=10,
    )
    if trade:
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / "tradeoff.png"
    fig.savefig(path, dpi=110)
    written.append(str(path))
    curves = _plot_budget_curves(results, out_dir)
    if curves is not None:
        written.append(curves)
    return written


def write_report(results: dict[str, Any], out_dir: Path) -> Path:
    """Write the plots and ``report.md`` into ``out_dir``; returns the report's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = write_plots(results, out_dir)
    path = out_dir / "report.md"
    path.write_text(render_markdown(results, plots) + "\n", encoding="utf-8")
    return path
