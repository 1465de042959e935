"""``audit DIR_OR_PROJECTS... ACTION`` on real project files: one audit over a folder."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tracker_annotate.cli.main import main
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.store import ProjectStore

XY = BoxXYXY(0, 0, 10, 10)


def make_dataset(root: Path, sizes: tuple[int, ...] = (300, 500, 400)) -> list[Path]:
    """Project files in sub-folders of ``root``, two tracked tracks each, confident boxes."""
    rng = np.random.default_rng(0)
    out = []
    for i, n in enumerate(sizes):
        p = Project(MediaRef(f"v{i}.mp4", n + 1, 100, 100))
        with p.edit("seed") as tx:
            for t in (1, 2):
                tx.set_track(TrackInfo(t))
                tx.set_box(t, FrameBox(0, XY))
                for f in range(1, n + 1):
                    c = float(1.0 - rng.beta(0.5, 200.0))
                    tx.set_box(t, FrameBox(f, XY, BoxSource.TRACKED, c))
        p.history.clear()
        (root / f"clip{i}").mkdir(parents=True)
        path = root / f"clip{i}" / f"clip{i}.taproj"
        ProjectStore.create(path, p).close()
        out.append(path)
    return out


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _fill(sheet: Path, out: Path, verdict: dict[str, str]) -> None:
    """The reviewer's sheet: ``verdict[look]`` for each row of that look."""
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    for r in rows:
        r["outcome"] = verdict.get(r["look"], "")
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_plan_start_samples_record_next_over_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ds"
    paths = make_dataset(root)
    plan = _json(capsys, ["audit", str(root), "plan"])
    assert plan["plan"]["feasible"] and plan["plan"]["samples"] > 0
    assert sorted(plan["plan"]["per_project"]) == [f"clip{i}/clip{i}.taproj" for i in range(3)]
    assert not (root / "dataset_audit.json").exists()  # plan writes nothing

    sheet = tmp_path / "s.csv"
    start = _json(capsys, ["audit", str(root), "start", "--seed", "4", "--csv", str(sheet)])
    n = plan["plan"]["samples"]
    assert len(start["samples"]) == n and start["figures"]["decision"] == "check"
    manifest = json.loads((root / "dataset_audit.json").read_text())
    assert manifest["rounds"][0]["seed"] == 4 and len(manifest["projects"]) == 3
    # each project holds its own share, as an audit round the app walks with F
    for path, mp in zip(paths, manifest["rounds"][0]["projects"], strict=True):
        with ProjectStore.open(path, check_media=False) as st:
            assert len(st.project.quality.rounds[-1].samples) == mp["samples"] > 0

    # the same seed on the same projects draws the same samples
    again = tmp_path / "again"
    make_dataset(again)
    same = _json(capsys, ["audit", str(again), "start", "--seed", "4"])
    key = [(r["project"], r["track_id"], r["frame"]) for r in start["samples"]]
    assert [(r["project"], r["track_id"], r["frame"]) for r in same["samples"]] == key

    # looks 1-2 checked, all right: not yet enough for this plan's bound
    _fill(sheet, tmp_path / "o.csv", {"1": "ok", "2": "ok"})
    rec = _json(capsys, ["audit", str(root), "record", "--csv", str(tmp_path / "o.csv")])
    done = sum(r["look"] in (1, 2) for r in start["samples"])
    assert rec["recorded"] == done and rec["figures"]["checked"] == done
    nxt = _json(capsys, ["audit", str(root), "next"])
    assert nxt["decision"] == "check" and nxt["look"] == 2
    # the rest, one wrong with its corrected box typed on the command line
    rows = [r for r in start["samples"] if r["look"] > 2]
    one = rows[0]
    item = f"{one['project']}:{one['track_id']}:{one['frame']}=wrong"
    assert main(["audit", str(root), "record", item]) == 0
    _fill(sheet, tmp_path / "o2.csv", {"3": "ok", "4": "ok"})
    _json(capsys, ["audit", str(root), "record", "--csv", str(tmp_path / "o2.csv")])
    final = _json(capsys, ["audit", str(root), "next"])
    figs = final["figures"]
    assert figs["checked"] == n and figs["wrong"] == 1 and final["look"] == 4
    assert final["decision"] in ("accept", "reject")
    lo, hi = figs["residual_interval"]
    assert lo <= figs["residual"] <= hi

    # status --json on a project of the set carries the dataset's figures
    st = _json(capsys, ["status", str(paths[1])])
    d = st["dataset_audit"]
    assert d["projects"] == 3 and d["samples"] == n and d["wrong"] == 1
    assert d["residual_interval"] == [lo, hi] and d["manifest"] == "../dataset_audit.json"
    assert d["level"] == 0.95 and d["date"] and d["round"] == 0
    assert st["audit"]["next"] == "dataset"  # its own share is not judged alone


