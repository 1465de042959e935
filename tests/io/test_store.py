"""The SQLite project store: round trips, autosave of every transaction, errors, media."""

from __future__ import annotations

import gc
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import MediaError, MediaMovedError, ProjectError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.media import probe_media
from tracker_annotate.io.store import ProjectStore, is_project_path
from tracker_annotate.io.store_schema import APPLICATION_ID, SCHEMA_VERSION

# -- helpers ----------------------------------------------------------------------------


def write_video(
    path: Path, n_frames: int = 12, size_wh: tuple[int, int] = (64, 48), seed: int = 0
) -> Path:
    """A real MJPG video OpenCV can decode, with random (so fingerprint-distinct) frames."""
    w, h = size_wh
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    assert writer.isOpened()
    rng = np.random.default_rng(seed)
    for _ in range(n_frames):
        writer.write(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    writer.release()
    return path


def write_images(folder: Path, n_frames: int = 6, seed: int = 1) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n_frames):
        cv2.imwrite(str(folder / f"{i:06d}.png"), rng.integers(0, 255, (48, 64, 3), np.uint8))
    return folder


def box(frame: int, x: float = 10.0, **kw: object) -> FrameBox:
    return FrameBox(frame, BoxXYXY(x, 5.0, x + 20.5, 30.25), **kw)  # type: ignore[arg-type]


def snapshot(p: Project) -> dict[str, object]:
    """Everything the store must preserve, in comparable form (order of labels included)."""
    return {
        "media": p.media,
        "labels": list(p.labels.items()),
        "tracks": dict(p.tracks),
        "boxes": {tid: dict(p.boxes(tid)) for tid in p.tracks},
        "next_track_id": p.next_track_id,
    }


def reopened(path: Path) -> Project:
    with ProjectStore.open(path, check_media=False) as store:
        return store.project


def count_rows(path: Path, table: str) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


@pytest.fixture
def video(tmp_path: Path) -> Path:
    (tmp_path / "media").mkdir()
    return write_video(tmp_path / "media" / "clip.avi")


@pytest.fixture
def project(video: Path) -> Project:
    p = Project(probe_media(video), [Label("car", (10, 20, 30)), Label("person", (1, 2, 3))])
    with p.edit("setup") as tx:
        tx.set_track(TrackInfo(1, "car", "red car"))
        tx.set_track(TrackInfo(2, "person"))
        for f in range(0, 10, 3):
            tx.set_box(1, box(f, x=f))
        tx.set_box(2, box(5))
    return p


# -- round trip -------------------------------------------------------------------------

BOX_CASES = [
    pytest.param(box(0), id="defaults: manual, confidence 1, no flags"),
    pytest.param(
        box(1, source=BoxSource.TRACKED, confidence=0.42), id="tracked with its confidence"
    ),
    pytest.param(
        box(2, source=BoxSource.INTERPOLATED, confidence=0.0), id="confidence 0 is not NULL"
    ),
    pytest.param(box(3, source=BoxSource.IMPORTED), id="imported source code"),
    pytest.param(
        box(4, flagged=True, flag_reason="drift: ncc 0.31 < 0.5"), id="flag reason text kept"
    ),
    pytest.param(box(5, flagged=True), id="flag with the default reason"),
    pytest.param(
        box(6, verified=True, source=BoxSource.TRACKED), id="verified derived box is a keyframe"
    ),
    pytest.param(box(7, occluded=True), id="occluded bit"),
    pytest.param(box(8, outside=True), id="outside bit"),
    pytest.param(
        box(
            9,
            flagged=True,
            flag_reason="é ✓ \n 'quote'",
            verified=True,
            occluded=True,
            outside=True,
        ),
        id="all bits plus unicode reason",
    ),
    pytest.param(
        FrameBox(10, BoxXYXY(-5.123456789012345, 0.1, 1e6 + 0.3, 0.1 + 1e-9)),
        id="exact float64 coordinates, negative and tiny sizes",
    ),
    pytest.param(box(11, confidence=1 / 3), id="non-representable confidence stays bit-exact"),
    pytest.param(
        FrameBox(
            np.int64(12),  # type: ignore[arg-type]
            BoxXYXY(np.float32(1.5), np.float32(2.0), np.float32(8.25), np.float32(9.0)),  # type: ignore[arg-type]
            confidence=np.float32(0.5),  # type: ignore[arg-type]
        ),
        id="NumPy scalars from a tracker (float32 has no SQLite binding)",
    ),
]


