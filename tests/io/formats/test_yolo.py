"""YOLO export: one normalised label file per frame, clipped boxes, class files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from formats_helpers import projects
from hypothesis import HealthCheck, given, settings

from tracker_annotate.core.boxes import BoxXYXY, FrameBox
from tracker_annotate.core.errors import FormatError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.formats.yolo import read_yolo_labels, write_yolo


def _project() -> Project:
    p = Project(MediaRef("/v/clip.mp4", 4, 200, 100), [Label("car"), Label("person")])
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(1, "person"))
        tx.set_box(1, FrameBox(0, BoxXYXY(10, 20, 50, 60)))
        tx.set_box(1, FrameBox(1, BoxXYXY(-20, 50, 20, 150)))  # half outside: clipped
        tx.set_box(1, FrameBox(2, BoxXYXY(300, 0, 310, 10)))  # wholly outside: left out
        tx.set_box(1, FrameBox(3, BoxXYXY(10, 20, 50, 60), outside=True))
        tx.set_track(TrackInfo(2, "car"))
        tx.set_box(2, FrameBox(0, BoxXYXY(0, 0, 200, 100)))
    return p


def test_files_and_normalised_rows(tmp_path: Path) -> None:
    write_yolo(_project(), tmp_path / "yolo")
    rows = read_yolo_labels(tmp_path / "yolo")
    assert sorted(rows) == [f"frame_{i:06d}" for i in range(4)]  # every frame, even empty
    assert rows["frame_000000"] == [(1, 0.15, 0.4, 0.2, 0.4), (0, 0.5, 0.5, 1.0, 1.0)]
    assert rows["frame_000001"] == [(1, 0.05, 0.75, 0.1, 0.5)]
    assert rows["frame_000002"] == [] and rows["frame_000003"] == []
    assert (tmp_path / "yolo" / "classes.txt").read_text() == "car\nperson\n"
    yaml = (tmp_path / "yolo" / "data.yaml").read_text()
    assert "nc: 2\n" in yaml
    names_line = next(line for line in yaml.splitlines() if line.startswith("names:"))
    assert json.loads(names_line.split(":", 1)[1]) == ["car", "person"]


def test_every_value_is_in_the_unit_range(tmp_path: Path) -> None:
    write_yolo(_project(), tmp_path / "y", name_pattern="{frame:05d}")
    for rows in read_yolo_labels(tmp_path / "y").values():
        for _, *vals in rows:
            assert all(0.0 <= v <= 1.0 for v in vals)
    assert (tmp_path / "y" / "labels" / "00003.txt").exists()


@pytest.mark.parametrize(
    ("make", "match", "reason"),
    [
        (lambda tmp: (Project(None), tmp / "y"), "no media", "cannot normalise without a size"),
        (lambda tmp: (_project(), tmp / "file.txt"), "folder", "a file where the folder goes"),
    ],
)
def test_refusals(
    tmp_path: Path, make: Callable[[Path], tuple[Project, Path]], match: str, reason: str
) -> None:
    (tmp_path / "file.txt").write_text("x")
    project, out = make(tmp_path)
    with pytest.raises(FormatError, match=match):
        write_yolo(project, out)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=projects(with_media=True))
def test_rows_invert_to_the_clipped_boxes(
    tmp_path_factory: pytest.TempPathFactory, project: Project
) -> None:
    out = tmp_path_factory.mktemp("yolo")
    write_yolo(project, out)
    media = project.media
    assert media is not None
    names = list(project.labels)
    expected: dict[int, list[tuple[int, BoxXYXY]]] = {f: [] for f in range(media.n_frames)}
    for tid in sorted(project.tracks):
        cls = names.index(project.track(tid).label)
        for f, b in sorted(project.boxes(tid).items()):
            clipped = b.xyxy.clipped(media.width, media.height)
            if not b.outside and clipped is not None:
                expected[f].append((cls, clipped))
    rows = read_yolo_labels(out)
    assert len(rows) == media.n_frames
    for f, want in expected.items():
        got = rows[f"frame_{f:06d}"]
        assert [r[0] for r in got] == [c for c, _ in want]
        for (_, cx, cy, w, h), (_, box) in zip(got, want, strict=True):
            back = BoxXYXY.from_cxcywh(
                cx * media.width, cy * media.height, w * media.width, h * media.height
            )
            for u, v in zip(back.as_tuple(), box.as_tuple(), strict=True):
                assert abs(u - v) <= 1e-6 * max(media.width, media.height)