def test_every_export_carries_the_dataset_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ds"
    paths = make_dataset(root, (200, 250))
    assert main(["audit", str(root), "start", "--seed", "1"]) == 0
    proj = str(paths[0])
    assert main(["export", proj, str(tmp_path / "a.json")]) == 0
    capsys.readouterr()
    info = json.loads((tmp_path / "a.json").read_text())["info"]["tracker_annotate_quality"]
    assert info["dataset_audit"]["projects"] == 2 and info["dataset_audit"]["decision"] == "check"
    assert main(["export", proj, str(tmp_path / "a.xml")]) == 0
    q = ET.parse(tmp_path / "a.xml").getroot().find("meta/tracker_annotate_quality/dataset_audit")
    assert q is not None and q.get("projects") == "2" and q.findtext("decision") == "check"
    assert main(["export", proj, str(tmp_path / "gt.txt")]) == 0
    assert json.loads((tmp_path / "gt.quality.json").read_text())["dataset_audit"]["samples"] > 0
    assert main(["export", proj, str(tmp_path / "yolo"), "--format", "yolo"]) == 0
    side = json.loads((tmp_path / "yolo" / "quality.json").read_text())
    assert side["dataset_audit"]["projects"] == 2
    err = capsys.readouterr().err
    assert "dataset audit is unfinished" in err


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "cut or garbled JSON"),
        ('{"format": "something else", "version": 1}', "another file's JSON"),
        ('{"format": "tracker_annotate dataset audit", "version": 1}', "keys missing"),
        ('{"format": "tracker_annotate dataset audit", "version": 9}', "a newer version"),
    ],
)
def test_a_damaged_manifest_is_an_error_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, why: str
) -> None:
    root = tmp_path / "ds"
    paths = make_dataset(root, (100, 120))
    assert main(["audit", str(root), "start", "--seed", "1"]) == 0
    before = [p.read_bytes() for p in paths]
    (root / "dataset_audit.json").write_text(text)
    capsys.readouterr()
    assert main(["audit", str(root), "samples"]) == 2, why
    err = capsys.readouterr().err
    assert str(root / "dataset_audit.json") in err and "manifest" in err
    assert [p.read_bytes() for p in paths] == before  # nothing touched


def test_a_changed_project_is_detected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "ds"
    paths = make_dataset(root, (150, 200))
    start = _json(capsys, ["audit", str(root), "start", "--seed", "2"])
    assert start["changes"] == []
    sampled = {
        (r["track_id"], r["frame"]) for r in start["samples"] if r["project"].startswith("clip1")
    }
    frame = next(f for f in range(1, 200) if (2, f) not in sampled)
    with ProjectStore.open(paths[1], check_media=False) as st:  # someone edits an unseen box
        b = st.project.box(2, frame)
        assert b is not None
        with st.project.edit("move") as tx:
            tx.set_box(2, b.with_(xyxy=BoxXYXY(2, 2, 12, 12)))
        st.flush()
    capsys.readouterr()
    assert main(["audit", str(root), "next"]) == 2
    err = capsys.readouterr().err
    assert "clip1/clip1.taproj: boxes changed since the draw (tracks 2)" in err
    # a new project in the folder is a change too
    make_dataset(root / "more", (50,))
    samples = _json(capsys, ["audit", str(root), "samples"])
    assert "more/clip0/clip0.taproj: added since the audit started" in samples["changes"]


def test_one_project_file_keeps_the_project_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (path,) = make_dataset(tmp_path / "ds", (100,))
    out = _json(capsys, ["audit", str(path), "start", "--seed", "3", "--samples", "5"])
    assert len(out["samples"]) == 5 and "status" in out
    assert not (tmp_path / "ds" / "dataset_audit.json").exists()