@pytest.mark.parametrize("fb", BOX_CASES)
def test_every_framebox_field_round_trips(tmp_path: Path, fb: FrameBox) -> None:
    p = Project(MediaRef("nowhere.avi", 100, 640, 480))
    with p.edit("one") as tx:
        tx.set_track(TrackInfo(7))
        tx.set_box(7, fb)
    ProjectStore.create(tmp_path / "p.taproj", p).close()
    assert reopened(tmp_path / "p.taproj").box(7, fb.frame) == fb


TRACK_CASES = [
    pytest.param(TrackInfo(1), id="defaults"),
    pytest.param(TrackInfo(2, "car", "Red car «1»", hidden=True), id="label, unicode name, hidden"),
    pytest.param(TrackInfo(3, "person", proposed=True), id="proposed track"),
    pytest.param(TrackInfo(2**40, "car"), id="64-bit track id"),
    pytest.param(TrackInfo(0), id="track id 0"),
]


@pytest.mark.parametrize("info", TRACK_CASES)
def test_every_trackinfo_field_round_trips(tmp_path: Path, info: TrackInfo) -> None:
    labels = [Label("object"), Label("car", (255, 0, 0)), Label("person", (0, 0, 0))]
    p = Project(None, labels)
    with p.edit("t") as tx:
        tx.set_track(info)
    ProjectStore.create(tmp_path / "p.sqlite", p).close()
    q = reopened(tmp_path / "p.sqlite")
    assert q.tracks == {info.track_id: info}
    assert q.next_track_id == info.track_id + 1


def test_whole_project_round_trips_with_label_order_and_media(
    tmp_path: Path, project: Project
) -> None:
    with project.edit("labels") as tx:
        tx.set_label(Label("bike", (9, 9, 9)))
        tx.set_label(Label("car", (200, 100, 0)))  # recolour keeps its place
    ProjectStore.create(tmp_path / "p.taproj", project).close()
    q = reopened(tmp_path / "p.taproj")
    assert snapshot(q) == snapshot(project)
    assert list(q.labels) == ["car", "person", "bike"]
    assert not q.history.can_undo(), "loading is not an undoable edit"


def test_load_reports_progress_in_boxes(tmp_path: Path) -> None:
    from tracker_annotate.io.store_schema import PROGRESS_EVERY

    p = Project()
    n = PROGRESS_EVERY + 10
    with p.edit("many") as tx:
        tx.set_track(TrackInfo(1))
        for f in range(n):
            tx.set_box(1, box(f))
    ProjectStore.create(tmp_path / "p.taproj", p).close()
    calls: list[tuple[int, int]] = []
    with ProjectStore.open(tmp_path / "p.taproj", progress=lambda d, t: calls.append((d, t))):
        pass
    assert calls == [(0, n), (PROGRESS_EVERY, n), (n, n)]


def test_empty_project_without_media_or_labels(tmp_path: Path) -> None:
    p = Project(None, [])
    with ProjectStore.create(tmp_path / "e.taproj", p) as store:
        store.check_media()  # no media: nothing to check
    assert snapshot(reopened(tmp_path / "e.taproj")) == snapshot(p)


# -- autosave ---------------------------------------------------------------------------


