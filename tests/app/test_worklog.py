"""The work record: kinds and timing, batching, the file's tables, and a killed writer.

The recorder runs on a real project file; its clocks are injected so that durations are
exact. The crash test runs this file as a writer script and kills it with SIGKILL.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tracker_annotate.app.worklog import RecorderConfig, WorkRecorder
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.core.worklog import KIND_CODES, WorkAction
from tracker_annotate.io import store_worklog
from tracker_annotate.io.store import ProjectStore
from tracker_annotate.io.store_schema import SCHEMA_VERSION

WALL0 = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _project() -> Project:
    p = Project(MediaRef("v.mp4", 20, 100, 100))
    with p.edit("seed") as tx:
        tx.set_track(TrackInfo(1))
        for f in range(10):
            tx.set_box(
                1,
                FrameBox(f, BoxXYXY(1, 1, 10, 10), BoxSource.TRACKED, 0.4, flagged=f % 2 == 0),
            )
    return p


def _recorder(store: ProjectStore, clock: FakeClock, **cfg: float) -> WorkRecorder:
    return WorkRecorder(
        store,
        "ann",
        clock=clock,
        wall=lambda: WALL0 + clock.t,
        config=RecorderConfig(**cfg),  # type: ignore[arg-type]
        app_version="9.9",
    )


def test_actions_times_and_idle_round_trip(tmp_path: Path) -> None:
    clock = FakeClock()
    with ProjectStore.create(tmp_path / "p.taproj", _project()) as store:
        p = store.project
        rec = _recorder(store, clock, idle_after_s=30.0)
        clock.t += 7.0
        rec.note("draw", 1, 0)
        clock.t += 1.5
        rec.note("accept", 1, 2, box=p.box(1, 2))  # flagged: one flag less
        clock.t += 20.0
        rec.activity()  # 20 s < 30 s: not idle
        clock.t += 45.0
        rec.activity()  # 45 s without input: idle, and the next action starts now
        clock.t += 2.0
        rec.note("adjust", 1, 3, box=p.box(1, 3))
        rec.watch_started()
        clock.t += 60.0  # no input while playing: still not idle
        rec.watch_stopped(n_boxes=40)
        assert rec.pending == 5
        assert rec.flush() == 5 and rec.pending == 0
        rec.close()
    con = sqlite3.connect(tmp_path / "p.taproj")
    log = store_worklog.read_worklog(con, "p")
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3
    con.close()
    assert log.kind_names() == ["draw", "accept", "idle", "adjust", "watch"]
    np.testing.assert_allclose(log.duration_s, [7.0, 1.5, 45.0, 2.0, 60.0])
    np.testing.assert_allclose(log.start - WALL0, [100.0, 107.0, 128.5, 173.5, 175.5])
    assert log.flags_delta.tolist() == [0, -1, 0, 0, 0]
    assert log.track_id.tolist() == [1, 1, -1, 1, -1]
    assert log.n_boxes[-1] == 40
    np.testing.assert_allclose(log.confidence[[1, 3]], [0.4, 0.4])
    assert np.isnan(log.confidence[0])
    assert set(log.annotator.tolist()) == {"ann"} and set(log.app_version.tolist()) == {"9.9"}


def test_batches_are_one_session_and_closing_writes_the_rest(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "p.taproj"
    with ProjectStore.create(path, _project()) as store:
        rec = _recorder(store, clock, flush_at=3)
        for i in range(7):
            clock.t += 1.0
            rec.note("accept", 1, i)
            if rec.wants_flush:
                rec.flush()
        assert rec.pending == 1
        rec.close()
    with ProjectStore.open(path, check_media=False) as store:  # a second session
        rec = _recorder(store, clock)
        rec.note("reject", 1, 9)
        rec.close()
    con = sqlite3.connect(path)
    log = store_worklog.read_worklog(con, "p")
    con.close()
    assert len(log) == 8
    assert log.session.tolist() == [1] * 7 + [2]


def test_the_record_is_not_undone_and_leaves_the_annotation_alone(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p.taproj", _project()) as store:
        p = store.project
        last, text = p.history.last, p.history.undo_text()
        rec = _recorder(store, FakeClock())
        rec.note("accept", 1, 0)
        rec.flush()
        assert p.history.last is last and p.history.undo_text() == text
        p.history.undo()  # undoing the seed edit leaves the record as it is
        rec.close()
    con = sqlite3.connect(tmp_path / "p.taproj")
    assert len(store_worklog.read_worklog(con, "p")) == 1
    assert con.execute("SELECT COUNT(*) FROM boxes").fetchone()[0] == 0
    con.close()


def test_a_v2_file_is_migrated_and_reads_an_empty_record(tmp_path: Path) -> None:
    path = tmp_path / "old.taproj"
    ProjectStore.create(path, _project()).close()
    con = sqlite3.connect(path)
    con.execute("DROP TABLE work_actions")
    con.execute("DROP TABLE work_sessions")
    con.execute("PRAGMA user_version = 2")
    con.commit()
    assert len(store_worklog.read_worklog(con, "old")) == 0  # before the migration too
    con.close()
    with ProjectStore.open(path, check_media=False) as store:
        rec = WorkRecorder(store, "ann")
        rec.note("draw", 1, 0)
        rec.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store_worklog.read_worklog(con, "old").kind_names() == ["draw"]
    con.close()


def test_save_as_takes_the_record_along(tmp_path: Path) -> None:
    clock = FakeClock()
    store = ProjectStore.create(tmp_path / "a.taproj", _project())
    rec = _recorder(store, clock)
    clock.t += 3.0
    rec.note("draw", 1, 0)
    rec.close()
    new = store.save_as(tmp_path / "b.taproj")
    new.close()
    con = sqlite3.connect(tmp_path / "b.taproj")
    log = store_worklog.read_worklog(con, "b")
    con.close()
    assert log.kind_names() == ["draw"] and log.duration_s.tolist() == [3.0]
    assert log.annotator.tolist() == ["ann"]


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"kind": "doodle"}, "unknown kind"),
        ({"duration_s": -1.0}, "negative duration"),
        ({"duration_s": float("nan")}, "NaN duration"),
        ({"subject": "screen"}, "unknown subject"),
    ],
)
def test_bad_records_are_refused(kwargs: dict[str, object], why: str) -> None:
    base: dict[str, object] = {"kind": "draw", "start": 0.0, "duration_s": 1.0}
    with pytest.raises(ProjectError):
        WorkAction(**{**base, **kwargs})  # type: ignore[arg-type]


def test_an_unknown_stored_kind_is_named(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p.taproj", _project()) as store:
        rec = _recorder(store, FakeClock())
        rec.note("draw", 1, 0)
        rec.close()
    con = sqlite3.connect(tmp_path / "p.taproj")
    con.execute("UPDATE work_actions SET kind = 99")
    with pytest.raises(ProjectError, match="unknown action codes \\[99\\]"):
        store_worklog.read_worklog(con, "p.taproj")
    con.close()


# -- a killed writer ----------------------------------------------------------------------


def _writer(path: str) -> None:
    """Record actions forever, flushing each batch of 5 and printing the total after
    its commit returned."""
    with ProjectStore.open(path, check_media=False) as store:
        rec = WorkRecorder(store, "writer", config=RecorderConfig(flush_at=5))
        total = 0
        while True:
            rec.note("accept", 1, total % 10)
            if rec.wants_flush:
                total += rec.flush()
                print(total, flush=True)


def test_records_committed_before_a_kill_survive(tmp_path: Path) -> None:
    path = tmp_path / "p.taproj"
    ProjectStore.create(path, _project()).close()
    child = subprocess.Popen(
        [sys.executable, __file__, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    seen = 0
    deadline = time.monotonic() + 60
    while seen < 200 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        seen = int(line)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert seen >= 200, "the writer did not get going"
    for line in child.stdout.read().split():  # what it reported before the kill
        seen = int(line)
    with ProjectStore.open(path, check_media=False) as store:  # WAL recovery
        assert store.project.n_boxes() == 10
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    log = store_worklog.read_worklog(con, "p")
    con.close()
    # everything reported is there; at most the batch committed after the last print more
    assert seen <= len(log) <= seen + 5 and len(log) % 5 == 0
    assert set(log.kind.tolist()) == {KIND_CODES["accept"]}


if __name__ == "__main__":
    _writer(sys.argv[1])
