"""A scripted annotation session through the real window, checked against the report.

The real app runs on Qt's xcb platform under Xvfb; xdotool sends real pointer and key
events to it, as ``docs/make_screenshot.py`` does. The script keeps its own clock. It
draws two boxes, then (after what a tracking run leaves: tracked boxes with six flags,
installed through the model so the flags are where the script expects them) accepts a
flag, accepts a flagged stretch, fixes a box by dragging it, rejects one, marks the
object outside, and pauses without input for longer than the idle threshold before one of
them (then touches the mouse, as someone back at the desk does). Between actions it waits
a seeded 1.5-4.5 s, as an annotator looking would. Going to a frame is done through the
model (navigation is not a recorded action).

Then it closes the project and runs ``report`` on it, and checks

* the counts exactly: the actions by kind, and the result's boxes drawn, corrected and
  accepted (and the rest);
* each action's recorded duration against the script's own time between the same two
  actions, within 10%, and the idle spell recorded and not counted as work.

Needs ``apt-get install -y xvfb xdotool`` plus Qt's xcb libraries (see the README). From
the repository root:

    .venv/bin/python docs/scripted_session.py            # its own Xvfb on :97
    .venv/bin/python docs/scripted_session.py --out docs/scripted_session.md
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FLAGGED = (5, 9, 10, 11, 14, 17)
W, H, N = 640, 480, 40


def object_xyxy(frame: int) -> tuple[int, int, int, int]:
    x = 80 + 5 * frame
    return (x, 160, x + 100, 280)


def write_video(path: Path) -> Path:
    import cv2
    import numpy as np

    rng = np.random.default_rng(7)
    bg = cv2.GaussianBlur(rng.integers(0, 120, (H, W, 3), dtype=np.uint8), (0, 0), 3)
    tex = rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (W, H))
    for f in range(N):
        img = bg.copy()
        x1, y1, x2, y2 = object_xyxy(f)
        img[y1:y2, x1:x2] = tex
        out.write(img)
    out.release()
    return path


def start_xvfb(display: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        ok = subprocess.run(["xdotool", "getdisplaygeometry"], check=False, capture_output=True)
        if ok.returncode == 0:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"Xvfb did not start on {display}")


def run(media: Path, args: argparse.Namespace) -> dict[str, Any]:
    from PyQt6.QtCore import QPointF, QSettings

    from tracker_annotate.app import report
    from tracker_annotate.app.worklog import IDLE_AFTER_S
    from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
    from tracker_annotate.gui.app import make_app
    from tracker_annotate.gui.main_window import MainWindow
    from tracker_annotate.gui.preferences import Preferences

    app = make_app()
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(media.parent / "settings"))
    win = MainWindow(Preferences(auto_retrack=False, annotator="script"))
    win.resize(1400, 900)
    win.move(0, 0)
    win.show()
    rng = random.Random(args.seed)

    def pump(seconds: float = 0.05) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    def xdo(*cmd: str) -> None:
        proc = subprocess.Popen(["xdotool", *cmd])
        while proc.poll() is None:
            app.processEvents()
            time.sleep(0.002)
        if proc.returncode != 0:
            raise SystemExit(f"xdotool {' '.join(cmd)} failed")
        app.processEvents()

    def screen_xy(x: float, y: float) -> tuple[str, str]:
        vp = win.canvas.viewport()
        assert vp is not None
        g = vp.mapToGlobal(win.canvas.mapFromScene(QPointF(x, y)))
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

    pump(1.0)
    xdo("windowfocus", str(int(win.winId())))
    if not win.open_path(str(media)):
        raise SystemExit(f"could not open {media}")
    doc = win.doc
    assert doc is not None and win.work.recorder is not None
    p, s, path = doc.project, doc.session, doc.path
    done: list[tuple[str, float]] = []  # (kind, script time when its effect was seen)
    t_start = time.monotonic()

    def wait(seconds: float) -> None:
        pump(seconds)

    def act(kind: str, do: Any, check: Any) -> None:
        wait(rng.uniform(1.5, 4.5))
        do()
        deadline = time.monotonic() + 5
        while not check() and time.monotonic() < deadline:
            app.processEvents()
        if not check():
            raise SystemExit(f"{kind}: the gesture did not land")
        done.append((kind, time.monotonic()))

    n_tracks = len(p.tracks)
    act("draw", lambda: drag(*_corners(object_xyxy(0))), lambda: len(p.tracks) == n_tracks + 1)
    tid = s.selected
    assert tid is not None
    act("draw", lambda: drag((420, 40), (500, 120)), lambda: len(p.tracks) == n_tracks + 2)
    with p.edit("Track") as tx:  # what a tracking run leaves (not an action)
        for f in range(1, 20):
            fl = f in FLAGGED
            box = FrameBox(
                f,
                BoxXYXY(*object_xyxy(f)),
                BoxSource.TRACKED,
                0.3 if fl else 0.9,
                flagged=fl,
                flag_reason="drift" if fl else "",
            )
            tx.set_box(tid, box)

    def at(frame: int) -> None:
        s.go_to(frame, tid)
        win.canvas.show_frame(frame)
        app.processEvents()

    def box(frame: int) -> Any:
        return p.box(tid, frame)

    at(5)
    act("accept", lambda: xdo("key", "Return"), lambda: box(5).verified)
    at(10)
    act("stretch", lambda: xdo("key", "shift+Return"), lambda: box(9).verified and box(11).verified)
    at(14)
    b14 = box(14).xyxy
    act(
        "adjust",
        lambda: drag((b14.x1 + 20, b14.y1 + 20), (b14.x1 + 26, b14.y1 + 20)),
        lambda: box(14).source is BoxSource.MANUAL,
    )
    at(17)
    idle = IDLE_AFTER_S + 5
    idle_from = time.monotonic()
    wait(idle)  # the annotator leaves the desk: no input at all
    xdo("mousemove", *screen_xy(300, 60))  # back: the mouse is touched
    idle_until = time.monotonic()
    idle = idle_until - idle_from
    act("reject", lambda: xdo("key", "Delete"), lambda: box(17) is None)
    at(19)
    act("outside", lambda: xdo("key", "o"), lambda: box(19) is not None and box(19).outside)
    win.close_document()
    win.close()
    app.processEvents()

    fig = report.read_project(path)
    log = fig.log
    kinds = log.kind_names()
    work = [(k, float(d)) for k, d in zip(kinds, log.duration_s, strict=True) if k != "idle"]
    script = []
    prev = t_start
    for kind, t in done:
        # the idle spell ends at the first input after it (the mouse touched): the action's
        # time starts there
        start = idle_until if kind == "reject" else prev
        script.append((kind, t - start))
        prev = t
    rows = []
    for (k1, rec), (k2, mine) in zip(work, script, strict=True):
        rows.append((k1, k2, rec, mine, abs(rec - mine) / mine))
    idle_rec = [float(d) for k, d in zip(kinds, log.duration_s, strict=True) if k == "idle"]
    want_boxes = {
        "drawn": 2,
        "corrected": 1,
        "tracked_accepted": 1 + 3,
        "tracked_unseen": 18 - len(FLAGGED),
        "proposed_accepted": 0,
        "imported": 0,
        "flags_left": 0,
    }
    want_actions = {"draw": 2, "accept": 1, "stretch": 1, "adjust": 1, "reject": 1, "outside": 1}
    got_actions = {k: v for k, v in fig.work.actions.items() if k != "idle"}
    return {
        "rows": rows,
        "idle_recorded": idle_rec,
        "idle_script": idle,
        "boxes": fig.boxes,
        "boxes_ok": fig.boxes == want_boxes,
        "actions": got_actions,
        "actions_ok": got_actions == want_actions,
        "times_ok": all(r[0] == r[1] and r[4] <= 0.10 for r in rows),
        "idle_ok": len(idle_rec) == 1 and abs(idle_rec[0] - idle) / idle <= 0.10,
        "worked": fig.work.time_worked_s,
        "script_worked": sum(m for _, m in script),
    }


def _corners(xyxy: tuple[int, int, int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    return (xyxy[0], xyxy[1]), (xyxy[2], xyxy[3])


def render(res: dict[str, Any], cmd: str) -> str:
    ok = res["boxes_ok"] and res["actions_ok"] and res["times_ok"] and res["idle_ok"]
    lines = [
        "# Scripted session through the real window vs `report`",
        "",
        f"Command: `{cmd}`",
        "",
        f"**{'PASS' if ok else 'FAIL'}**: counts exact: actions {res['actions_ok']}, boxes "
        f"{res['boxes_ok']}; every action's time within 10%: {res['times_ok']}; the idle "
        f"spell recorded and not counted: {res['idle_ok']}.",
        "",
        "| action (record) | action (script) | recorded s | script s | difference |",
        "|---|---|---:|---:|---:|",
    ]
    for k1, k2, rec, mine, rel in res["rows"]:
        lines.append(f"| {k1} | {k2} | {rec:.3f} | {mine:.3f} | {100 * rel:.1f}% |")
    lines += [
        "",
        f"Idle: recorded {', '.join(f'{x:.2f} s' for x in res['idle_recorded'])}, the "
        f"script paused {res['idle_script']:.1f} s without input. Time worked: recorded "
        f"{res['worked']:.2f} s, script {res['script_worked']:.2f} s.",
        "",
        f"Boxes in the result (report): {res['boxes']}",
        "",
        f"Actions (report): {res['actions']}",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--display", default=None, help="use this X display (default: own Xvfb)")
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None, help="write the result (markdown)")
    args = ap.parse_args()
    procs = []
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    if args.display is None:
        os.environ["DISPLAY"] = ":97"
        procs.append(start_xvfb(":97"))
    else:
        os.environ["DISPLAY"] = args.display
    try:
        scratch = Path(tempfile.mkdtemp(prefix="ta_session_"))
        res = run(write_video(scratch / "clip.avi"), args)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    text = render(res, "python docs/scripted_session.py " + " ".join(sys.argv[1:]))
    print(text)  # noqa: T201
    if args.out is not None:
        args.out.write_text(text)
    ok = res["boxes_ok"] and res["actions_ok"] and res["times_ok"] and res["idle_ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