def test_each_edit_is_saved_without_closing(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "p.taproj"
    store = ProjectStore.create(path, project)
    commands.add_box(project, 2, 8, BoxXYXY(3.5, 4.0, 9.0, 9.5))
    commands.split_track(project, 1, 6)
    commands.accept_box(project, 2, 5)
    with project.edit("move") as tx:
        tx.set_box(1, box(3, x=40.0))
        tx.remove_box(1, 0)
    # read the file with a second, plain connection: the exclusive lock keeps other
    # programs out, so copy the committed state first (the WAL holds the last edits)
    snap = tmp_path / "copy.taproj"
    src = store._con
    assert src is not None
    dst = sqlite3.connect(snap)
    src.backup(dst)
    dst.close()
    q = reopened(snap)
    assert snapshot(q) == snapshot(project)
    assert len(q.tracks) == 3 and q.box(1, 0) is None
    store.close()


def test_undo_and_redo_are_persisted(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "p.taproj"
    store = ProjectStore.create(path, project)
    before = snapshot(project)
    with project.edit("retrack") as tx:
        tx.set_box(1, box(3, x=50.0, source=BoxSource.TRACKED, confidence=0.2, flagged=True))
        tx.remove_box(2, 5)
        tx.set_track(TrackInfo(9, "person"))
        tx.set_box(9, box(1))
    after = snapshot(project)
    project.history.undo()
    store.close()
    assert snapshot(reopened(path)) | {"next_track_id": 0} == before | {"next_track_id": 0}

    store = ProjectStore.open(path, check_media=False)
    q = store.project
    with q.edit("redo it by hand") as tx:  # history is not persisted; redo the same edit
        tx.set_box(1, box(3, x=50.0, source=BoxSource.TRACKED, confidence=0.2, flagged=True))
        tx.remove_box(2, 5)
        tx.set_track(TrackInfo(9, "person"))
        tx.set_box(9, box(1))
    q.history.undo()
    q.history.redo()
    store.close()
    assert snapshot(reopened(path)) == after


def test_deleting_a_track_deletes_its_rows_and_ids_are_not_reused(
    tmp_path: Path, project: Project
) -> None:
    path = tmp_path / "p.taproj"
    with ProjectStore.create(path, project), project.edit("delete") as tx:
        tx.remove_track(2)
        tx.remove_track(1)
    q = reopened(path)
    assert dict(q.tracks) == {}
    assert count_rows(path, "boxes") == 0
    assert count_rows(path, "tracks") == 0
    assert q.next_track_id == 3, "a deleted track's id must not be handed out again"


def test_undoing_a_track_deletion_restores_its_rows(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "p.taproj"
    before = snapshot(project)
    with ProjectStore.create(path, project):
        commands.delete_track(project, 1)
        project.history.undo()
    assert snapshot(reopened(path)) == before
    assert count_rows(path, "boxes") == project.n_boxes()


def test_label_add_remove_and_relabel_persisted(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "p.taproj"
    with ProjectStore.create(path, project), project.edit("labels") as tx:
        tx.set_label(Label("truck", (1, 1, 1)))
        tx.set_track(project.copy_info(project.track(2), label="truck"))
        tx.remove_label("person")
    q = reopened(path)
    assert list(q.labels) == ["car", "truck"]
    assert q.track(2).label == "truck"


def test_label_order_persists_through_rename_undo_and_several_new_labels(
    tmp_path: Path, project: Project
) -> None:
    """The order number keys pick labels by: a rename keeps its place in the file as in
    memory, undo restores it, and several labels added in one step are written in their
    order (not a set's, which changes between runs)."""
    path = tmp_path / "p.taproj"

    with ProjectStore.create(path, project) as store:
        con = store._con  # the file holds an exclusive lock while open: ask through it
        assert con is not None

        def in_file() -> list[str]:  # what the autosave of each step wrote
            return [n for (n,) in con.execute("SELECT name FROM labels ORDER BY ord")]

        assert list(project.labels) == in_file() == ["car", "person"]
        commands.rename_label(project, "car", "auto")
        assert in_file() == ["auto", "person"]
        project.history.undo()
        assert in_file() == ["car", "person"]
        with project.edit("three labels") as tx:
            for name in ("zebra", "bike", "moose"):
                tx.set_label(Label(name, (9, 9, 9)))
        assert in_file() == ["car", "person", "zebra", "bike", "moose"]
        project.history.undo()
        assert in_file() == ["car", "person"]
        project.history.redo()
    assert list(reopened(path).labels) == ["car", "person", "zebra", "bike", "moose"]


def test_big_changeset_is_one_transaction(tmp_path: Path) -> None:
    p = Project(MediaRef("x.avi", 5000, 640, 480))
    with p.edit("t") as tx:
        tx.set_track(TrackInfo(1))
    path = tmp_path / "big.taproj"
    with ProjectStore.create(path, p) as store:
        con = store._con
        assert con is not None
        commits: list[str] = []
        con.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        with p.edit("tracking run") as tx:
            for f in range(5000):
                tx.set_box(1, box(f, source=BoxSource.TRACKED, confidence=0.9))
        assert commits == ["COMMIT"]
    assert count_rows(path, "boxes") == 5000
    assert reopened(path).boxes(1) == p.boxes(1)


def test_tracking_run_with_proposed_tracks_and_its_undo_persist(
    tmp_path: Path, project: Project
) -> None:
    from tracker_annotate.tracking.api import TrackingRun, apply_run

    path = tmp_path / "p.taproj"
    store = ProjectStore.create(path, project)
    derived = [box(f, x=f + 0.5, source=BoxSource.TRACKED, confidence=0.6) for f in range(10)]
    proposal = [box(f, x=60.0, source=BoxSource.IMPORTED, confidence=0.8) for f in (2, 3)]
    run = TrackingRun(boxes={1: derived}, spans={1: (0, 9)}, proposed=[proposal])
    before = snapshot(project)
    apply_run(project, run)  # adds the default label "object" (absent here) and a track
    after = snapshot(project)
    store.close()
    q = reopened(path)
    assert snapshot(q) == after
    assert any(t.proposed for t in q.tracks.values()) and "object" in q.labels
    assert q.box(1, 0) == box(0, x=0), "keyframes survive the run"
    assert q.box(1, 1) == derived[1]

    store = ProjectStore.open(path, check_media=False)
    apply_run(store.project, run)
    store.project.history.undo()
    store.close()
    assert snapshot(reopened(path))["boxes"] == after["boxes"]
    assert before != after


def test_failed_write_keeps_edit_and_is_retried(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "p.taproj"
    store = ProjectStore.create(path, project)
    con = store._con
    assert con is not None
    # deny writes to the boxes table, as a full disk or a lost share would
    con.set_authorizer(
        lambda op, a, *_: (
            sqlite3.SQLITE_DENY if a == "boxes" and op in (9, 18, 23) else sqlite3.SQLITE_OK
        )
    )
    with (
        pytest.raises(ProjectError, match="could not save the last edit"),
        project.edit("move") as tx,
    ):
        tx.set_box(1, box(0, x=77.0))
    assert project.box(1, 0) == box(0, x=77.0), "the edit stays in memory"
    assert store.has_unsaved
    con.set_authorizer(None)
    store.flush()
    assert not store.has_unsaved
    store.close()
    assert reopened(path).box(1, 0) == box(0, x=77.0)


def test_unsaveable_value_is_a_project_error(tmp_path: Path) -> None:
    p = Project()
    with ProjectStore.create(tmp_path / "p.taproj", p) as store:
        with pytest.raises(ProjectError, match="could not save"), p.edit("huge") as tx:
            tx.set_track(TrackInfo(2**64))
        assert store.has_unsaved


def test_project_file_deleted_while_open_is_noticed_and_save_as_rescues(
    tmp_path: Path, project: Project
) -> None:
    store = ProjectStore.create(tmp_path / "p.taproj", project)
    (tmp_path / "p.taproj").unlink()
    with (
        pytest.raises(ProjectError, match="deleted, moved or replaced while open"),
        project.edit("after delete") as tx,
    ):
        tx.set_box(2, box(1))
    new = store.save_as(tmp_path / "rescued.taproj")
    new.close()
    assert snapshot(reopened(tmp_path / "rescued.taproj")) == snapshot(project)
    assert project.box(2, 1) is not None


def test_edits_after_close_are_not_written(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "p.taproj"
    store = ProjectStore.create(path, project)
    store.close()
    store.close()  # idempotent
    with project.edit("late") as tx:
        tx.set_box(1, box(1))
    assert reopened(path).box(1, 1) is None
    with pytest.raises(ProjectError, match="closed"):
        store.get_ui_state()


def test_save_as_moves_the_autosave_to_the_new_file(tmp_path: Path, project: Project) -> None:
    old = ProjectStore.create(tmp_path / "a.taproj", project)
    old.set_ui_state({"frame": 3})
    assert old.save_as(tmp_path / "a.taproj") is old
    new = old.save_as(tmp_path / "b.taproj")
    assert old.closed and not new.closed
    with project.edit("after save as") as tx:
        tx.set_box(2, box(0))
    new.close()
    assert reopened(tmp_path / "b.taproj").box(2, 0) == box(0)
    assert reopened(tmp_path / "a.taproj").box(2, 0) is None
    with ProjectStore.open(tmp_path / "b.taproj") as store:
        assert store.get_ui_state() == {"frame": 3}


# -- UI state ---------------------------------------------------------------------------


def test_ui_state_round_trip(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "p.taproj"
    state = {"frame": 7, "zoom": 2.5, "selection": [1, 2], "panels": {"review": True}}
    with ProjectStore.create(path, project) as store:
        assert store.get_ui_state() == {}
        store.set_ui_state(state)
        with pytest.raises(ProjectError, match="JSON"):
            store.set_ui_state({"frame": object()})
    with ProjectStore.open(path) as store:
        assert store.get_ui_state() == state


# -- refusing files ---------------------------------------------------------------------


def _foreign_sqlite(p: Path) -> None:
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()


def _versioned(version: int) -> object:
    def make(p: Path) -> None:
        ProjectStore.create(p, Project()).close()
        con = sqlite3.connect(p)
        con.execute(f"PRAGMA user_version = {version}")
        con.close()

    return make


OPEN_ERRORS = [
    pytest.param(None, "no such file", id="missing file"),
    pytest.param(lambda p: p.write_bytes(b""), "empty", id="empty file"),
    pytest.param(
        lambda p: p.write_text("track,frame\n1,2\n"), "not an SQLite database", id="text file"
    ),
    pytest.param(lambda p: p.mkdir(), "is a folder", id="a folder with the project's name"),
    pytest.param(
        _foreign_sqlite, "not a tracker_annotate project", id="another program's SQLite file"
    ),
    pytest.param(
        _versioned(SCHEMA_VERSION + 1), "newer tracker_annotate", id="newer schema: upgrade"
    ),
    pytest.param(_versioned(0), "too old to migrate", id="older schema without a migration"),
    pytest.param(
        lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200),
        "damaged|not an SQLite|malformed",
        id="SQLite header on garbage",
    ),
]


@pytest.mark.parametrize(("make", "message"), OPEN_ERRORS)
def test_open_refuses_with_a_clear_message(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "bad.taproj"
    if make is not None:
        make(path)  # type: ignore[operator]
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(ProjectError, match=message) as info:
        ProjectStore.open(path)
    assert str(path) in str(info.value)
    if before is not None:
        assert path.read_bytes() == before, "a refused file is left untouched"


def _tamper(sql: str) -> object:
    """A valid project (track 1 with boxes on frames 0, 3, 6, 9) damaged by one SQL statement."""

    def make(p: Path, project: Project) -> None:
        ProjectStore.create(p, project).close()
        con = sqlite3.connect(p)
        con.execute(sql)
        con.commit()
        con.close()

    return make


def _garbage_in_a_coordinate(p: Path, project: Project) -> None:
    """8 bytes of the file overwritten in place (a bad sector, a bit-rotted copy): the
    bytes of one box's x2 become a valid but absurd double."""
    import struct

    _tamper("UPDATE boxes SET x2 = 321.0625 WHERE frame = 6 AND track_id = 1")(p, project)
    data = p.read_bytes()
    old = struct.pack(">d", 321.0625)
    assert data.count(old) == 1
    p.write_bytes(data.replace(old, struct.pack(">d", 1.4e306)))


DAMAGED = [
    pytest.param(
        _garbage_in_a_coordinate,
        "track 1 frame 6 is damaged",
        id="garbage bytes: a box 1.4e306 px wide was exported",
    ),
    pytest.param(
        _tamper("UPDATE boxes SET x1 = -1e300 WHERE frame = 3 AND track_id = 1"),
        "track 1 frame 3",
        id="an absurd coordinate read back",
    ),
    pytest.param(
        _tamper("UPDATE boxes SET x2 = x1 - 1 WHERE frame = 3 AND track_id = 1"),
        "track 1 frame 3",
        id="zero-size box names its track and frame",
    ),
    pytest.param(
        _tamper("UPDATE boxes SET confidence = 7 WHERE frame = 6 AND track_id = 1"),
        "track 1 frame 6",
        id="confidence outside [0, 1]",
    ),
    pytest.param(
        _tamper("UPDATE boxes SET source = 42 WHERE frame = 0 AND track_id = 1"),
        "track 1 frame 0",
        id="unknown source code",
    ),
    pytest.param(
        _tamper("UPDATE boxes SET flags = -1 WHERE frame = 3 AND track_id = 1"),
        "track 1 frame 3",
        id="flag bits outside the known four",
    ),
    pytest.param(
        _tamper("UPDATE boxes SET frame = -1 WHERE frame = 9 AND track_id = 1"),
        "track 1 frame -1",
        id="negative frame",
    ),
    pytest.param(
        _tamper("DELETE FROM tracks WHERE track_id = 1"),
        r"boxes of tracks \[1\]",
        id="boxes whose track row is gone",
    ),
    pytest.param(
        _tamper("DELETE FROM labels WHERE name = 'person'"),
        "label 'person'",
        id="track with an undefined label",
    ),
    pytest.param(
        _tamper("UPDATE meta SET value = '{\"path\": 1}' WHERE key = 'media'"),
        "media record is damaged",
        id="media record without geometry",
    ),
    pytest.param(_tamper("DROP TABLE boxes"), "damaged", id="a table is missing"),
]


@pytest.mark.parametrize(("make", "message"), DAMAGED)
def test_damaged_content_is_refused_naming_what(
    tmp_path: Path, project: Project, make: object, message: str
) -> None:
    path = tmp_path / "d.taproj"
    make(path, project)  # type: ignore[operator]
    with pytest.raises(ProjectError, match=message) as info:
        ProjectStore.open(path, check_media=False)
    assert str(path) in str(info.value)
    assert gc.isenabled(), "the loader's GC pause is undone on error"
    ProjectStore.create(path, project, overwrite=True).close()  # the file is not left locked


def test_older_schema_is_migrated_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker_annotate.io import store_schema

    path = tmp_path / "old.taproj"
    ProjectStore.create(path, Project()).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 0")
    con.execute("DELETE FROM meta WHERE key = 'next_track_id'")
    con.commit()
    con.close()
    ran: list[int] = []

    def v0_to_v1(c: sqlite3.Connection) -> None:
        ran.append(0)
        c.execute("INSERT INTO meta (key, value) VALUES ('next_track_id', '41')")

    monkeypatch.setitem(store_schema.MIGRATIONS, 0, v0_to_v1)
    with ProjectStore.open(path) as store:
        assert store.project.next_track_id == 41
    assert ran == [0]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_synchronous_must_be_normal_or_full(tmp_path: Path) -> None:
    ProjectStore.create(tmp_path / "p.taproj", Project()).close()
    with pytest.raises(ProjectError, match="synchronous"):
        ProjectStore.open(tmp_path / "p.taproj", synchronous="OFF")  # type: ignore[arg-type]
    ProjectStore.open(tmp_path / "p.taproj", synchronous="FULL").close()


def test_create_refuses_bad_targets(tmp_path: Path, project: Project) -> None:
    with pytest.raises(ProjectError, match=r"must end in \.taproj or \.sqlite"):
        ProjectStore.create(tmp_path / "clip.avi", project)
    with pytest.raises(ProjectError, match="does not exist"):
        ProjectStore.create(tmp_path / "nope" / "p.taproj", project)
    ProjectStore.create(tmp_path / "p.taproj", project).close()
    with pytest.raises(ProjectError, match="already exists"):
        ProjectStore.create(tmp_path / "p.taproj", Project())
    ProjectStore.create(tmp_path / "p.taproj", Project(), overwrite=True).close()
    assert reopened(tmp_path / "p.taproj").tracks == {}
    assert sorted(x.name for x in tmp_path.iterdir() if x.is_file()) == ["p.taproj"]
    assert (
        is_project_path("a/b.TAPROJ")
        and is_project_path("b.sqlite")
        and not is_project_path("b.db")
    )


def test_schema_markers(tmp_path: Path) -> None:
    ProjectStore.create(tmp_path / "p.taproj", Project()).close()
    con = sqlite3.connect(tmp_path / "p.taproj")
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_second_program_cannot_open_an_open_project(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "p.taproj"
    code = (
        "import sys\nfrom tracker_annotate.io.store import ProjectStore\n"
        f"s = ProjectStore.open({str(path)!r}, check_media=False)\n"
        "print('open', flush=True)\nsys.stdin.readline()\n"
    )
    ProjectStore.create(path, project).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(ProjectError, match="already open"):
            ProjectStore.open(path, check_media=False)
        with pytest.raises(ProjectError, match="already open"):
            ProjectStore.create(path, project, overwrite=True)
    finally:
        holder.communicate("\n", timeout=30)
    ProjectStore.open(path, check_media=False).close()  # free again once it exited


# -- media ------------------------------------------------------------------------------


def test_moved_media_raises_then_relink(tmp_path: Path, project: Project, video: Path) -> None:
    path = tmp_path / "p.taproj"
    ProjectStore.create(path, project).close()
    moved = tmp_path / "elsewhere" / "renamed.avi"
    moved.parent.mkdir()
    shutil.move(video, moved)
    with pytest.raises(MediaMovedError) as info:
        ProjectStore.open(path)
    msg = str(info.value)
    assert str(video) in msg and str(path) in msg and "choose the media" in msg
    assert "ProjectStore" not in msg and "relink(" not in msg  # said to an annotator
    assert info.value.expected_path == str(video)
    with ProjectStore.open(path, check_media=False) as store:
        store.relink(moved)
        assert store.project.media is not None and store.project.media.path == str(moved)
    with ProjectStore.open(path) as store:  # no error now
        assert store.project.media == probe_media(moved)
        assert snapshot(store.project)["boxes"] == snapshot(project)["boxes"]


def test_replaced_media_content_is_detected(tmp_path: Path, project: Project, video: Path) -> None:
    path = tmp_path / "p.taproj"
    ProjectStore.create(path, project).close()
    write_video(video, seed=99)  # same path, other pixels
    with pytest.raises(MediaMovedError, match="not the file the project was annotated on"):
        ProjectStore.open(path)


def test_sequence_project_written_with_the_old_fingerprint_order_opens(tmp_path: Path) -> None:
    """An older release hashed a folder's first and last image in hash-seed order; its
    projects open without a false "media moved", and the canonical fingerprint is saved."""
    from tracker_annotate.io.media import fingerprint

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((24, 32, 3), 40 * i, np.uint8))
    ref = probe_media(folder)
    old = replace(ref, fingerprint=fingerprint(folder, legacy_order=True))
    path = tmp_path / "p.taproj"
    ProjectStore.create(path, Project(old)).close()
    with ProjectStore.open(path) as store:
        assert store.project.media is not None
        assert store.project.media.fingerprint == ref.fingerprint
    with ProjectStore.open(path) as store:
        assert store.project.media is not None
        assert store.project.media.fingerprint == ref.fingerprint


def test_project_moved_together_with_its_media_finds_it(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "p.taproj"
    ProjectStore.create(path, project).close()
    shutil.move(tmp_path, tmp_path.parent / (tmp_path.name + "_moved"))
    new_root = tmp_path.parent / (tmp_path.name + "_moved")
    try:
        with ProjectStore.open(new_root / "p.taproj") as store:
            assert store.project.media is not None
            assert Path(store.project.media.path) == (new_root / "media" / "clip.avi").resolve()
        with ProjectStore.open(new_root / "p.taproj") as store:  # the new place was saved
            assert store.project.media is not None
            assert Path(store.project.media.path).parent == (new_root / "media").resolve()
    finally:
        shutil.move(new_root, tmp_path)


RELINK_REFUSALS = [
    pytest.param(
        lambda d: write_video(d / "big.avi", 12, (80, 48)), "80x48", id="other frame size"
    ),
    pytest.param(lambda d: write_video(d / "short.avi", 5), "boxes up to frame 9", id="too short"),
]


@pytest.mark.parametrize(("make", "message"), RELINK_REFUSALS)
def test_relink_refuses_incompatible_media(
    tmp_path: Path, project: Project, make: object, message: str
) -> None:
    with ProjectStore.create(tmp_path / "p.taproj", project) as store:
        with pytest.raises(ProjectError, match=message):
            store.relink(make(tmp_path))  # type: ignore[operator]
        with pytest.raises(MediaError):
            store.relink(tmp_path / "no_such.avi")
        store.check_media()  # still linked to the original


def test_relink_to_an_image_folder(tmp_path: Path) -> None:
    frames = write_images(tmp_path / "seq")
    p = Project(probe_media(frames))
    path = tmp_path / "p.taproj"
    ProjectStore.create(path, p).close()
    moved = tmp_path / "seq2"
    frames.rename(moved)
    with pytest.raises(MediaMovedError):
        ProjectStore.open(path)
    with ProjectStore.open(path, check_media=False) as store:
        store.relink(moved)
    with ProjectStore.open(path) as store:
        assert store.project.media is not None and store.project.media.n_frames == 6


# -- property: any edit sequence round trips ----------------------------------------------

_FRAMES = st.integers(0, 30)
_BOXES = st.builds(
    FrameBox,
    _FRAMES,
    st.builds(
        lambda x, y, w, h: BoxXYXY(x, y, x + w, y + h),
        st.floats(-50, 500, allow_nan=False),
        st.floats(-50, 500, allow_nan=False),
        st.floats(0.01, 300),
        st.floats(0.01, 300),
    ),
    st.sampled_from(list(BoxSource)),
    st.floats(0, 1),
    st.booleans(),
    st.text(max_size=8),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
_LABELS = st.sampled_from(["object", "car", "person"])
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("box"), st.integers(1, 4), _BOXES),
        st.tuples(st.just("unbox"), st.integers(1, 4), _FRAMES),
        st.tuples(st.just("track"), st.integers(1, 4), _LABELS, st.text(max_size=6), st.booleans()),
        st.tuples(st.just("untrack"), st.integers(1, 4)),
        st.tuples(st.just("label"), _LABELS, st.tuples(*[st.integers(0, 255)] * 3)),
        st.tuples(st.just("unlabel"), _LABELS),
        st.tuples(st.just("undo")),
        st.tuples(st.just("redo")),
    ),
    max_size=25,
)


def _apply_step(p: Project, step: tuple) -> None:  # type: ignore[type-arg]
    kind = step[0]
    try:
        if kind == "undo":
            p.history.undo()
        elif kind == "redo":
            p.history.redo()
        else:
            with p.edit(kind) as tx:
                if kind == "box" and step[1] in p.tracks:
                    tx.set_box(step[1], step[2])
                elif kind == "unbox":
                    tx.remove_box(step[1], step[2])
                elif kind == "track" and step[2] in p.labels:
                    tx.set_track(TrackInfo(step[1], step[2], step[3], step[4]))
                elif kind == "untrack":
                    tx.remove_track(step[1])
                elif kind == "label":
                    tx.set_label(Label(step[1], step[2]))
                elif kind == "unlabel":
                    tx.remove_label(step[1])
    except ProjectError:
        pass  # the model refused (label in use): nothing changed, nothing to save


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_STEPS)
def test_any_edit_sequence_round_trips(tmp_path: Path, steps: list[tuple]) -> None:  # type: ignore[type-arg]
    path = tmp_path / f"h{abs(hash(repr(steps)))}.taproj"
    p = Project(None, [Label("object"), Label("car", (1, 2, 3))])
    with p.edit("start") as tx:
        tx.set_track(TrackInfo(1))
        tx.set_track(TrackInfo(2, "car"))
    with ProjectStore.create(path, p, overwrite=True):  # shrinking replays examples
        for step in steps:
            _apply_step(p, step)
    q = reopened(path)
    assert snapshot(q) == snapshot(p)  # label order included
    path.unlink()


def test_stale_mark_is_saved_in_the_edits_own_transaction(tmp_path: Path, project: Project) -> None:
    """The edit and the note that its stretch needs re-tracking are one SQLite commit:
    killed right after the edit, the file holds both (or neither)."""
    path = tmp_path / "p.taproj"
    store = ProjectStore.create(path, project)
    tid = next(iter(project.tracks))
    frame = next(iter(project.boxes(tid)))
    commits: list[int] = []
    con = store._con
    assert con is not None
    con.set_trace_callback(lambda sql: commits.append(1) if sql == "COMMIT" else None)
    with project.edit("") as tx:
        commands.set_box_geometry(project, tid, frame, BoxXYXY(1, 1, 30, 30))
        tx.mark_stale(tid, frame)
    assert len(commits) == 1
    # read by another connection while the store is still open (what a kill leaves)
    shutil.copy(path, tmp_path / "copy.taproj")
    shutil.copy(str(path) + "-wal", str(tmp_path / "copy.taproj") + "-wal")
    store.close()
    for p in (path, tmp_path / "copy.taproj"):
        back = reopened(p)
        assert back.stale == {(tid, frame)}
        assert back.box(tid, frame) == project.box(tid, frame)
