"""``tracker-annotate track`` through the real command parser, on real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tracker_annotate.cli.main import main
from tracker_annotate.io.formats import read_annotations
from tracker_annotate.io.store import ProjectStore

SAMPLE = Path(__file__).resolve().parents[2] / "sample_videos"
pytestmark = pytest.mark.skipif(not (SAMPLE / "synthetic").is_dir(), reason="no sample_videos")

#: The fast back-end, for tests about files and rules rather than the engine (the default
#: committee's accuracy is pinned in tests/tracking/test_regression.py).
FAST = ["--tracker", "nano"]


def test_track_writes_a_box_with_confidence_for_every_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init = tmp_path / "first_box.txt"
    init.write_text((SAMPLE / "keyframes.txt").read_text().splitlines()[0] + "\n")
    out = tmp_path / "r.txt"
    assert (
        main(
            [
                "track",
                str(SAMPLE / "synthetic.mp4"),
                "--init",
                str(init),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    rows = np.loadtxt(out, delimiter=",", ndmin=2)
    frames = rows[:, 0].astype(int)
    assert frames[0] == 1 and np.all(np.diff(frames) == 1)  # 1-based, consecutive from the keyframe
    assert np.all((rows[:, 6] > 0) & (rows[:, 6] <= 1))  # confidence in column 7
    assert "flagged for review" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("suffix", "reason"),
    [(".taproj", "a project the GUI opens"), (".xml", "CVAT video"), (".json", "COCO-VID")],
)
def test_track_output_formats_read_back(tmp_path: Path, suffix: str, reason: str) -> None:
    out = tmp_path / f"r{suffix}"
    args = ["track", str(SAMPLE / "synthetic"), "--init", str(SAMPLE / "keyframes.txt")]
    assert main([*args, *FAST, "--out", str(out), "--quiet", "--flag-threshold", "0.6"]) == 0
    if suffix == ".taproj":
        with ProjectStore.open(out) as store:
            project = store.project
    else:
        project = read_annotations(out)
    assert len(project.tracks) == 7, reason
    assert project.n_boxes() > 7
    flagged = [b for t in project.tracks for b in project.boxes(t).values() if b.flagged]
    if suffix != ".json":  # COCO carries no flags
        assert flagged


def test_no_extend_with_one_keyframe_per_track_adds_nothing(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    args = ["track", str(SAMPLE / "synthetic"), "--init", str(SAMPLE / "keyframes.txt")]
    assert main([*args, "--out", str(out), "--quiet", "--no-extend"]) == 0
    assert len(out.read_text().splitlines()) == 7


def test_track_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init = tmp_path / "k.txt"
    init.write_text("1,1,5000,5000,20,20,1,1,1\n")
    code = main(
        [
            "track",
            str(SAMPLE / "synthetic"),
            "--init",
            str(init),
            "--out",
            str(tmp_path / "o.txt"),
            "--quiet",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "outside" in err and "Traceback" not in err


def _reviewed_project(path: Path) -> bytes:
    """A project with manual and verified boxes: hours of review, in miniature."""
    from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
    from tracker_annotate.core.project import Project, TrackInfo
    from tracker_annotate.io.media import probe_media

    project = Project(probe_media(SAMPLE / "synthetic.mp4"))
    with project.edit("review") as tx:
        tx.set_track(TrackInfo(1))
        for f in range(8):
            tx.set_box(1, FrameBox(f, BoxXYXY(10 + f, 10, 40 + f, 40), BoxSource.MANUAL))
        for f in range(8, 22):
            box = FrameBox(f, BoxXYXY(10 + f, 10, 40 + f, 40), BoxSource.TRACKED, 0.4)
            tx.set_box(1, box.with_(verified=True))
    ProjectStore.create(path, project).close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("reviewed.taproj", "a reviewed project came back with 7 boxes, exit 0"),
        ("result.txt", "same rule as batch: an existing output is never replaced silently"),
    ],
)
def test_track_refuses_to_overwrite_an_existing_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    out = tmp_path / name
    before = _reviewed_project(out) if name.endswith(".taproj") else b"1,1,0,0,5,5,1,1,1\n"
    out.write_bytes(before)
    args = ["track", str(SAMPLE / "synthetic.mp4"), "--init", str(SAMPLE / "keyframes.txt"), *FAST]
    assert main([*args, "--out", str(out), "--quiet"]) == 2, reason
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and err.count("\n") == 1, err
    assert out.read_bytes() == before, reason
    assert main([*args, "--out", str(out), "--quiet", "--overwrite"]) == 0
    assert out.read_bytes() != before


def test_demo_refuses_to_replace_a_reviewed_demo_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    before = _reviewed_project(out / "demo.taproj")
    assert main(["demo", "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "demo.taproj").read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "must", "must_not", "reason"),
    [
        (
            ["track", "{media}", "--init", "{kf}", "--out", "{tmp}/o6.csv"],
            [".taproj", ".txt (mot)"],
            ["pass a format", "--format"],
            "track has no --format: the hint named an option that does not exist",
        ),
        (
            ["track", "{media}", "--init", "{tmp}/kf.csv", "--out", "{tmp}/o.txt"],
            [".json (coco)", ".taproj"],
            ["pass a format", "--format", "yolo"],
            "keyframes of an unknown kind",
        ),
        (
            ["import", "{tmp}/x.mp4", "--project", "{tmp}/p.taproj"],
            ["--format", ".xml (cvat)"],
            ["yolo"],
            "import cannot read yolo, so it must not offer it",
        ),
        (
            ["import", "{tmp}/det.txt", "--project", "{tmp}/p.taproj"],
            ["track --detections"],
            ["read_detections", "(read_"],
            "no internal function names in a message",
        ),
    ],
)
def test_error_hints_name_only_options_that_exist(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    must: list[str],
    must_not: list[str],
    reason: str,
) -> None:
    (tmp_path / "x.mp4").write_bytes(b"")
    (tmp_path / "kf.csv").write_text("1,1,10,10,5,5\n")
    (tmp_path / "det.txt").write_text("1,-1,10,10,5,5,0.9,-1,-1,-1\n")
    args = [
        a.format(media=SAMPLE / "synthetic.mp4", kf=SAMPLE / "keyframes.txt", tmp=tmp_path)
        for a in argv
    ]
    assert main([*args, "--quiet"] if args[0] == "track" else args) == 2, reason
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    message = err.split("error: ", 1)[1]
    for text in must:
        assert text in message, (reason, err)
    for text in must_not:
        assert text not in message, (reason, err)
