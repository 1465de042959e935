"""The review outcomes and the recalibration in a real project file: saved with the edit,
refitted the same after reopening, undo saved, old files migrated, damage named."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.core.test_recalibration import THRESHOLD, population, review_flags
from tracker_annotate.cli.main import main
from tracker_annotate.core import audit, recal_report, recalibration
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.quality import QualityState
from tracker_annotate.io.store import ProjectStore
from tracker_annotate.io.store_schema import SCHEMA_VERSION


def _flags(store: ProjectStore) -> set[tuple[int, int, str]]:
    p = store.project
    return {(t, f, b.flag_reason) for t in p.tracks for f, b in p.boxes(t).items() if b.flagged}


def test_outcomes_survive_reopening_and_the_refit_is_the_same(tmp_path: Path) -> None:
    path = tmp_path / "p.taproj"
    p, truth = population(1.0, n_tracks=2, n_frames=300)
    with ProjectStore.create(path, p) as store:
        review_flags(store.project, truth)
        rnd = audit.start_audit(store.project, seed=3, n=30, force=True)
        for s in rnd.samples:
            ok = truth[(s.track_id, s.frame)]
            audit.check_sample(store.project, s.track_id, s.frame, "ok" if ok else "wrong")
        res = recalibration.recalibrate(store.project, THRESHOLD)
        reviews = store.project.quality.reviews
        flags = _flags(store)
    assert res.state.flagged > 0
    with ProjectStore.open(path, check_media=False) as store:
        q = store.project.quality
        assert q.reviews == reviews and q.recal == res.state
        assert _flags(store) == flags
        # the outcomes are the source of truth: the map is recomputed exactly
        again = recalibration.fit(q.reviews)
        assert (again.map.a, again.map.b) == (res.state.a, res.state.b)
        assert again.support_hi == res.state.support_hi
        # and running it again changes no flag
        st = recalibration.recalibrate(store.project, THRESHOLD).state
        assert (st.a, st.b, st.flagged, st.lifted) == (res.state.a, res.state.b, 0, 0)
        assert _flags(store) == flags
        store.project.history.undo()  # the undo is saved too
        store.project.history.undo()
    with ProjectStore.open(path, check_media=False) as store:
        assert store.project.quality.recal == res.state  # (the second run's undo)
        assert len(store.project.quality.reviews) == len(reviews)


def test_undoing_the_recalibration_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "p.taproj"
    p, truth = population(1.0, n_tracks=1, n_frames=300)
    with ProjectStore.create(path, p) as store:
        review_flags(store.project, truth)
        before = _flags(store)
        recalibration.recalibrate(store.project, THRESHOLD)
        assert _flags(store) != before
        store.project.history.undo()
    with ProjectStore.open(path, check_media=False) as store:
        assert store.project.quality.recal is None and _flags(store) == before


def test_v3_file_is_migrated_to_the_review_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "old.taproj"
    p, truth = population(1.0, n_tracks=1, n_frames=60)
    ProjectStore.create(path, p).close()
    con = sqlite3.connect(path)
    con.execute("DROP TABLE review_outcomes")
    con.execute("PRAGMA user_version = 3")
    con.commit()
    con.close()
    with ProjectStore.open(path, check_media=False) as store:
        assert store.project.quality == QualityState()
        n = review_flags(store.project, truth)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert con.execute("SELECT COUNT(*) FROM review_outcomes").fetchone()[0] == n > 0
    con.close()


def test_damaged_outcome_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.taproj"
    p, truth = population(1.0, n_tracks=1, n_frames=60)
    with ProjectStore.create(path, p) as store:
        review_flags(store.project, truth)
    con = sqlite3.connect(path)
    con.execute("UPDATE review_outcomes SET selection = 'guess' WHERE ord = 2")
    con.commit()
    con.close()
    with pytest.raises(ProjectError, match=r"review outcome 2 is damaged"):
        ProjectStore.open(path, check_media=False)


def test_status_shows_what_was_learned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.taproj"
    p, truth = population(1.0, n_tracks=2, n_frames=300)
    with ProjectStore.create(path, p) as store:
        st0 = recal_report.report(store.project)
        review_flags(store.project, truth)
        res = recalibration.recalibrate(store.project, THRESHOLD)
    assert st0["fitted"] is False and st0["reviews"] == 0
    capsys.readouterr()
    assert main(["status", str(path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)["recalibration"]
    assert rep["fitted"] is True and rep["direction"] == "lowered"
    assert rep["reviews_used"] == rep["labels_at_fit"] == res.state.labels
    assert rep["reviews_by_selection"] == {"flag": res.state.labels, "audit": 0, "other": 0}
    assert rep["flagged_by_recalibration"] == res.state.flagged > 0
    assert rep["intercept"] == res.state.a and rep["slope"] == res.state.b
    assert rep["summary"] == (
        f"learned from {res.state.labels} reviews: confidence lowered; "
        f"{res.state.flagged} more boxes flagged"
    )
    assert 0 < rep["predicted_residual_recalibrated"] < 1
    assert main(["status", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"learned:    {rep['summary']}" in text
