"""The packed copy of each track's rows (io/store_packs.py): what opening reads.

The rows stay the truth; these tests pin that a pack never shows anything but them: every
field round-trips through both paths, any write to the rows (ours, an older release's, a
script's) invalidates the pack in its own transaction, a writer killed before it re-packs
loses nothing, and a damaged pack is refused, not shown.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.test_track_boxes import frame_boxes
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.store import ProjectStore


def project_of(tracks: dict[int, list[FrameBox]]) -> Project:
    p = Project(MediaRef("nowhere.avi", 10**9 + 1, 640, 480))
    with p.edit("build") as tx:
        for tid, boxes in tracks.items():
            tx.set_track(TrackInfo(tid))
            for b in boxes:
                tx.set_box(tid, b)
    return p


def boxes_of(p: Project) -> dict[int, dict[int, FrameBox]]:
    return {t: dict(p.boxes(t)) for t in p.tracks}


def sql(path: Path, *statements: str) -> list[tuple]:  # type: ignore[type-arg]
    con = sqlite3.connect(path)
    out = []
    for s in statements:
        out = con.execute(s).fetchall()
    con.commit()
    con.close()
    return out


def valid_packs(path: Path) -> list[int]:
    return [r[0] for r in sql(path, "SELECT track_id FROM box_packs_valid ORDER BY track_id")]


tracks_strategy = st.dictionaries(
    st.integers(0, 2**40),
    st.lists(frame_boxes(), max_size=25, unique_by=lambda b: b.frame),
    max_size=4,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tracks_strategy)
def test_every_field_round_trips_through_packs_and_through_rows(
    tmp_path: Path, tracks: dict[int, list[FrameBox]]
) -> None:
    path = tmp_path / "p.taproj"
    want = project_of(tracks)
    ProjectStore.create(path, want, overwrite=True).close()
    assert valid_packs(path) == sorted(t for t, b in tracks.items() if b)
    with ProjectStore.open(path, check_media=False) as s:  # from the packs
        assert boxes_of(s.project) == boxes_of(want)
    sql(path, "DELETE FROM box_packs_valid")
    with ProjectStore.open(path, check_media=False) as s:  # from the rows
        assert boxes_of(s.project) == boxes_of(want)
    assert valid_packs(path) == sorted(t for t, b in tracks.items() if b), "re-packed on close"


def _two_tracks(tmp_path: Path) -> Path:
    path = tmp_path / "p.taproj"
    boxes = [FrameBox(f, BoxXYXY(f, 0, f + 10, 10), BoxSource.TRACKED, 0.5) for f in range(50)]
    ProjectStore.create(path, project_of({1: boxes, 2: boxes})).close()
    assert valid_packs(path) == [1, 2]
    return path


@pytest.mark.parametrize(
    ("statement", "track", "check"),
    [
        ("UPDATE boxes SET x2 = 99.5 WHERE track_id = 1 AND frame = 7", 1, (1, 7, 99.5)),
        (
            "INSERT INTO boxes VALUES (2, 60, 1, 1, 5, 5, 1, 0.25, 0, NULL)",
            2,
            (2, 60, 5.0),
        ),
        ("DELETE FROM boxes WHERE track_id = 2 AND frame = 3", 2, (2, 3, None)),
        ("INSERT OR REPLACE INTO boxes VALUES (1, 7, 1, 1, 6, 5, 0, 1, 0, NULL)", 1, (1, 7, 6.0)),
    ],
    ids=["update", "insert", "delete", "replace (how the store writes)"],
)
def test_any_write_to_the_rows_invalidates_that_tracks_pack(
    tmp_path: Path, statement: str, track: int, check: tuple[int, int, float | None]
) -> None:
    """The triggers live in the file: a writer that knows nothing of packs (an older
    release, a script) still cannot leave one showing stale boxes."""
    path = _two_tracks(tmp_path)
    sql(path, statement)
    assert valid_packs(path) == [t for t in (1, 2) if t != track]
    tid, frame, x2 = check
    with ProjectStore.open(path, check_media=False) as s:
        b = s.project.box(tid, frame)
        assert (b.xyxy.x2 if b else None) == x2


def test_edits_after_a_packed_open_persist_undo_and_redo(tmp_path: Path) -> None:
    path = _two_tracks(tmp_path)
    with ProjectStore.open(path, check_media=False) as s:
        p = s.project
        old = p.box(1, 10)
        assert old is not None
        moved = old.with_(xyxy=old.xyxy.translated(3, 4), source=BoxSource.MANUAL, confidence=1.0)
        with p.edit("move") as tx:
            tx.set_box(1, moved)
        with p.edit("delete") as tx:
            tx.remove_box(2, 20)
        valid = s._connection().execute("SELECT track_id FROM box_packs_valid").fetchall()
        assert valid == [], "the edits' own commits invalidated both packs"
        p.history.undo()
        assert p.box(2, 20) is not None
        p.history.undo()
        assert p.box(1, 10) == old
        p.history.redo()
    with ProjectStore.open(path, check_media=False) as s:
        assert s.project.box(1, 10) == moved
        assert s.project.box(2, 20) is not None
        assert len(s.project.boxes(1)) == 50
    assert valid_packs(path) == [1, 2]


KILLED_WRITER = """
import os, sys
from tracker_annotate.io.store import ProjectStore
s = ProjectStore.open(sys.argv[1], check_media=False)
p = s.project
b = p.box(1, 10)
with p.edit("move") as tx:
    tx.set_box(1, b.with_(xyxy=b.xyxy.translated(5, 0)))
