"""``status`` and ``audit`` headless, on a project made by ``track``; quality in exports."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tracker_annotate.cli.main import main
from tracker_annotate.io.store import ProjectStore

SAMPLE = Path(__file__).resolve().parents[2] / "sample_videos"
pytestmark = pytest.mark.skipif(not (SAMPLE / "synthetic").is_dir(), reason="no sample_videos")


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("q") / "p.taproj"
    # the fast back-end: these tests are about status and the audit, not the engine
    args = ["track", str(SAMPLE / "synthetic"), "--init", str(SAMPLE / "keyframes.txt")]
    args += ["--tracker", "nano"]
    assert main([*args, "--out", str(out), "--quiet", "--flag-threshold", "0.6"]) == 0
    return out


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_headless_audit_loop_on_a_tracked_project(
    tracked: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = tmp_path / "p.taproj"
    proj.write_bytes(tracked.read_bytes())
    st = _json(capsys, ["status", str(proj), "--json"])
    assert st["unreviewed_flags"] > 0 and st["audit"] is None
    assert 0 < st["predicted_residual"] < 1

    plan = _json(capsys, ["audit", str(proj), "plan", "--target", "0.02", "--apply", "--json"])
    assert plan["plan"]["predicted_residual"] <= 0.02
    st2 = _json(capsys, ["status", str(proj), "--json"])
    assert st2["target_residual"] == 0.02
    assert st2["unreviewed_flags"] == plan["plan"]["flag"]
    assert st2["predicted_residual"] <= 0.02 + 1e-12

    # flags unreviewed: the audit is refused with a reason, unless forced
    capsys.readouterr()
    assert main(["audit", str(proj), "start", "--seed", "5"]) == 2
    assert "still unreviewed" in capsys.readouterr().err
    sheet = tmp_path / "samples.csv"
    start = ["audit", str(proj), "start", "--seed", "5", "--samples", "12", "--force"]
    assert main([*start, "--csv", str(sheet)]) == 0
    rows = list(csv.DictReader(sheet.open()))
    assert len(rows) == 12 and {r["outcome"] for r in rows} == {""}

    # the reviewer fills the sheet: one wrong (with a corrected box), the rest ok
    rows[0]["outcome"] = "wrong"
    rows[0]["x1"] = str(float(rows[0]["x1"]) + 15)
    for r in rows[1:]:
        r["outcome"] = "ok"
    with sheet.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    rec = _json(capsys, ["audit", str(proj), "record", "--csv", str(sheet), "--json"])
    assert rec["recorded"] == 12
    a = rec["status"]["audit"]
    assert (a["checked"], a["wrong"], a["seed"]) == (12, 1, 5)
    lo, hi = a["estimate"]["residual_interval"]
    assert 0 < lo < a["estimate"]["residual"] < hi < 1
    assert a["summary"].startswith("Audit: 12 checked, 1 wrong")

    with ProjectStore.open(proj, check_media=False) as store:  # saved, and the correction too
        p = store.project
        tid, frame = int(rows[0]["track_id"]), int(rows[0]["frame"])
        fixed = p.box(tid, frame)
        assert fixed is not None and fixed.is_keyframe
        ok = p.box(int(rows[1]["track_id"]), int(rows[1]["frame"]))
        assert ok is not None and ok.verified
        assert p.quality.rounds[0].wrong == 1

    capsys.readouterr()
    assert main(["status", str(proj)]) == 0
    text = capsys.readouterr().out
    assert "Audit: 12 checked, 1 wrong" in text and "interval:" in text


def test_exports_carry_the_quality_figures_and_warn(
    tracked: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = tmp_path / "p.taproj"
    proj.write_bytes(tracked.read_bytes())
    assert main(["audit", str(proj), "start", "--seed", "1", "--samples", "6", "--force"]) == 0
    capsys.readouterr()
    assert main(["export", str(proj), str(tmp_path / "a.json")]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "flagged boxes" in err and "audit is unfinished" in err
    info = json.loads((tmp_path / "a.json").read_text())["info"]["tracker_annotate_quality"]
    assert info["audit"]["drawn"] == 6 and info["audit"]["seed"] == 1

    assert main(["export", str(proj), str(tmp_path / "a.xml")]) == 0
    q = ET.parse(tmp_path / "a.xml").getroot().find("meta/tracker_annotate_quality")
    assert q is not None and q.find("audit") is not None
    assert json.loads(q.findtext("json") or "")["unreviewed_flags"] > 0

    assert main(["export", str(proj), str(tmp_path / "gt.txt")]) == 0
    side = json.loads((tmp_path / "gt.quality.json").read_text())
    assert side["audit"]["seed"] == 1 and "predicted_residual" in side
    assert main(["export", str(proj), str(tmp_path / "yolo"), "--format", "yolo"]) == 0
    assert json.loads((tmp_path / "yolo" / "quality.json").read_text())["visible_boxes"] > 0


def test_bad_outcomes_are_named(
    tracked: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = tmp_path / "p.taproj"
    proj.write_bytes(tracked.read_bytes())
    capsys.readouterr()
    assert main(["audit", str(proj), "record", "3:x=ok"]) == 2
    assert "expected TRACK:FRAME=ok" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("track_id,frame,outcome\n1,2,maybe\n")
    assert main(["audit", str(proj), "record", "--csv", str(bad)]) == 2
    assert f"{bad}:2" in capsys.readouterr().err
