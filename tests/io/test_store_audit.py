"""The quality state (target, threshold, audit rounds and outcomes) in the project file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tracker_annotate.core import audit, quality
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.store import ProjectStore
from tracker_annotate.io.store_schema import SCHEMA_VERSION


def tracked_project(n: int = 120) -> Project:
    p = Project(MediaRef("v.mp4", n + 1, 100, 100))
    with p.edit("seed") as tx:
        tx.set_track(TrackInfo(1))
        tx.set_box(1, FrameBox(0, BoxXYXY(0, 0, 10, 10)))
        for f in range(1, n + 1):
            c = 0.6 if f % 10 == 0 else 0.98
            tx.set_box(1, FrameBox(f, BoxXYXY(0, 0, 10, 10), BoxSource.TRACKED, c))
    p.history.clear()
    return p


def test_audit_seed_and_outcomes_survive_a_restart_and_undo_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "p.taproj"
    store = ProjectStore.create(path, tracked_project())
    p = store.project
    audit.set_target(p, 0.02)
    audit.apply_threshold(p, 0.7)
    rnd = audit.start_audit(p, seed=1234, n=12, force=True)
    for s in rnd.samples[:5]:
        audit.record_outcome(p, s.track_id, s.frame, "ok")
    audit.record_outcome(p, rnd.samples[5].track_id, rnd.samples[5].frame, "wrong")
    p.history.undo()  # the "wrong" outcome is taken back, and the file knows it
    before = p.quality
    store.close()
    with ProjectStore.open(path, check_media=False) as again:
        q = again.project.quality
        assert q == before
        assert (q.target, q.threshold, q.rounds[0].seed) == (0.02, 0.7, 1234)
        assert q.rounds[0].checked == 5 and q.rounds[0].wrong == 0
    # the draw is reproducible from the stored seed on the same boxes
    fresh = tracked_project()
    audit.apply_threshold(fresh, 0.7)
    assert [(s.track_id, s.frame) for s in audit.draw_audit(fresh, 12, 1234).samples] == [
        (s.track_id, s.frame) for s in before.rounds[0].samples
    ]


def test_save_as_carries_the_audit(tmp_path: Path) -> None:
    store = ProjectStore.create(tmp_path / "a.taproj", tracked_project())
    audit.start_audit(store.project, seed=9, n=4)
    new = store.save_as(tmp_path / "b.taproj")
    want = new.project.quality
    new.close()
    with ProjectStore.open(tmp_path / "b.taproj", check_media=False) as b:
        assert b.project.quality == want and len(want.rounds[0].samples) == 4


def test_v1_file_is_migrated_to_the_audit_schema(tmp_path: Path) -> None:
    path = tmp_path / "old.taproj"
    ProjectStore.create(path, tracked_project()).close()
    con = sqlite3.connect(path)
    con.execute("DROP TABLE audit_samples")
    con.execute("DROP TABLE audit_rounds")
    con.execute("DELETE FROM meta WHERE key = 'quality'")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    with ProjectStore.open(path, check_media=False) as store:
        assert store.project.quality == quality.QualityState()
        assert store.project.n_boxes() == 121
        audit.start_audit(store.project, seed=3, n=5)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 2
    assert con.execute("SELECT COUNT(*) FROM audit_samples").fetchone()[0] == 5
    con.close()


def test_damaged_outcome_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.taproj"
    with ProjectStore.create(path, tracked_project()) as store:
        audit.start_audit(store.project, seed=3, n=5)
    con = sqlite3.connect(path)
    con.execute("UPDATE audit_samples SET outcome = 7 WHERE ord = 2")
    con.commit()
    con.close()
    with pytest.raises(ProjectError, match=r"audit round 0 sample 2 has outcome code 7"):
        ProjectStore.open(path, check_media=False)


def test_impossible_target_in_the_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.taproj"
    ProjectStore.create(path, tracked_project()).close()
    con = sqlite3.connect(path)
    con.execute(
        "UPDATE meta SET value = '{\"target\": 3, \"threshold\": null}' WHERE key = 'quality'"
    )
    con.commit()
    con.close()
    with pytest.raises(
        ProjectError,
        match=r"p\.taproj: the project file is damaged \(the audit record is damaged: quality",
    ):
        ProjectStore.open(path, check_media=False)
