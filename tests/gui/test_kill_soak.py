"""Kill -9 soak of the app's loop: edit -> re-track -> accept stretch -> undo.

``soak_child.py`` runs the loop on a copy of a tracked project, printing every commit; an
unkilled run gives the reference sequence of states. Each soak run is killed (SIGKILL) at
a random moment, or a few milliseconds after an edit's commit (the edit/re-track window),
and the file is checked for the three promises:

* every committed edit is present: the file holds the state of the last commit the child
  reported, or of the one after it (committed, killed before it printed), never an older
  one and never a mix;
* no stretch is stale without being flagged: every state between an edit and its
  re-track carries the stale mark, and opening the file flags that stretch;
* the file passes ``PRAGMA quick_check``.

``TA_SOAK_KILLS`` sets the number of kills (default 12, about a minute).
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.gui.conftest import object_xyxy, write_video
from tests.gui.soak_child import state_digest
from tracker_annotate.core import commands
from tracker_annotate.io.store import ProjectStore

pytestmark = [pytest.mark.gui, pytest.mark.soak]

KILLS = int(os.environ.get("TA_SOAK_KILLS", "12"))
CYCLES = 5
CHILD = Path(__file__).with_name("soak_child.py")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tracked two-object project on a real video (the state the loop starts from)."""
    from tracker_annotate.app.pipeline import track_file
    from tracker_annotate.tracking.api import TrackerConfig

    d = tmp_path_factory.mktemp("soak")
    video = write_video(d / "clip.avi")
    x1, y1, x2, y2 = object_xyxy(0)
    kf = d / "kf.txt"
    kf.write_text(f"1,1,{x1},{y1},{x2 - x1},{y2 - y1},1,1,1\n1,2,200,150,40,50,1,1,1\n")
    out = d / "template.taproj"
    track_file(video, kf, out, TrackerConfig(tracker="cascade", flag_threshold=0.8))
    return out


def _start(project: Path, seed: int) -> tuple[subprocess.Popen[str], queue.Queue[tuple]]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
    env["XDG_CONFIG_HOME"] = str(project.parent / "cfg")
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(project), str(seed), str(CYCLES)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[tuple] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put((time.monotonic(), line.rstrip("\n")))
        lines.put((time.monotonic(), None))

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _commits(lines: list[str]) -> list[tuple[str, str]]:
    """``(description, digest)`` of each ``C`` line; the stale count is checked here."""
    out = []
    for line in lines:
        if line.startswith("C "):
            _, _, desc, stale, digest = line.split(" ", 4)
            if desc.startswith("do:Move_box"):
                # the edit's own commit carries the mark its re-track will clear
                assert int(stale) >= 1, line
            if desc.startswith("do:Re-track"):
                assert int(stale) == 0, line
            out.append((desc, digest))
    return out


def _reference(template: Path, tmp: Path, seed: int) -> tuple[list[tuple[str, str]], float]:
    project = tmp / f"ref{seed}.taproj"
    shutil.copy(template, project)
    proc, q = _start(project, seed)
    lines: list[str] = []
    t_ready = None
    while True:
        t, line = q.get(timeout=120)
        if line is None:
            break
        if line == "READY":
            t_ready = t
        lines.append(line)
    proc.wait(timeout=60)
    assert proc.returncode == 0 and lines[-1] == "END", proc.stderr.read() if proc.stderr else ""
    assert t_ready is not None
    return _commits(lines), time.monotonic() - t_ready


def _check_reference(commits: list[tuple[str, str]]) -> None:
    """The loop did what it is for: edits, their re-tracks, accepts and undos."""
    kinds = [d for d, _ in commits]
    assert any(d.startswith("do:Move_box") for d in kinds), kinds
    assert any(d.startswith("do:Re-track") for d in kinds), kinds
    assert any(d.startswith("do:Accept") for d in kinds), kinds
    assert any(d.startswith("undo:") for d in kinds), kinds


def _state_of(path: Path) -> tuple[str, frozenset[tuple[int, int]]]:
    with ProjectStore.open(path, check_media=False) as store:
        return state_digest(store.project), store.project.stale


def _quick_check(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return str(con.execute("PRAGMA quick_check").fetchone()[0])
    finally:
        con.close()


def _flags_stale_stretches_on_open(path: Path) -> None:
    """Opening a file that holds stale marks flags every derived box of their stretches."""
    with ProjectStore.open(path, check_media=False) as store:
        p = store.project
        if not p.stale:
            return
        commands.flag_stale_stretches(p)
        for tid, frame in p.stale:
            lo, hi = commands.stale_span(p, tid, frame)
            for f, b in p.boxes(tid).items():
                if lo <= f <= hi and b.is_derived:
                    assert b.flagged, (tid, f, "a stale stretch box is not flagged")


def test_kill_minus_9_at_random_points_loses_nothing_committed(
    template: Path, tmp_path: Path
) -> None:
    rng = random.Random(11)
    template_digest = _state_of(template)[0]
    refs: dict[int, tuple[list[tuple[str, str]], float]] = {}
    survived = in_window = 0
    for k in range(KILLS):
        seed = k % 2  # two loops, each with its reference run
        if seed not in refs:
            refs[seed] = _reference(template, tmp_path, seed)
            _check_reference(refs[seed][0])
        reference, duration = refs[seed]
        project = tmp_path / f"kill{k}.taproj"
        shutil.copy(template, project)
        proc, q = _start(project, seed)
        printed: list[str] = []
        edit_lines = [i for i, (d, _) in enumerate(reference) if d.startswith("do:Move_box")]
        # half the kills right after an edit's commit (the window between the edit and
        # its re-track), half anywhere in the loop
        after_line = rng.choice(edit_lines) + 1 if k % 2 == 0 and edit_lines else None
        deadline = None
        while True:
            try:
                t, line = q.get(timeout=120 if deadline is None else 0.001)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                continue
            if line is None:
                break
            printed.append(line)
            if line == "READY" and after_line is None:
                deadline = t + rng.uniform(0.0, duration)
            if after_line is not None and line.startswith(f"C {after_line} "):
                deadline = t + rng.uniform(0.0, 0.08)
            if deadline is not None and time.monotonic() >= deadline:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # drain what it printed before dying
        while True:
            try:
                _, line = q.get(timeout=2)
            except queue.Empty:
                break
            if line is None:
                break
            printed.append(line)
        got = _commits(printed)
        assert got == reference[: len(got)], "the loop is not deterministic"
        assert _quick_check(project) == "ok", k
        digest, stale = _state_of(project)
        allowed = [reference[len(got) - 1][1] if got else template_digest]
        if len(got) < len(reference):
            allowed.append(reference[len(got)][1])
        assert digest in allowed, (k, len(got), "a committed change is missing or half-applied")
        if digest == allowed[-1] and len(got) < len(reference):
            desc = reference[len(got)][0]
        else:
            desc = got[-1][0] if got else "start"
        if desc.startswith("do:Move_box"):
            # killed between an edit and its re-track: the mark is there to be flagged
            assert stale, (k, "an edit without its re-track carries no stale mark")
            in_window += 1
        _flags_stale_stretches_on_open(project)
        survived += 1
    print(
        f"\nkill -9 soak: {survived} kills survived, {in_window} of them between an edit "
        f"and its re-track ({len(refs)} reference loops)"
    )
    assert survived == KILLS
