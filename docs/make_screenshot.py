"""Reproduce docs/screenshot.png: the real app on a real video, mid-review, under Xvfb.

What it does, as a user would, through the X server (xdotool sends real pointer and key
events to the real xcb window; the only direct calls are the ones
``tracker-annotate gui PATH`` makes, ``open_path``, and ``close()`` for the close button):

1. opens ``vtest.avi`` (OpenCV's pedestrian sample) from a scratch folder holding a
   symlink to it (the project file is created beside the symlink, so ``../shared``
   stays untouched);
2. drags a box around each of the three pedestrians on frame 0;
3. presses T (Track all), changes its mind: Esc cancels, Ctrl+Z drops the partial run
   (when the status bar offers it); T again, and waits for the background run to end;
4. walks the flags: F goes to the first flagged box, Enter accepts it, the next one is
   fixed by dragging it (a keyframe, re-tracked), Shift+Enter accepts a whole flagged
   stretch, Enter a few more; it stops there, so the review panel still has work, and
   hovers the selected flagged box so its reason shows;
5. grabs the window with its title bar from the X server (``import``), cropped and
   quantised to 256 colours, into ``docs/screenshot.png``.

``--walk-to-end`` then accepts stretch after stretch (Shift+Enter) until the counter
says nothing is left; ``--close-mid-tracking`` starts a run, closes the window mid-run,
reopens the video and checks frame, selection, zoom and box count came back.

Needs: ``apt-get install -y xvfb xdotool imagemagick openbox`` plus Qt's xcb libraries
(see the README). Run from the repository root:

    .venv/bin/python docs/make_screenshot.py            # starts its own Xvfb on :99
    .venv/bin/python docs/make_screenshot.py --display :0 --keep-open   # watch it live

With ``--log`` it prints each step and the model state it led to (the check that the
gestures landed, read from the model after the fact).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VIDEO = REPO.parent / "shared" / "data" / "videos" / "vtest.avi"

# the three pedestrians on frame 0 of vtest.avi (image pixels, x1, y1, x2, y2), by eye
PEDESTRIANS = [(250, 217, 286, 310), (496, 154, 532, 235), (636, 237, 688, 324)]


def start_xvfb(display: str, size: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(50):
        probe = subprocess.run(["xdotool", "getdisplaygeometry"], check=False, capture_output=True)
        if probe.returncode == 0:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"Xvfb did not start on {display}")


def run_scenario(media: Path, args: argparse.Namespace) -> int:
    from PyQt6.QtCore import QPointF
    from PyQt6.QtWidgets import QApplication

    from tracker_annotate.gui import errors
    from tracker_annotate.gui.app import make_app
    from tracker_annotate.gui.main_window import MainWindow

    app = make_app()
    errors.install_excepthook()
    win = MainWindow()
    win.restore_layout()
    w, h = (int(v) for v in args.size.split("x"))
    win.resize(w, h)
    win.move(0, 0)
    win.show()

    def pump(seconds: float = 0.15) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    def xdo(*cmd: str) -> None:
        """Run xdotool while the event loop keeps turning (the X events come back to us)."""
        proc = subprocess.Popen(["xdotool", *cmd])
        while proc.poll() is None:
            app.processEvents()
            time.sleep(0.005)
        if proc.returncode != 0:
            raise SystemExit(f"xdotool {' '.join(cmd)} failed")
        pump()

    def log(step: str) -> None:
        if not args.log:
            return
        doc = win.doc
        state = ""
        if doc is not None:
            s, p = doc.session, doc.project
            boxes = sum(len(p.boxes(t)) for t in p.tracks)
            state = (
                f"frame {s.frame} selected {s.selected} tracks {len(p.tracks)} boxes {boxes} "
                f"review '{win.review.counter.text()}'"
            )
        print(f"{step:<34} {state} | title '{win.windowTitle()}'", flush=True)  # noqa: T201

    def screen_xy(x: float, y: float) -> tuple[str, str]:
        c = win.canvas
        vp = c.viewport()
        assert vp is not None
        g = vp.mapToGlobal(c.mapFromScene(QPointF(x, y)))
        return str(g.x()), str(g.y())

    def drag(a: tuple[float, float], b: tuple[float, float]) -> None:
        xdo("mousemove", "--sync", *screen_xy(*a), "mousedown", "1")
        for i in range(1, 6):
            t = i / 5
            xdo(
                "mousemove",
                "--sync",
                *screen_xy(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t),
            )
        xdo("mouseup", "1")

    def key(*names: str) -> None:
        for k in names:
            xdo("key", "--delay", "60", k)

    def wait_idle() -> None:
        while win.controller.busy:
            pump(0.2)
        pump(0.3)

    def model() -> tuple[Any, Any]:
        doc = win.doc
        assert doc is not None
        return doc.project, doc.session

    pump(1.0)
    wid = str(int(win.winId()))
    xdo("windowactivate", "--sync", wid) if not args.no_wm else xdo("windowfocus", wid)
    # what `tracker-annotate gui PATH` does once the window is up
    if not win.open_path(str(media)):
        raise SystemExit(f"could not open {media}")
    pump(1.0)
    log("opened")
    for x1, y1, x2, y2 in PEDESTRIANS:
        drag((x1, y1), (x2, y2))
        log(f"drew ({x1},{y1})-({x2},{y2})")
    xdo("mousemove", *screen_xy(380, 500))  # off the boxes: no tooltip over the image
    # a user who changes their mind: start tracking, cancel it, start again
    key("t")
    pump(3.0)
    log("T pressed, running")
    key("Escape")
    wait_idle()
    said = win.statusBar().currentMessage()  # type: ignore[union-attr]
    log(f"Esc: '{said[:70]}'")
    if "Ctrl+Z" in said:
        key("ctrl+z")  # drop the partial run, as the status bar offers; the boxes stay
        log("Ctrl+Z")
    key("t")
    wait_idle()
    log("T pressed again, finished")
    key("f")
    log("F (first flag)")
    key("Return")
    log("Enter (accept)")
    # fix the next flagged box instead of accepting it: drag it onto the object
    p, s = model()
    box = p.box(s.selected, s.frame) if s.selected is not None else None
    if box is not None:
        cx, cy = box.xyxy.center
        drag((cx, cy), (cx + 3, cy + 2))
        wait_idle()
        log("dragged (fix, re-tracked)")
    key("f")
    log("F")
    key("shift+Return")
    log("Shift+Enter (accept stretch)")
    for _ in range(args.accept):
        key("Return")
        log("Enter (accept)")
    # hover the selected (flagged) box so its reason shows, as it would for a user
    p, s = model()
    if s.selected is not None and (box := p.box(s.selected, s.frame)) is not None:
        x1, y1, x2, y2 = box.xyxy.as_tuple()
        xdo("mousemove", *screen_xy((x1 + x2) / 2, y2 - 3))
        pump(1.5)
    log("screenshot")
    geo = win.frameGeometry()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    full = args.out.with_suffix(".full.png")
    subprocess.run(["import", "-window", "root", str(full)], check=True)
    subprocess.run(
        [
            "convert",
            str(full),
            "-crop",
            f"{geo.width()}x{geo.height()}+{max(0, geo.x())}+{max(0, geo.y())}",
            "+repage",
            "-strip",
            *(["-dither", "None", "-colors", str(args.colors)] if args.colors else []),
            "-define",
            "png:compression-level=9",
            str(args.out),
        ],
        check=True,
    )
    full.unlink()
    kb = args.out.stat().st_size // 1024
    print(f"wrote {args.out} ({kb} KB, {geo.width()}x{geo.height()})")  # noqa: T201
    if args.walk_to_end:
        # the rest of the walk, stretch by stretch (a real annotator would play each first)
        xdo("mousemove", *screen_xy(380, 500))
        presses = 0
        while win.review.items and presses < 2000:
            key("shift+Return")
            presses += 1
            if not win.review.items:
                break
            p, s = model()
            here = s.selected is not None and p.box(s.selected, s.frame)
            if not (here and here.flagged and not here.verified):
                key("f")  # auto-advance found nothing after this one: go on from here
        log(f"walked to the end: {presses} x Shift+Enter")
    if args.close_mid_tracking:
        # zoom in twice with the wheel about the selected box, so the view is not "fit"
        p, s = model()
        if s.selected is not None and (box := p.box(s.selected, s.frame)) is not None:
            xdo("mousemove", *screen_xy(*box.xyxy.center))
        xdo("click", "4")
        xdo("click", "4")
        p, s = model()
        frame, selected, zoom = s.frame, s.selected, s.view.zoom
        n_boxes = sum(len(p.boxes(t)) for t in p.tracks)
        key("t")
        pump(1.0)
        busy = win.controller.busy
        win.close()  # what the window's close button does
        pump(0.5)
        win = MainWindow()
        win.resize(w, h)
        win.show()
        win.open_path(str(media))
        pump(1.0)
        p, s = model()
        got = (s.frame, s.selected, s.view.zoom and round(s.view.zoom, 4))
        want = (frame, selected, zoom and round(zoom, 4))
        n_after = sum(len(p.boxes(t)) for t in p.tracks)
        log(f"closed {'mid-tracking' if busy else 'idle'}, reopened")
        ok = got == want and n_after == n_boxes
        print(  # noqa: T201
            f"reopen: frame/selection/zoom {got} (was {want}), boxes {n_after} "
            f"(was {n_boxes}): {'OK' if ok else 'MISMATCH'}"
        )
    if args.keep_open:
        app.exec()
    win.close()
    QApplication.processEvents()
    if args.keep_project is not None:
        shutil.copy(media.with_suffix(".taproj"), args.keep_project)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, default=VIDEO)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    ap.add_argument("--display", default=None, help="use this X display (default: own Xvfb)")
    ap.add_argument("--size", default="1600x1000", help="window size")
    ap.add_argument("--accept", type=int, default=6, help="flags to accept before the shot")
    ap.add_argument("--no-wm", action="store_true", help="do not start openbox (no title bar)")
    ap.add_argument("--keep-open", action="store_true", help="leave the window open")
    ap.add_argument("--log", action="store_true", help="print each step and the model state")
    ap.add_argument("--colors", type=int, default=256, help="quantise the PNG (0: keep all)")
    ap.add_argument("--walk-to-end", action="store_true", help="then accept every stretch")
    ap.add_argument(
        "--close-mid-tracking", action="store_true", help="then close mid-run and reopen"
    )
    ap.add_argument("--keep-project", type=Path, default=None, help="copy the project here")
    args = ap.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="ta_screenshot_"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if args.display is None:
            os.environ["DISPLAY"] = ":99"
            procs.append(start_xvfb(":99", "1920x1200"))
        else:
            os.environ["DISPLAY"] = args.display
        if not args.no_wm and shutil.which("openbox"):
            procs.append(
                subprocess.Popen(["openbox"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
            time.sleep(1.0)
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        # fresh preferences and recent files: what a new user sees
        os.environ["XDG_CONFIG_HOME"] = str(scratch / "config")
        media = scratch / args.video.name
        media.symlink_to(args.video.resolve())
        return run_scenario(media, args)
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
