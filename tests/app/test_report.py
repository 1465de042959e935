"""The report's figures on constructed projects whose boxes and recorded actions are known,
and its text, JSON and HTML outputs through the real CLI.

Project A: one annotator; every box category once or more; actions with exact durations
(an injected clock). Project B: another annotator answering an audit round.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest

from tracker_annotate.app import report as rp
from tracker_annotate.app.report_html import residual_over_time
from tracker_annotate.app.worklog import WorkRecorder
from tracker_annotate.bench.costs import CostModel
from tracker_annotate.bench.report import KNOWN_TOTAL
from tracker_annotate.cli.main import main
from tracker_annotate.core import audit
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ConfigError, ProjectError
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.store import ProjectStore

XYXY = BoxXYXY(10, 10, 30, 40)
T, M, P = BoxSource.TRACKED, BoxSource.MANUAL, BoxSource.IMPORTED


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _box(f: int, src: BoxSource = T, **kw: object) -> FrameBox:
    return FrameBox(f, XYXY, src, 0.9 if src == T else 1.0, **kw)  # type: ignore[arg-type]


def project_a() -> Project:
    """Boxes: drawn 2, corrected 1, tracked accepted 5, tracked unseen 17, proposed
    accepted 1, flags left 1; an open proposal; an outside mark. Tracks of 20, 6, 1 boxes."""
    p = Project(MediaRef("a.mp4", 100, 100, 100))
    with p.edit("seed") as tx:
        for tid in (1, 2, 4):
            tx.set_track(TrackInfo(tid))
        tx.set_track(TrackInfo(3, proposed=True))
        tx.set_box(1, _box(0, M))
        for f in range(1, 20):
            tx.set_box(1, _box(f))
        for f in range(5, 10):
            tx.set_box(1, _box(f, verified=True))  # 5 accepted, 6..9 by a stretch
        tx.set_box(1, _box(10, flagged=True, flag_reason="low"))
        tx.set_box(1, _box(12, M))  # corrected
        tx.set_box(2, _box(3, P, verified=True))  # a proposal accepted
        for f in range(4, 9):
            tx.set_box(2, _box(f))
        tx.set_box(3, _box(0, P))  # an open proposal
        tx.set_box(4, _box(50, M))
        tx.set_box(4, _box(51, M, outside=True))
    p.history.clear()
    return p


def record_a(store: ProjectStore) -> None:
    c = Clock()
    rec = WorkRecorder(store, "ann", clock=c, wall=lambda: 1.8e9 + c.t)
    flagged = _box(0, flagged=True, flag_reason="low")
    for dt, args, kw in [
        (7.0, ("draw", 1, 0), {}),
        (2.0, ("accept", 1, 5), {"box": flagged}),
        (3.0, ("stretch", 1, 6), {"n_boxes": 4, "flags_delta": -4}),
        (5.0, ("adjust", 1, 12), {"box": flagged}),
        (1.0, ("accept", 2, 3), {"subject": "proposal", "box": _box(3, P)}),
        (9.0, ("draw", 4, 50), {}),
    ]:
        c.t += dt
        rec.note(*args, **kw)  # type: ignore[arg-type]
    c.t += 40.0
    rec.activity()  # 40 s without input: idle
    rec.watch_started()
    c.t += 10.0
    rec.watch_stopped(n_boxes=20)
    rec.close()


def project_b() -> tuple[Project, list[tuple[int, int]]]:
    p = Project(MediaRef("b.mp4", 60, 100, 100))
    with p.edit("seed") as tx:
        tx.set_track(TrackInfo(1))
        tx.set_box(1, _box(0, M))
        for f in range(1, 60):
            tx.set_box(1, FrameBox(f, XYXY, T, 0.6 if f % 10 == 0 else 0.98))
    rnd = audit.start_audit(p, seed=5, n=6)
    p.history.clear()
    return p, [(s.track_id, s.frame) for s in rnd.samples]


def record_b(store: ProjectStore, samples: list[tuple[int, int]]) -> None:
    c = Clock()
    rec = WorkRecorder(store, "bob", clock=c, wall=lambda: 1.8e9 + c.t)
    p = store.project
    for i, (tid, f) in enumerate(samples):
        c.t += 2.0
        outcome = "wrong" if i == 0 else "ok"
        box = p.box(tid, f)
        audit.record_outcome(p, tid, f, outcome)
        rec.note("audit", tid, f, box=box, subject="sample", outcome=outcome)
    rec.close()


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    with ProjectStore.create(tmp_path / "a.taproj", project_a()) as store:
        record_a(store)
    pb, samples = project_b()
    (tmp_path / "sub").mkdir()
    with ProjectStore.create(tmp_path / "sub" / "b.taproj", pb) as store:
        record_b(store, samples)
    return tmp_path


def test_project_figures_match_the_known_work(projects: Path) -> None:
    a = rp.read_project(projects / "a.taproj")
    assert a.boxes == {
        "drawn": 2,
        "corrected": 1,
        "tracked_accepted": 5,
        "tracked_unseen": 17,
        "proposed_accepted": 1,
        "imported": 0,
        "flags_left": 1,
    }
    assert a.open_proposals == 1 and a.finished_boxes == 26
    w = a.work
    assert w.time_worked_s == pytest.approx(7 + 2 + 3 + 5 + 1 + 9 + 10)
    assert w.idle_s == pytest.approx(40.0)
    assert w.flags_reviewed == 1 + 4 + 1
    assert w.boxes_handled == 1 + 1 + 4 + 1 + 1 + 1
    assert w.costs["draw_s"].value == pytest.approx(8.0) and w.costs["draw_s"].n == 2
    assert w.costs["verify_s"].value == pytest.approx(1.5)
    assert w.costs["correct_s"].value == pytest.approx(5.0)
    assert w.costs["watch_s"].value == pytest.approx(0.5)
    assert not w.costs["end_mark_s"].measured and w.costs["end_mark_s"].value == 1.6
    s = a.savings
    # tracks of 20, 6 and 1 boxes at 9.66 boxes per keyframe: 3 + 2 + 1 keyframes; all
    # three end before the video's last frame
    assert (s.boxes, s.keyframes, s.end_marks) == (27, 6, 3)
    assert s.per_frame_s == pytest.approx(27 * 8.0)
    assert s.interpolation_s == pytest.approx(6 * 8.0 + 27 * 0.5 + 3 * 1.6)
    assert s.real_s == pytest.approx(37.0)
    assert a.audit is None and residual_over_time(a) == []


def test_audit_estimate_and_its_history(projects: Path) -> None:
    b = rp.read_project(projects / "sub" / "b.taproj")
    with ProjectStore.open(projects / "sub" / "b.taproj", check_media=False) as store:
        want = audit.estimate(store.project.quality.rounds[-1])
    assert want is not None and b.audit == want.as_dict()
    assert b.audit["checked"] == 6 and b.audit["wrong"] == 1
    hist = residual_over_time(b)
    assert hist, "no estimate after the answers"
    last = hist[-1]
    assert last[1:] == pytest.approx((want.residual, want.residual_lo, want.residual_hi))
    assert b.work.costs["verify_s"].n == 5 and b.work.costs["correct_s"].n == 1


def test_the_set_pools_projects_and_splits_annotators(projects: Path) -> None:
    paths = rp.find_projects([projects])
    assert [p.name for p in paths] == ["a.taproj", "b.taproj"]
    figs = [rp.read_project(p) for p in paths]
    r = rp.build_report(figs)
    assert set(r["annotators"]) == {"ann", "bob"}
    assert r["annotators"]["ann"]["time_worked_s"] == pytest.approx(37.0)
    assert r["annotators"]["bob"]["time_worked_s"] == pytest.approx(12.0)
    assert r["annotators"]["bob"]["sessions"] == 1
    t = r["total"]
    assert t["time_worked_s"] == pytest.approx(49.0)
    assert t["boxes"]["drawn"] == 2 + 1 and t["finished_boxes"] == 26 + 60
    assert t["seconds_per_finished_box"] == pytest.approx(49.0 / 86, abs=1e-4)
    assert t["estimate"]["real_s"] == pytest.approx(49.0)
    assert "estimates" in r["estimate_note"].lower()
    json.dumps(r)  # plain JSON values only


def test_defaults_are_the_benchmarks() -> None:
    d = CostModel()
    assert {k: getattr(d, k) for k in rp.DEFAULT_COSTS} == rp.DEFAULT_COSTS
    assert KNOWN_TOTAL["gt_boxes"] / KNOWN_TOTAL["keyframes"] == rp.DEFAULT_KEYFRAME_SPACING


def test_cli_json_and_text(projects: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(projects), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert [Path(p["path"]).name for p in r["projects"]] == ["a.taproj", "b.taproj"]
    assert r["projects"][0]["boxes"]["corrected"] == 1
    assert r["projects"][1]["audit"]["wrong"] == 1
    assert main(["report", str(projects / "a.taproj")]) == 0
    text = capsys.readouterr().out
    assert "drawn 2" in text and "corrected 1" in text and "flags left 1" in text
    assert "Estimates, not measurements" in text


def test_cli_html(projects: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")  # the [bench] extra (absent from `make core`)
    out = projects / "r.html"
    assert main(["report", str(projects / "a.taproj"), "--html", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text()
    assert page.count("<svg") == 3  # time per box, flags left, confidence (no audit in A)
    assert "Estimated time saved" in page and "a.taproj" in page
    assert main(["report", str(projects), "--html", str(out)]) == 0
    assert out.read_text().count("<svg") == 4  # and the audit's residual over time


def test_text_and_json_need_no_plotting_library(projects: Path) -> None:
    from tests.cli.test_core_install import _cli_without

    run = _cli_without(["report", str(projects), "--json"])
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("LOADED:"), run.stdout[-200:]
    run = _cli_without(["report", str(projects), "--html", str(projects / "r.html")])
    assert run.returncode == 2 and "tracker-annotate[bench]" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not (projects / "r.html").exists()


def test_bench_results_give_the_spacing(projects: Path, tmp_path: Path) -> None:
    res = tmp_path / "results.json"
    res.write_text(json.dumps({"summary": {"interpolation": {"gt_boxes": 100, "manual_boxes": 4}}}))
    a = rp.read_project(projects / "a.taproj", rp.spacing_from_bench(res))
    assert a.savings.keyframes == (1 + math.ceil(19 / 25)) + (1 + 1) + 1
    res.write_text("{}")
    with pytest.raises(ConfigError, match=r"summary\.interpolation"):
        rp.spacing_from_bench(res)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p.write_text("hello"), "not an SQLite database"),
        (lambda p: sqlite3.connect(p).execute("CREATE TABLE x (a)").connection.commit(), "not a"),
    ],
    ids=["not SQLite", "foreign SQLite"],
)
def test_foreign_files_are_named(tmp_path: Path, make: object, match: str) -> None:
    f = tmp_path / "x.taproj"
    make(f)  # type: ignore[operator]
    with pytest.raises(ProjectError, match=match):
        rp.read_project(f)


def test_an_open_project_is_named_and_skipped(
    projects: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ProjectStore.open(projects / "a.taproj", check_media=False):
        with pytest.raises(ProjectError, match="open in tracker-annotate"):
            rp.read_project(projects / "a.taproj")
        assert main(["report", str(projects), "--json"]) == 0  # the others are reported
        out = capsys.readouterr()
        assert [Path(p["path"]).name for p in json.loads(out.out)["projects"]] == ["b.taproj"]
        assert "skipped" in out.err and "a.taproj" in out.err
        assert main(["report", str(projects / "a.taproj")]) == 2  # nothing readable
