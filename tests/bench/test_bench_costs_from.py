"""``bench --costs-from``: a recorded session's measured costs price the benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_helpers import moving, static
from conftest import MakeSequence

from tracker_annotate.app.worklog import WorkRecorder
from tracker_annotate.bench.costs import COST_SOURCES, costs_from_report
from tracker_annotate.cli.main import main
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ConfigError
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.store import ProjectStore


def recorded_session(path: Path) -> None:
    """Draws of 9, 10 and 12 s (median 10) and accepts of 2 and 3 s (median 2.5)."""
    p = Project(MediaRef("v.mp4", 10, 100, 100))
    with p.edit("seed") as tx:
        tx.set_track(TrackInfo(1))
        for f in range(10):
            tx.set_box(1, FrameBox(f, BoxXYXY(1, 1, 20, 20), BoxSource.TRACKED, 0.5))
    t = [0.0]
    with ProjectStore.create(path, p) as store:
        rec = WorkRecorder(store, "pilot", clock=lambda: t[0], wall=lambda: 1.8e9 + t[0])
        for dt, kind in [(9, "draw"), (2, "accept"), (10, "draw"), (3, "accept"), (12, "draw")]:
            t[0] += dt
            rec.note(kind, 1, 0)  # type: ignore[arg-type]
        rec.close()


def test_bench_prices_with_the_recorded_costs(
    make_sequence: MakeSequence, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded_session(tmp_path / "pilot.taproj")
    assert main(["report", str(tmp_path / "pilot.taproj"), "--json"]) == 0
    report = tmp_path / "report.json"
    report.write_text(capsys.readouterr().out)
    seq = make_sequence({1: static(range(30)), 2: moving(range(5, 30), 0, 0, 2, 1)}, 30)
    out = tmp_path / "out"
    argv = ["bench", str(seq), "--out", str(out), "--strategies", "per_frame,interpolation"]
    assert main([*argv, "--costs-from", str(report), "--watch-s", "0.5", "--no-progress"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["costs"] == {
        "draw_s": 10.0,  # measured
        "verify_s": 2.5,  # measured
        "correct_s": 7.0,  # no adjust recorded: the default
        "end_mark_s": 1.6,  # no outside recorded: the default
        "watch_s": 0.5,  # given on the command line: wins over the record
    }
    assert "measured" in res["cost_sources"]["draw_s"] and "3 draw" in res["cost_sources"]["draw_s"]
    assert res["cost_sources"]["correct_s"] == COST_SOURCES["correct_s"]
    assert res["cost_sources"]["watch_s"] == "--watch-s on the command line"
    n = res["summary"]["per_frame"]["gt_boxes"]
    assert res["summary"]["per_frame"]["seconds"] == pytest.approx(n * 10.0)
    assert "--draw-s 10 " in res["command"]  # the run is reproducible without the file
    assert "measured" in (out / "report.md").read_text()


def test_a_wrong_file_is_named(tmp_path: Path) -> None:
    f = tmp_path / "r.json"
    f.write_text('{"total": {}}')
    with pytest.raises(ConfigError, match="report --json"):
        costs_from_report(f)
