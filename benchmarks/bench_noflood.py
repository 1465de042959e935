"""What an annotator faces after "Track all" on vtest.avi: flags, stretches, proposals.

The app's own path, headless: a project on ``vtest.avi`` with the three walkers of
``docs/make_screenshot.py`` drawn on frame 0 (manual keyframes, the project's default
label), then "Track all" as the GUI's controller starts it: :func:`app.jobs.prepare_job`
with a :class:`~tracker_annotate.app.jobs.TrackRequest` whose after-run pass is
:func:`tracker_annotate.app.detector_pass.detector_pass` (the shipped detector, the
Preferences' defaults), run like the worker runs it, and applied by
:meth:`~tracker_annotate.app.jobs.TrackingJobs.apply` as one undo step.

Reported:

* the review queue (:func:`tracker_annotate.core.review.flag_segments`: the "N left" of the
  review panel, ``status`` and F), and every flagged unverified box in the project, the
  queue's old definition (proposals included);
* the proposed objects (:func:`tracker_annotate.core.proposals.proposal_queue`), their
  labels and detector scores, and the flagged boxes on their tracks;
* per track: boxes, flagged boxes, the lowest and median confidence, the flag reasons.

Usage::

    python benchmarks/bench_noflood.py [--out benchmarks/results/noflood.md] [--save P]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from tracker_annotate.app.detector_pass import DetectorFinds, detector_pass
from tracker_annotate.app.jobs import TrackingJobs, TrackRequest, prepare_job
from tracker_annotate.app.pipeline import media_ref_for
from tracker_annotate.core import commands, review
from tracker_annotate.core import proposals as props
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import Project
from tracker_annotate.io.media import open_media
from tracker_annotate.tracking.api import CancelToken, TrackerConfig, TrackingRun
from tracker_annotate.tracking.detector import DEFAULT_CLASSES, DetectorConfig, shipped_detector
from tracker_annotate.tracking.proposals import ProposalConfig

REPO = Path(__file__).resolve().parent.parent
#: ../shared beside the repository (a worktree one level deeper finds it one more up)
SHARED = next(
    (p / "shared" for p in (REPO.parent, REPO.parent.parent) if (p / "shared").is_dir()),
    REPO.parent / "shared",
)
VIDEO = SHARED / "data" / "videos" / "vtest.avi"
#: the three pedestrians on frame 0 of vtest.avi (x1, y1, x2, y2), as docs/make_screenshot.py
PEDESTRIANS = [(250, 217, 286, 310), (496, 154, 532, 235), (636, 237, 688, 324)]


def run(video: Path, every: int | None = None) -> tuple[Project, DetectorFinds | None, float]:
    """The project after Track all, the detector pass's finds, and the wall time. The
    detector and the pass are set up as the app's ``DetectFlow`` does with the default
    Preferences (classes ``DEFAULT_CLASSES``, ``ProposalConfig().min_score``). ``every``
    fixes the new-object schedule (the app picks it from the run's measured time, so on a
    loaded machine two runs differ)."""
    source = open_media(video)
    project = Project(media_ref_for(source, video))
    for xyxy in PEDESTRIANS:
        commands.add_track(project, 0, BoxXYXY(*map(float, xyxy)))
    pcfg = ProposalConfig(every=every)
    dcfg = DetectorConfig(score_threshold=min(0.25, pcfg.min_score), classes=DEFAULT_CLASSES)
    detector = shipped_detector(dcfg)

    def after(
        snap: Project, src: FrameSource, r: TrackingRun, cfg: TrackerConfig
    ) -> DetectorFinds | None:
        return detector_pass(snap, src, r, detector, proposal_config=pcfg, tracker_config=cfg)

    t0 = time.perf_counter()
    job = prepare_job(project, source, TrackerConfig(), TrackRequest(None, after_run=after))
    tracking_run = job(lambda _d, _n: None, CancelToken(), lambda _t, _b: None)
    TrackingJobs().apply(project, job, tracking_run)
    source.close()
    finds = job.after if isinstance(job.after, DetectorFinds) else None
    return project, finds, time.perf_counter() - t0


def _raw_flags(project: Project, tids: list[int]) -> int:
    return sum(1 for t in tids for b in project.boxes(t).values() if b.flagged and not b.verified)


def report(project: Project, finds: DetectorFinds | None, seconds: float) -> list[str]:
    tids = sorted(project.tracks)
    segs = review.flag_segments(project)
    proposed = [t for t in tids if project.tracks[t].proposed]
    hop = review.flag_hop(project, 0, None)
    queue = getattr(props, "proposal_queue", None)
    lines = [
        f'- review queue ("N left", status, F): **{sum(s.length for s in segs)} flagged boxes '
        f"in {len(segs)} stretches**",
        f"- every flagged unverified box in the project (proposals included): "
        f"{_raw_flags(project, tids)}",
        f"- proposed objects: **{len(proposed)}**"
        + (f" (queue: {len(queue(project))})" if queue is not None else "")
        + f", labels {dict(Counter(project.tracks[t].label for t in proposed))}; flagged boxes "
        f"on their tracks: {_raw_flags(project, proposed)}",
        "- first F from frame 0: "
        + (
            f"frame {hop.frame}, track {hop.track_id}"
            + (" (a proposal)" if project.tracks[hop.track_id].proposed else " (drawn)")
            if hop is not None
            else "no flag"
        ),
        f"- detector pass: {finds.note.lstrip('; ') if finds is not None else 'none'}",
        f"- wall time (track + detector pass + apply): {seconds:.0f} s",
        "",
        "| track | label | proposed | score | boxes | flagged | min conf | median conf "
        "| reasons (flagged boxes) |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for t in tids:
        info = project.tracks[t]
        boxes = [b for b in project.boxes(t).values() if not b.outside]
        if not boxes:
            continue
        conf = np.array([b.confidence for b in boxes])
        reasons = Counter(b.flag_reason for b in boxes if b.flagged and not b.verified)
        first = min(project.boxes(t).values(), key=lambda b: b.frame)
        score = f"{first.confidence:.2f}" if info.proposed else ""
        lines.append(
            f"| {t} | {info.label} | {'yes' if info.proposed else ''} | {score} | {len(boxes)} "
            f"| {sum(reasons.values())} | {conf.min():.2f} | {np.median(conf):.2f} | "
            + "; ".join(f"{r or '(none)'} ({n})" for r, n in reasons.most_common(3))
            + " |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, default=VIDEO)
    ap.add_argument("--out", type=Path, help="append the report to this markdown file")
    ap.add_argument("--title", default="vtest.avi, three walkers, Track all")
    ap.add_argument("--save", type=Path, help="also save the project here (.taproj)")
    ap.add_argument("--every", type=int, help="fix the new-object schedule (frames)")
    args = ap.parse_args(argv)
    project, finds, seconds = run(args.video, args.every)
    lines = [f"## {args.title}", "", *report(project, finds, seconds), ""]
    text = "\n".join(lines)
    print(text)
    if args.save:
        from tracker_annotate.io.store import ProjectStore

        with ProjectStore.create(args.save, project, overwrite=True) as store:
            store.flush()
    if args.out:
        cmd = "python benchmarks/" + Path(__file__).name + " " + shlex.join(sys.argv[1:])
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write(text + f"\nCommand: `{cmd.strip()}`\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