with p.edit("delete") as tx:
    tx.remove_box(2, 0)
print("committed", flush=True)
os.kill(os.getpid(), 9)  # no close: the packs are not refreshed
"""


def test_a_writer_killed_after_its_edits_loses_nothing(tmp_path: Path) -> None:
    path = _two_tracks(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == -9 and "committed" in out.stdout, out.stderr
    assert valid_packs(path) == [], "both packs went stale with the committed edits"
    with ProjectStore.open(path, check_media=False) as s:
        assert s.project.box(1, 10).xyxy.x1 == 15.0  # type: ignore[union-attr]
        assert s.project.box(2, 0) is None
        assert len(s.project.boxes(2)) == 49


def test_a_file_without_packs_opens_from_rows_and_gets_them_on_close(tmp_path: Path) -> None:
    """A project written before packs existed (same schema version: no migration)."""
    path = _two_tracks(tmp_path)
    sql(
        path,
        "DROP TRIGGER box_packs_on_insert",
        "DROP TRIGGER box_packs_on_update",
        "DROP TRIGGER box_packs_on_delete",
        "DROP TABLE box_packs_valid",
        "DROP TABLE box_packs",
    )
    with ProjectStore.open(path, check_media=False) as s:
        assert len(s.project.boxes(1)) == 50
    assert valid_packs(path) == [1, 2]
    sql(path, "DELETE FROM boxes WHERE track_id = 1 AND frame = 0")
    assert valid_packs(path) == [2]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE box_packs SET data = zeroblob(54 * 50) WHERE track_id = 1", "track 1 frame"),
        ("UPDATE box_packs SET data = x'00' WHERE track_id = 2", "track 2 is damaged"),
        ("UPDATE box_packs SET reasons = '{' WHERE track_id = 1", "track 1 is damaged"),
    ],
    ids=["zeroed columns: zero-size boxes", "truncated blob", "reasons not JSON"],
)
def test_a_damaged_valid_pack_is_refused_naming_the_track(
    tmp_path: Path, statement: str, message: str
) -> None:
    path = _two_tracks(tmp_path)
    sql(path, statement)
    with pytest.raises(ProjectError, match=message):
        ProjectStore.open(path, check_media=False)


def test_a_pack_of_another_format_is_ignored(tmp_path: Path) -> None:
    path = _two_tracks(tmp_path)
    sql(path, "UPDATE box_packs SET format = 99, data = x'00'")
    with ProjectStore.open(path, check_media=False) as s:
        assert len(s.project.boxes(1)) == 50
