"""GUI responsiveness: time to first frame, next-frame step and random seek to pixels on
screen, and memory against the frame-cache budget.

Runs the real main window offscreen (``QT_QPA_PLATFORM=offscreen``: Qt's raster engine
paints into a backing store exactly as on screen, minus the compositor). "To pixels" means
the model step plus a synchronous repaint of the canvas viewport and the timeline.

    python benchmarks/bench_gui.py                      # TLP-CarChase2 + generated 1080p
    python benchmarks/bench_gui.py --frames 1800 --out benchmarks/results/gui.md

Targets (from the product brief): step p95 <= 33 ms, random seek <= 300 ms, first frame
of a long video <= 2 s, memory within the cache budget.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.project import TrackInfo

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def make_1080p(path: Path, n: int) -> Path:
    """A synthetic 1920x1080 MPEG-4 video: textured background, moving blocks, frame number."""
    if path.exists():
        return path
    rng = np.random.default_rng(1)
    bg = cv2.resize(rng.integers(0, 255, (135, 240, 3), dtype=np.uint8), (1920, 1080))
    tmp = path.with_suffix(".tmp.mp4")
    out = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (1920, 1080))
    for f in range(n):
        img = bg.copy()
        for k in range(5):
            x = (200 + 7 * f + 300 * k) % 1700
            y = 150 + 170 * k
            cv2.rectangle(img, (x, y), (x + 160, y + 120), (40 * k, 255 - 40 * k, 128), -1)
        cv2.putText(img, str(f), (40, 80), cv2.FONT_HERSHEY_SIMPLEX, 2.5, (255, 255, 255), 4)
        out.write(img)
    out.release()
    tmp.rename(path)
    return path


def add_boxes(win: object, n_tracks: int = 5) -> None:
    """Tracks with a box on every frame, so each step also redraws boxes (realistic)."""
    doc = win.doc  # type: ignore[attr-defined]
    p, n = doc.project, doc.session.n_frames
    w, h = p.media.width, p.media.height
    with p.edit("bench boxes") as tx:
        for k in range(n_tracks):
            tid = tx.new_track_id()
            tx.set_track(TrackInfo(tid))
            for f in range(n):
                x = (50 + 3 * f + 200 * k) % (w - 200)
                src = BoxSource.MANUAL if f % 50 == 0 else BoxSource.TRACKED
                conf = 1.0 if src is BoxSource.MANUAL else 0.3 + 0.6 * ((f * 7 + k) % 10) / 10
                y = 20 + (h - 140) * k // max(1, n_tracks - 1)  # lanes of boxes, top to bottom
                box = FrameBox(
                    f,
                    BoxXYXY(x, y, x + 150, min(h - 1, y + 100)),
                    src,
                    conf,
                    flagged=conf < 0.5,
                )
                tx.set_box(tid, box)


def bench_window(cache_mb: int) -> tuple[Any, Any]:
    """The app and its main window, 1600 x 1000, shown (offscreen), no auto re-track."""
    from tracker_annotate.gui.app import make_app
    from tracker_annotate.gui.main_window import MainWindow
    from tracker_annotate.gui.preferences import Preferences

    app = make_app()
    win = MainWindow(Preferences(cache_mb=cache_mb, auto_retrack=False))
    win.resize(1600, 1000)
    win.show()
    app.processEvents()
    return app, win


def timed_steps(
    app: Any,
    session: Any,
    paint: Callable[[], None],
    start: int,
    count: int,
    step: int,
    pace: float = 0.0,
) -> list[float]:
    """Milliseconds of each of ``count`` steps by ``step`` from ``start`` (the model call
    and the repaint); with ``pace`` (ms) a step starts every ``pace`` ms (a held arrow key
    auto-repeats at ~30 Hz), else back to back."""
    session.seek(start)
    paint()
    out = []
    for _ in range(count):
        t = time.perf_counter()
        session.step(step)
        paint()
        out.append((time.perf_counter() - t) * 1000)
        app.processEvents()
        while (time.perf_counter() - t) * 1000 < pace:
            app.processEvents()
            time.sleep(0.001)
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def bench(
    media: str,
    label: str,
    cache_mb: int,
    steps: int,
    seeks: int,
    pace_ms: float,
    tracks: int = 10,
) -> dict[str, object]:

    app, win = bench_window(cache_mb)
    canvas_vp = win.canvas.viewport()
    assert canvas_vp is not None
    rss0 = rss_mb()

    def paint() -> None:
        canvas_vp.repaint()
        win.timeline.lanes.repaint()

    t0 = time.perf_counter()
    assert win.open_path(media), f"could not open {media}"
    paint()
    first_frame_s = time.perf_counter() - t0
    doc = win.doc
    assert doc is not None
    s = doc.session
    n = s.n_frames
    add_boxes(win, tracks)
    app.processEvents()
    rss1 = rss_mb()

    def steps_from(start: int, count: int, pace: float = 0.0) -> list[float]:
        return timed_steps(app, s, paint, start, min(count, n - 1 - start), +1, pace)

    # right after opening a new video its length is still being counted in the background
    scanning = doc.scan is not None and doc.scan.isRunning()
    during_scan_ms = steps_from(0, 50) if scanning else []
    if doc.scan is not None:
        doc.scan.wait()
        app.processEvents()
    step_ms = steps_from(n // 4, steps)
    paced_ms = steps_from(n // 2, steps, pace_ms)
    rng = random.Random(0)
    seek_ms: list[float] = []
    for _ in range(seeks):
        f = rng.randrange(n)
        t = time.perf_counter()
        s.seek(f)
        paint()
        seek_ms.append((time.perf_counter() - t) * 1000)
        app.processEvents()

    stats = doc.source.cache_stats() if doc.source is not None else None  # type: ignore[attr-defined]
    res: dict[str, object] = {
        "label": label,
        "size": f"{doc.project.media.width}x{doc.project.media.height}",  # type: ignore[union-attr]
        "frames": n,
        "first_frame_s": first_frame_s,
        "step_p50": statistics.median(step_ms),
        "step_p95": pct(step_ms, 95),
        "step_max": max(step_ms),
        "paced_p50": statistics.median(paced_ms),
        "paced_p95": pct(paced_ms, 95),
        "scan_step_p95": pct(during_scan_ms, 95) if during_scan_ms else float("nan"),
        "seek_p50": statistics.median(seek_ms),
        "seek_p95": pct(seek_ms, 95),
        "seek_max": max(seek_ms),
        "cache_peak_mb": (stats.peak_bytes / 2**20) if stats else float("nan"),
        "cache_budget_mb": cache_mb,
        "rss_growth_mb": rss_mb() - rss0,
        "rss_review_mb": rss_mb() - rss1,
    }
    win.close()
    app.processEvents()
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1800, help="length of the generated 1080p video")
    ap.add_argument("--steps", type=int, default=300, help="next-frame steps to time")
    ap.add_argument("--seeks", type=int, default=40, help="random seeks to time")
    ap.add_argument("--cache-mb", type=int, default=256, help="frame cache budget")
    ap.add_argument("--pace-ms", type=float, default=33.0, help="step interval, paced run")
    ap.add_argument("--tracks", type=int, default=10, help="tracks drawn, a box on every frame")
    ap.add_argument("--out", type=Path, default=None, help="write a Markdown report here")
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench_gui_"))
    rows = []
    try:
        seq = SHARED / "sequences" / "TLP-CarChase2"
        if seq.is_dir():
            # the project goes beside the media; use a symlinked copy so ../shared stays clean
            link = work / "TLP-CarChase2"
            link.symlink_to(seq, target_is_directory=True)
            rows.append(
                bench(
                    str(link),
                    "TLP-CarChase2 (JPEG folder)",
                    args.cache_mb,
                    args.steps,
                    args.seeks,
                    args.pace_ms,
                    args.tracks,
                )
            )
        t = time.perf_counter()
        video = make_1080p(work / "synthetic_1080p.mp4", args.frames)
        gen_s = time.perf_counter() - t
        rows.append(
            bench(
                str(video),
                f"generated 1080p MPEG-4, {args.frames} frames",
                args.cache_mb,
                args.steps,
                args.seeks,
                args.pace_ms,
                args.tracks,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    head = (
        "| media | size | frames | first frame (s) | step p50 / p95 / max (ms), back to back | "
        f"step p50 / p95 (ms), one every {args.pace_ms:.0f} ms | "
        "step p95 while the length scan runs (ms) | "
        "random seek p50 / p95 / max (ms) | cache peak / budget (MB) | "
        "RSS growth: total / while stepping and seeking (MB) |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['label']} | {r['size']} | {r['frames']} | {r['first_frame_s']:.2f} | "
        f"{r['step_p50']:.1f} / {r['step_p95']:.1f} / {r['step_max']:.1f} | "
        f"{r['paced_p50']:.1f} / {r['paced_p95']:.1f} | "
        f"{r['scan_step_p95']:.1f} | "
        f"{r['seek_p50']:.0f} / {r['seek_p95']:.0f} / {r['seek_max']:.0f} | "
        f"{r['cache_peak_mb']:.0f} / {r['cache_budget_mb']} | "
        f"{r['rss_growth_mb']:.0f} / {r['rss_review_mb']:.0f} |\n"
        for r in rows
    )
    cpu = platform.processor() or platform.machine()
    load_after = os.getloadavg()
    load = (
        f"Load average (1/5/15 min) {load_before[0]:.2f} / {load_before[1]:.2f} / "
        f"{load_before[2]:.2f} before, {load_after[0]:.2f} / {load_after[1]:.2f} / "
        f"{load_after[2]:.2f} after."
    )
    report = (
        "# GUI responsiveness\n\n"
        f"`python benchmarks/bench_gui.py --frames {args.frames} --steps {args.steps} "
        f"--seeks {args.seeks} --cache-mb {args.cache_mb} --pace-ms {args.pace_ms:g} "
        f"--tracks {args.tracks}` "
        f"on {cpu}, {os.cpu_count()} cores "
        f"(shared with other jobs), Python {platform.python_version()}, offscreen Qt. "
        f"Generating the 1080p video took {gen_s:.0f} s (not counted). {load}\n\n"
        "Targets: step p95 <= 33 ms, random seek <= 300 ms, first frame of a long video "
        "<= 2 s, cache within budget. Each step/seek includes the canvas and timeline "
        f"repaint with {args.tracks} tracks drawn.\n\n" + head + body
    )
    print(report)
    if args.out is not None:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
