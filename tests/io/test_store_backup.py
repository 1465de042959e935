"""Damaged project files: the integrity check on open, the rolling backup and its restore,
on real SQLite files truncated or overwritten the way copies and disks damage them."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectDamagedError, ProjectError
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io import store_backup
from tracker_annotate.io.store import ProjectStore


def big_project(n_tracks: int = 20, n_frames: int = 200) -> Project:
    """Enough boxes for a file of many pages (a truncation then cuts through data)."""
    p = Project(MediaRef("/v.mp4", n_frames, 640, 480))
    with p.edit("seed") as tx:
        for t in range(1, n_tracks + 1):
            tx.set_track(TrackInfo(t))
            for f in range(n_frames):
                box = BoxXYXY(t + f * 0.5, 10.0, t + f * 0.5 + 30.25, 60.5)
                tx.set_box(t, FrameBox(f, box, BoxSource.TRACKED, 0.75))
    return p


def truncate(path: Path, keep: float = 0.5) -> None:
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.truncate(int(size * keep))


def count_boxes(path: Path) -> int:
    with ProjectStore.open(path, check_media=False) as store:
        return store.project.n_boxes()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda p: truncate(p, 0.5), "a copy cut off half way"),
        (lambda p: truncate(p, 0.97), "the last pages missing"),
        (
            lambda p: p.write_bytes(
                p.read_bytes()[:40960] + os.urandom(4096) + p.read_bytes()[45056:]
            ),
            "a bad sector: one page of garbage in the middle",
        ),
    ],
)
def test_a_damaged_file_is_reported_as_damaged_not_as_a_bad_edit(
    tmp_path: Path, damage: object, reason: str
) -> None:
    path = tmp_path / "p.taproj"
    ProjectStore.create(path, big_project()).close()
    damage(path)  # type: ignore[operator]
    with pytest.raises(ProjectDamagedError) as info:
        ProjectStore.open(path, check_media=False)
    msg = str(info.value)
    assert str(path) in msg and "damaged" in msg, reason
    assert "no backup" in msg and info.value.backup_path is None, reason


def test_backup_is_made_refreshed_while_editing_and_on_close(tmp_path: Path) -> None:
    path = tmp_path / "p.taproj"
    bak = store_backup.backup_path(path)
    assert bak.name == "p.taproj.bak"
    store = ProjectStore.create(path, big_project(2, 20))
    store.enable_backups(every_s=0.2)
    assert bak.is_file() and count_boxes_of(bak) == 40  # one at once
    commands.add_track(store.project, 0, BoxXYXY(1, 1, 5, 5))
    assert count_boxes_of(bak) == 40, "not per edit: every few minutes"
    time.sleep(0.25)
    commands.add_track(store.project, 1, BoxXYXY(1, 1, 5, 5))
    assert count_boxes_of(bak) == 42, "refreshed once the interval passed"
    commands.add_track(store.project, 2, BoxXYXY(1, 1, 5, 5))
    store.close()
    assert count_boxes_of(bak) == 43, "and on close"


def count_boxes_of(bak: Path) -> int:
    con = sqlite3.connect(f"{bak.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM boxes").fetchone()[0])
    finally:
        con.close()


def test_damaged_file_offers_its_backup_with_its_age_and_restore_keeps_both(
    tmp_path: Path,
) -> None:
    path = tmp_path / "p.taproj"
    with ProjectStore.create(path, big_project()) as store:
        store.enable_backups()
        commands.add_track(store.project, 0, BoxXYXY(1, 1, 5, 5))
    truncate(path)
    damaged_bytes = path.read_bytes()
    with pytest.raises(ProjectDamagedError) as info:
        ProjectStore.open(path, check_media=False)
    err = info.value
    assert err.backup_path == str(store_backup.backup_path(path))
    assert "A backup from" in str(err) and "seconds ago" in str(err)
    kept = store_backup.restore_backup(path)
    assert kept.name == "p.taproj.damaged" and kept.read_bytes() == damaged_bytes
    assert count_boxes(path) == 20 * 200 + 1  # every box, the last edit included


def test_a_damaged_project_never_overwrites_the_good_backup(tmp_path: Path) -> None:
    path = tmp_path / "p.taproj"
    with ProjectStore.create(path, big_project(2, 20)) as store:
        store.enable_backups()
    good = store_backup.backup_path(path).read_bytes()
    # the open file gets damaged under the store (a bad sector); its backup copy fails
    # the check and is not installed
    store = ProjectStore.open(path, check_media=False)
    store.enable_backups(every_s=1000)
    con = store._con
    assert con is not None
    con.execute("PRAGMA writable_schema = ON")
    con.execute("UPDATE sqlite_schema SET rootpage = 999 WHERE name = 'boxes'")
    con.execute("PRAGMA writable_schema = OFF")
    assert store.backup() is None
    store.close()
    assert store_backup.backup_path(path).read_bytes() == good


def test_restore_without_a_backup_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.taproj"
    ProjectStore.create(path, big_project(1, 5)).close()
    with pytest.raises(ProjectError, match="no usable backup"):
        store_backup.restore_backup(path)


def test_age_text_reads_like_a_person_would_say_it(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_text("x")
    now = f.stat().st_mtime
    assert store_backup.age_text(f, now + 30).startswith("30 seconds ago")
    assert store_backup.age_text(f, now + 600).startswith("10 minutes ago")
    assert store_backup.age_text(f, now + 5 * 3600).startswith("5 hours ago")
    assert store_backup.age_text(f, now + 3 * 86400).startswith("3 days ago")
