"""The format registry: picking a format from a path or a name, reading and writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker_annotate.core.boxes import BoxXYXY, FrameBox
from tracker_annotate.core.errors import FormatError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.formats import detect_format, read_annotations, write_annotations


@pytest.mark.parametrize(
    ("name", "fmt", "writing", "expected", "reason"),
    [
        ("gt.txt", None, False, "mot", ".txt is MOT"),
        ("ANNOTATIONS.XML", None, False, "cvat", "extensions are case-insensitive"),
        ("instances.json", None, False, "coco", ".json is COCO"),
        ("dir", None, True, "yolo", "an existing folder is YOLO"),
        ("out", None, True, "yolo", "writing to a path without extension makes a folder"),
        ("gt.txt", "CVAT", False, "cvat", "an explicit format wins over the extension"),
        ("labels", "yolo", True, "yolo", "YOLO by name"),
    ],
)
def test_detect(
    tmp_path: Path, name: str, fmt: str | None, writing: bool, expected: str, reason: str
) -> None:
    (tmp_path / "dir").mkdir()
    assert detect_format(tmp_path / name, fmt, writing=writing) == expected, reason


@pytest.mark.parametrize(
    ("name", "fmt", "writing", "match", "reason"),
    [
        ("a.csv", None, False, "cannot tell the format", "unknown extension"),
        ("out", None, False, "cannot tell the format", "no extension when reading"),
        ("a.txt", "pascal", False, "unknown format", "unknown format name"),
        ("dir", None, False, "export-only", "YOLO cannot be read"),
    ],
)
def test_detect_refuses(
    tmp_path: Path, name: str, fmt: str | None, writing: bool, match: str, reason: str
) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(FormatError, match=match):
        detect_format(tmp_path / name, fmt, writing=writing)


@pytest.mark.parametrize("suffix", [".txt", ".xml", ".json"])
def test_write_then_read_by_extension(tmp_path: Path, suffix: str) -> None:
    media = MediaRef("/v/clip.mp4", 5, 64, 48)
    p = Project(media, [Label("pedestrian")])
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(2, "pedestrian"))
        tx.set_box(2, FrameBox(3, BoxXYXY(1, 2, 30, 40)))
    path = tmp_path / f"out{suffix}"
    write_annotations(p, path)
    back = read_annotations(path, media=media)
    assert back.media == media
    assert back.track(2).label == "pedestrian" and back.box(2, 3) == p.box(2, 3)


@pytest.mark.parametrize("suffix", [".txt", ".xml", ".json"])
def test_a_failing_write_leaves_the_old_file_intact(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = Project(MediaRef("/v/clip.mp4", 5, 64, 48), [Label("car")])
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(1, "car"))
        for f in range(5):
            tx.set_box(1, FrameBox(f, BoxXYXY(f, 2, 30, 40)))
    path = tmp_path / f"out{suffix}"
    path.write_text("previous export\n")

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    # Fail while the text is produced (for CVAT and COCO, with the file already open).
    monkeypatch.setattr("tracker_annotate.io.formats.mot.fmt_float", broken)
    monkeypatch.setattr("tracker_annotate.io.formats.cvat_xml.fmt_float", broken)
    monkeypatch.setattr("tracker_annotate.io.formats.coco.json.dumps", broken)
    with pytest.raises(OSError, match="disk full"):
        write_annotations(p, path)
    assert path.read_text() == "previous export\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == [path.name]  # no temporary left
