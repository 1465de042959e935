"""The README's first command: `make demo` runs `tracker-annotate demo` on the bundled sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker_annotate.cli.demo import EXPORTS
from tracker_annotate.cli.main import main
from tracker_annotate.io.formats import read_annotations
from tracker_annotate.io.store import ProjectStore


def test_demo_tracks_the_sample_and_writes_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert str(out / "demo.taproj") in printed
    report = json.loads((out / "demo_summary.json").read_text())
    assert report["summary"]["tracks"] == 7
    # every frame of every track's tracked span has a box with a confidence
    with ProjectStore.open(out / "demo.taproj") as store:
        project = store.project
        assert len(project.tracks) == 7
        assert all(
            0.0 <= b.confidence <= 1.0 for t in project.tracks for b in project.boxes(t).values()
        )
        n_boxes = project.n_boxes()
    mot = read_annotations(out / "result_mot.txt", "mot")
    assert mot.n_boxes() >= n_boxes - 7  # MOT drops only outside markers
    for name, _fmt in EXPORTS:
        assert (out / name).exists(), name
    assert report["score_vs_ground_truth"]["mean_iou"] > 0.6


def test_demo_generates_missing_samples(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    argv = ["demo", "--out", str(tmp_path / "o"), "--samples", str(samples), "--quiet"]
    assert main([*argv, "--tracker", "nano"]) == 0  # about the samples: the fast back-end
    assert (samples / "synthetic.mp4").is_file()
    assert (tmp_path / "o" / "demo.taproj").is_file()
