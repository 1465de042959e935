"""Crash safety of the project store, tested by killing a real writer process.

A writer subprocess (this file run as a script) opens the project and performs a long,
seeded stream of edits: each edit stamps the same frame of tracks 1 and 2 with identical
boxes (or deletes both), some restamp every frame at once, some undo or redo. It prints the
edit's index after the edit returned, i.e. after its SQLite transaction committed. The test
kills it with SIGKILL at a seeded random moment, reopens the file and checks that

* it opens (WAL recovery) and passes ``PRAGMA integrity_check``;
* no edit is half-applied: tracks 1 and 2 hold identical boxes on identical frames, and the
  track names (changed by the bulk edits together with the boxes) agree;
* the state is exactly the one after the last reported edit, or after the next one (which
  may have committed before the kill stopped the print), found by replaying the same
  seeded edit stream in memory.

Rounds continue from the previous round's file, so recovery of a crashed file is itself
followed by more edits and another crash.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.project import Project, TrackInfo
from tracker_annotate.io.store import ProjectStore

N_FRAMES = 300  # frames the edits spread over
ROUNDS = 12
SEED = 20261122

State = tuple[dict[int, TrackInfo], dict[int, dict[int, FrameBox]]]


def _pair_box(frame: int, stamp: int) -> FrameBox:
    x = float(stamp % 100_000) / 7.0  # non-trivial floats, exact round trip required
    return FrameBox(
        frame,
        BoxXYXY(x, 1.5, x + 10.25, 20.0),
        BoxSource.TRACKED,
        confidence=(stamp % 97) / 96.0,
        flagged=stamp % 3 == 0,
        flag_reason=f"edit {stamp}" if stamp % 3 == 0 else "",
    )


def run_edits(project: Project, seed: str, count: int, on_commit: Callable[[int], None]) -> None:
    """Apply ``count`` seeded edits; the same seed on the same state gives the same edits."""
    rng = random.Random(seed)
    for i in range(count):
        stamp = i + 1
        frames = sorted(project.boxes(1))
        op = rng.choices(
            ["add", "restamp", "delete", "undo", "redo", "bulk"], [40, 25, 10, 10, 8, 7]
        )[0]
        if op in ("restamp", "delete", "bulk") and not frames:
            op = "add"
        if op == "undo" and not project.history.can_undo():
            op = "add"
        if op == "redo" and not project.history.can_redo():
            op = "add"
        if op == "add":
            free = sorted(set(range(N_FRAMES)) - set(frames))
            f = rng.choice(free) if free else rng.randrange(N_FRAMES)
            with project.edit(f"add {stamp}") as tx:
                tx.set_box(1, _pair_box(f, stamp))
                tx.set_box(2, _pair_box(f, stamp))
        elif op == "restamp":
            f = rng.choice(frames)
            with project.edit(f"restamp {stamp}") as tx:
                tx.set_box(1, _pair_box(f, stamp))
                tx.set_box(2, _pair_box(f, stamp))
        elif op == "delete":
            f = rng.choice(frames)
            with project.edit(f"delete {stamp}") as tx:
                tx.remove_box(1, f)
                tx.remove_box(2, f)
        elif op == "undo":
            project.history.undo()
        elif op == "redo":
            project.history.redo()
        else:  # a big transaction: every frame of both tracks plus both names
            with project.edit(f"bulk {stamp}") as tx:
                for tid in (1, 2):
                    tx.set_track(project.copy_info(project.track(tid), name=f"bulk {stamp}"))
                    for f in frames:
                        tx.set_box(tid, _pair_box(f, stamp))
        on_commit(i)


def state_of(p: Project) -> State:
    return dict(p.tracks), {tid: dict(p.boxes(tid)) for tid in p.tracks}


def load_state(path: Path) -> tuple[Project, State]:
    with ProjectStore.open(path, check_media=False) as store:
        return store.project, state_of(store.project)


def expected_states(start: Project, seed: str, k: int) -> list[State]:
    """Replay the writer's edits in memory: the states after edit ``k`` and ``k + 1``."""
    out: list[State] = [state_of(start)] if k == 0 else []

    def keep(i: int) -> None:
        if i >= k - 1:
            out.append(state_of(start))

    run_edits(start, seed, k + 1, keep)
    return out


def writer_main(path: str, seed: str) -> None:
    """The subprocess: edit forever, reporting each committed edit on stdout."""
    store = ProjectStore.open(path, check_media=False)

    def report(i: int) -> None:
        sys.stdout.write(f"{i}\n")
        sys.stdout.flush()

    run_edits(store.project, seed, 10**9, report)


