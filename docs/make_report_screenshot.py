"""Reproduce docs/report.png: the HTML report of a simulated pilot, in headless Chromium.

Builds three projects in a scratch folder and records a session on each through the real
recorder (:class:`~tracker_annotate.app.worklog.WorkRecorder`, its clock advanced by
seeded log-normal action times instead of waiting), with every edit made by the core
commands the app's gestures call: the first box of each track drawn, what a tracking run
leaves (tracked boxes, the uncertain ones flagged), then each flag accepted, corrected,
rejected or accepted with its stretch, a few playbacks, a coffee break; an audit round on
the last project. Then ``tracker-annotate report DIR --html`` and Chromium's screenshot.

Needs the ``[bench]`` extra and ``apt-get install -y chromium``. From the repository root:

    .venv/bin/python docs/make_report_screenshot.py
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tracker_annotate.app.worklog import WorkRecorder  # noqa: E402
from tracker_annotate.cli.main import main as cli  # noqa: E402
from tracker_annotate.core import audit, commands, review  # noqa: E402
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox  # noqa: E402
from tracker_annotate.core.project import MediaRef, Project  # noqa: E402
from tracker_annotate.io.store import ProjectStore  # noqa: E402


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def simulate(path: Path, annotator: str, seed: int, start: float, with_audit: bool) -> None:
    rng = random.Random(seed)
    n_frames, n_tracks = 300, 4
    p = Project(MediaRef(f"{path.stem}.mp4", n_frames, 1280, 720))
    c = Clock(0.0)
    with ProjectStore.create(path, p) as store:
        p = store.project
        rec = WorkRecorder(store, annotator, clock=c, wall=lambda: start + c.t)

        def spend(median: float, spread: float = 0.45) -> None:
            c.t += median * rng.lognormvariate(0.0, spread)

        tids = []
        for k in range(n_tracks):
            first = rng.randrange(0, 60)
            x = 100 + 250 * k
            spend(7.5)
            tid = commands.add_track(p, first, BoxXYXY(x, 200, x + 80, 400))
            rec.note("draw", tid, first)
            tids.append((tid, first, x))
        flags_before = 0
        with p.edit("Track all") as tx:
            for tid, first, x in tids:
                last = rng.randrange(200, n_frames)
                drift = 0.0
                for f in range(first + 1, last):
                    drift += rng.gauss(0, 0.02)
                    conf = min(0.999, max(0.02, 0.93 - abs(drift) + rng.gauss(0, 0.05)))
                    flagged = conf < 0.6
                    xx = x + 0.8 * (f - first)
                    tx.set_box(
                        tid,
                        FrameBox(
                            f,
                            BoxXYXY(xx, 200, xx + 80, 400),
                            BoxSource.TRACKED,
                            conf,
                            flagged=flagged,
                            flag_reason="low confidence" if flagged else "",
                        ),
                    )
                    flags_before += flagged
        c.t += 20.0
        rec.note_run(18.0, sum(len(p.boxes(t)) for t, _, _ in tids), flags_before)
        spend(4.0)
        while True:
            hop = review.flag_hop(p, 0, None)
            if hop is None:
                break
            tid, f = hop.track_id, hop.frame
            box = p.box(tid, f)
            assert box is not None
            r = rng.random()
            if rng.random() < 0.08:
                spend(6.0)
                rec.watch_started()
                rec.watch_stopped(n_boxes=60)
            if rng.random() < 0.01:
                c.t += 600.0  # a coffee break: no input
                rec.activity()
            if r < 0.55:
                spend(1.8)
                commands.accept_box(p, tid, f)
                rec.note("accept", tid, f, box=box)
            elif r < 0.75:
                spend(3.5)
                done = review.accept_stretch(p, tid, f)
                n = done.count if done is not None else 1
                rec.note("stretch", tid, f, box=box, n_boxes=n, flags_delta=-n)
            elif r < 0.95:
                spend(5.5)
                xy = box.xyxy
                commands.set_box_geometry(p, tid, f, BoxXYXY(xy.x1 + 3, xy.y1, xy.x2 + 3, xy.y2))
                rec.note("adjust", tid, f, box=box)
            else:
                spend(2.0)
                commands.delete_box(p, tid, f)
                rec.note("reject", tid, f, box=box)
        if with_audit:
            rnd = audit.start_audit(p, seed=seed, n=24)
            for s in rnd.samples:
                b = p.box(s.track_id, s.frame)
                spend(2.4)
                outcome = "wrong" if rng.random() < 0.06 else "ok"
                audit.record_outcome(p, s.track_id, s.frame, outcome)  # type: ignore[arg-type]
                rec.note("audit", s.track_id, s.frame, box=b, subject="sample", outcome=outcome)  # type: ignore[arg-type]
        rec.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "report.png")
    ap.add_argument("--html", type=Path, default=None, help="also keep the HTML here")
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="ta_report_shot_"))
    try:
        day = 1.8e9
        simulate(scratch / "street-01.taproj", "ana", 1, day, False)
        simulate(scratch / "street-02.taproj", "ana", 2, day + 3 * 3600, False)
        simulate(scratch / "parking-01.taproj", "ben", 3, day + 3600, True)
        html = scratch / "report.html"
        if cli(["report", str(scratch), "--html", str(html)]) != 0:
            return 1
        if args.html is not None:
            shutil.copy(html, args.html)
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            raise SystemExit("chromium not found: apt-get install -y chromium")
        full = scratch / "shot.png"
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1200,1640",
                f"--screenshot={full}",
                html.as_uri(),
            ],
            check=True,
            capture_output=True,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(full, args.out)
        print(f"wrote {args.out}")  # noqa: T201
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