def _kill_after(
    proc: subprocess.Popen[str],
    rng: random.Random,
    min_lines: int = 3,
    max_lines: int = 200,
    max_delay_s: float = 0.004,
) -> list[int]:
    """Let the writer report a random number of edits, wait a random moment, SIGKILL it;
    return every index it reported."""
    assert proc.stdout is not None
    target = rng.randint(min_lines, max_lines)
    reported: list[int] = []
    while len(reported) < target:
        line = proc.stdout.readline()
        if not line:
            break  # the writer died by itself: the test fails below with its stderr
        reported.append(int(line))
    time.sleep(rng.uniform(0.0, max_delay_s))  # land anywhere, including inside a commit
    os.kill(proc.pid, signal.SIGKILL)
    # read through the same buffered stream readline used, or its buffered lines are lost
    rest = proc.stdout.read()
    err = proc.stderr.read() if proc.stderr is not None else ""
    proc.wait(timeout=30)
    for line in rest.splitlines(keepends=True):
        if line.endswith("\n"):
            reported.append(int(line))
    assert proc.returncode == -signal.SIGKILL, f"writer exited by itself: {err}"
    return reported


@pytest.mark.slow
def test_sigkill_never_loses_committed_edits_nor_half_applies_one(tmp_path: Path) -> None:
    path = tmp_path / "crash.taproj"
    p = Project()
    with p.edit("setup") as tx:
        tx.set_track(TrackInfo(1, name="a"))
        tx.set_track(TrackInfo(2, name="a"))
    ProjectStore.create(path, p).close()
    rng = random.Random(SEED)
    total_reported = 0
    for rnd in range(ROUNDS):
        start, _ = load_state(path)
        seed = f"{SEED}-{rnd}"
        proc = subprocess.Popen(
            [sys.executable, __file__, str(path), seed],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        reported = _kill_after(proc, rng)
        assert reported == list(range(len(reported))), "edits are reported in order"
        k = len(reported)
        total_reported += k

        # it opens, and the SQLite file is sound
        after, got = load_state(path)
        con = sqlite3.connect(path)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()

        # no half-applied edit: the two tracks always move together
        tracks, boxes = got
        assert boxes[1] == boxes[2], f"round {rnd}: tracks 1 and 2 differ -> half an edit"
        assert tracks[1].name == tracks[2].name

        # exactly the state after the last reported edit, or after the one in flight
        expected = expected_states(start, seed, k)
        assert got in expected, (
            f"round {rnd}: after {k} reported edits the file matches neither edit {k} "
            f"nor edit {k + 1}"
        )
        assert after.n_boxes() == sum(len(b) for b in boxes.values())
    assert total_reported >= 3 * ROUNDS, "every round must have let some edits through"


CREATE_BOXES = 10_000


def generation(g: int) -> Project:
    """Project number ``g``: one track named ``gen g`` whose every box has x1 = g."""
    p = Project()
    with p.edit(f"gen {g}") as tx:
        tx.set_track(TrackInfo(1, name=f"gen {g}"))
        for f in range(CREATE_BOXES):
            tx.set_box(1, FrameBox(f, BoxXYXY(float(g), 0.0, g + 5.0, 5.0)))
    return p


def creator_main(path: str) -> None:
    """The subprocess: overwrite the project with generation 1, 2, 3... forever."""
    g = 1
    while True:
        ProjectStore.create(path, generation(g), overwrite=True).close()
        sys.stdout.write(f"{g}\n")
        sys.stdout.flush()
        g += 1


@pytest.mark.slow
def test_sigkill_during_overwrite_leaves_old_or_new_project_whole(tmp_path: Path) -> None:
    path = tmp_path / "over.taproj"
    ProjectStore.create(path, generation(0)).close()
    rng = random.Random(SEED + 1)
    for rnd in range(4):
        proc = subprocess.Popen(
            [sys.executable, __file__, "--create", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        reported = _kill_after(proc, rng, min_lines=1, max_lines=3, max_delay_s=0.5)
        p, (tracks, boxes) = load_state(path)
        g = int(tracks[1].name.split()[1])
        assert reported, "min_lines=1: the creator finished at least one overwrite"
        last = reported[-1]
        assert g in (last, last + 1), f"round {rnd}: generation {g} after reports {reported}"
        assert len(boxes[1]) == CREATE_BOXES, "a whole generation, never a partial one"
        assert {b.xyxy.x1 for b in boxes[1].values()} == {float(g)}
        assert p.n_boxes() == CREATE_BOXES


if __name__ == "__main__":
    if sys.argv[1] == "--create":
        creator_main(sys.argv[2])
    else:
        writer_main(sys.argv[1], sys.argv[2])
