"""MOTChallenge files: conventions, round trips, real GT, malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest
from formats_helpers import projects, visible_boxes, write_lines
from hypothesis import HealthCheck, given, settings

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import FormatError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.formats.mot import (
    MOT17_CLASSES,
    mot_class_ids,
    read_mot,
    read_seqinfo,
    seqinfo_path,
    write_mot,
)

GOOD = "1,1,10,20,30,40,1,1,1"


def test_rows_become_0_based_xyxy_boxes_with_mot17_labels(tmp_path: Path) -> None:
    f = write_lines(
        tmp_path / "gt.txt",
        ["1,7,10.5,20,30,40,1,1,0.9", "3,7,12,22,30,40,1,1,0.2", "2,9,0,0,5,5,1,3,1"],
    )
    p = read_mot(f)
    assert sorted(p.tracks) == [7, 9]
    assert p.track(7).label == "pedestrian" and p.track(9).label == "car"
    b = p.box(7, 0)
    assert b is not None and b.xyxy == BoxXYXY(10.5, 20, 40.5, 60)
    assert b.source is BoxSource.MANUAL and b.confidence == 1.0 and not b.occluded
    occluded = p.box(7, 2)
    assert occluded is not None and occluded.occluded  # visibility 0.2 < 0.5
    assert p.box(9, 1) is not None and p.box(7, 1) is None
    assert not p.history.can_undo()  # an import is not an undo step of the new project


@pytest.mark.parametrize(
    ("line", "label", "confidence", "occluded"),
    [
        ("1,1,0,0,5,5", "object", 1.0, False),  # 6 columns: no conf, class or visibility
        ("1,1,0,0,5,5,0.4", "object", 0.4, False),  # 7 columns: conf is the confidence
        ("1,1,0,0,5,5,0.4,-1,-1,-1", "object", 0.4, False),  # 10: world coords ignored
        ("1,1,0,0,5,5,-1,1,1", "pedestrian", 1.0, False),  # conf -1 means unknown
        ("1,1,0,0,5,5,7.5,1,1", "pedestrian", 1.0, False),  # scores above 1 are clipped
        ("1,1,0,0,5,5,1,99,1", "class_99", 1.0, False),  # class outside the map
        ("1,1,0,0,5,5,1,1,-1", "pedestrian", 1.0, False),  # visibility -1: unknown
        ("1,1,0,0,5,5,1,1,0.49", "pedestrian", 1.0, True),  # below the threshold
        ("1 1 0 0 5 5 1 1 1", "pedestrian", 1.0, False),  # whitespace separated
        ("1, 1, 0, 0, 5, 5, 1, 1, 1", "pedestrian", 1.0, False),  # spaces after commas
        ("1.0,1.0,0,0,5,5,1,1.0,1", "pedestrian", 1.0, False),  # integral floats as ints
        ("1,1,0,0,5,5,1,1,0.1,", "pedestrian", 1.0, True),  # a trailing comma is no column
        ("1,1,0,0,5,5,1,1,1\r", "pedestrian", 1.0, False),  # CRLF line ends
    ],
)
def test_column_variants(
    tmp_path: Path, line: str, label: str, confidence: float, occluded: bool
) -> None:
    p = read_mot(write_lines(tmp_path / "a.txt", [line]))
    box = p.box(1, 0)
    assert box is not None
    assert (p.track(1).label, box.confidence, box.occluded) == (label, confidence, occluded)


def test_conf_zero_rows_are_ignored_unless_kept(tmp_path: Path) -> None:
    f = write_lines(tmp_path / "gt.txt", ["1,1,0,0,5,5,0,1,1", "1,2,0,0,5,5,1,1,1"])
    assert sorted(read_mot(f).tracks) == [2]
    kept = read_mot(f, keep_ignored=True)
    assert sorted(kept.tracks) == [1, 2]
    box = kept.box(1, 0)
    assert box is not None and box.confidence == 0.0


def test_label_map_and_source_options(tmp_path: Path) -> None:
    f = write_lines(tmp_path / "r.txt", ["1,1,0,0,5,5,0.7,2,1"])
    p = read_mot(f, label_map={2: "cyclist"}, source=BoxSource.IMPORTED)
    box = p.box(1, 0)
    assert p.track(1).label == "cyclist"
    assert box is not None and box.source is BoxSource.IMPORTED and box.is_derived


def test_class_ids_for_writing() -> None:
    ids = mot_class_ids(["pedestrian", "object", "class_42", "dog", "class_3", "cat"])
    assert ids["pedestrian"] == 1 and ids["object"] == -1 and ids["class_42"] == 42
    # class_3 clashes with MOT17's car, so it and the unknown names get free ids
    free = {ids["dog"], ids["class_3"], ids["cat"]}
    assert len(free) == 3 and not free & (set(MOT17_CLASSES) | {42, -1})


def test_writer_output_and_seqinfo(tmp_path: Path) -> None:
    media = MediaRef("/data/TUD-Campus.mp4", 71, 640, 480, 25.0)
    p = Project(media, [Label("pedestrian")])
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(4, "pedestrian"))
        tx.set_box(4, FrameBox(2, BoxXYXY(1.234, 2, 11.5, 12), BoxSource.TRACKED, 0.0))
        tx.set_box(4, FrameBox(0, BoxXYXY(1, 2, 11, 12), occluded=True))
        tx.set_box(4, FrameBox(3, BoxXYXY(1, 2, 11, 12), outside=True))
    out = tmp_path / "seq" / "gt" / "gt.txt"
    write_mot(p, out)
    assert out.read_text().splitlines() == [
        "1,4,1.00,2.00,10.00,10.00,1.0000,1,0",
        "3,4,1.23,2.00,10.27,10.00,0.0001,1,1",  # conf 0 written as 0.0001: not an ignore row
    ]
    assert seqinfo_path(out) == tmp_path / "seq" / "seqinfo.ini"
    info = read_seqinfo(tmp_path / "seq" / "seqinfo.ini")
    assert info == {
        "name": "TUD-Campus",
        "imDir": "img1",
        "frameRate": "25",
        "seqLength": "71",
        "imWidth": "640",
        "imHeight": "480",
        "imExt": ".jpg",
    }
    # class 1 named on line 1, as Datumaro's mot_seq reads it
    assert (out.parent / "labels.txt").read_text() == "pedestrian\n"


def test_labels_file_names_custom_classes(tmp_path: Path) -> None:
    p = Project(None, [Label("dog"), Label("pedestrian"), Label("object")])
    with p.edit("x") as tx:
        for tid, name in enumerate(["dog", "pedestrian", "object"], start=1):
            tx.set_track(TrackInfo(tid, name))
            tx.set_box(tid, FrameBox(0, BoxXYXY(0, 0, 5, 5)))
    write_mot(p, tmp_path / "gt.txt")
    lines = (tmp_path / "labels.txt").read_text().splitlines()
    assert len(lines) == 14 and lines[0] == "pedestrian" and lines[13] == "dog"
    back = read_mot(tmp_path / "gt.txt")
    assert [back.track(t).label for t in (1, 2, 3)] == ["dog", "pedestrian", "object"]
    write_mot(p, tmp_path / "results.txt")  # not a sequence file: MOT17 names, class_14
    assert read_mot(tmp_path / "results.txt").track(1).label == "class_14"


def test_bad_labels_file(tmp_path: Path) -> None:
    write_lines(tmp_path / "gt.txt", [GOOD])
    (tmp_path / "labels.txt").write_text("a\n\nb\n")
    with pytest.raises(FormatError, match="empty line"):
        read_mot(tmp_path / "gt.txt")


def test_existing_seqinfo_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "seqinfo.ini").write_text("[Sequence]\nname=mine\n")
    p = Project(MediaRef("/v.mp4", 10, 64, 48))
    write_mot(p, tmp_path / "res.txt")
    assert read_seqinfo(tmp_path / "seqinfo.ini") == {"name": "mine"}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=projects())
def test_round_trip_keeps_what_mot_carries(
    tmp_path_factory: pytest.TempPathFactory, project: Project
) -> None:
    path = tmp_path_factory.mktemp("mot") / "gt.txt"
    write_mot(project, path)
    back = read_mot(path, media=project.media)  # label names come back via labels.txt
    carried = {tid for tid in project.tracks if visible_boxes(project, tid)}
    assert set(back.tracks) == carried
    for tid in carried:
        assert back.track(tid).label == project.track(tid).label
        mine, theirs = visible_boxes(project, tid), dict(back.boxes(tid))
        assert set(mine) == set(theirs)
        for f, a in mine.items():
            b = theirs[f]
            for u, v in zip(a.xyxy.as_tuple(), b.xyxy.as_tuple(), strict=True):
                assert abs(u - v) <= 0.0101  # 2 decimals on x and on w
            assert abs(b.confidence - max(a.confidence, 1e-4)) <= 5.1e-5
            assert b.occluded == a.occluded
            # what MOT cannot carry comes back as the defaults
            assert (b.source, b.flagged, b.verified, b.outside) == (
                BoxSource.MANUAL,
                False,
                False,
                False,
            )


def test_exact_text_round_trip_with_decimals_none(tmp_path: Path) -> None:
    p = Project(None, [Label("object")])
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(1, "object"))
        tx.set_box(1, FrameBox(0, BoxXYXY(0.1, 0.2, 100.3, 50.7)))
    write_mot(p, tmp_path / "r.txt", decimals=None)
    box = read_mot(tmp_path / "r.txt").box(1, 0)
    assert box is not None
    assert box.xyxy.x1 == 0.1 and abs(box.xyxy.x2 - 100.3) < 1e-12


@pytest.mark.shared_data
@pytest.mark.parametrize("sequence", ["TUD-Campus", "TUD-Stadtmitte"])
def test_real_gt_round_trips_identically(shared_data: Path, tmp_path: Path, sequence: str) -> None:
    gt = shared_data / "sequences" / sequence / "gt" / "gt.txt"
    original = read_mot(gt)
    n_rows = sum(1 for line in gt.read_text().splitlines() if line.strip())
    assert original.n_boxes() == n_rows
    write_mot(original, tmp_path / "gt.txt")
    back = read_mot(tmp_path / "gt.txt")
    assert dict(back.tracks) == dict(original.tracks)
    for tid in original.tracks:
        assert dict(back.boxes(tid)) == dict(original.boxes(tid))


MALFORMED = [
    # (lines, line, field, reason)
    (["1,1,10,10,5"], 1, None, "5 columns is no MOT layout"),
    (["1,1,10,10,5,5,1,1"], 1, None, "8 columns is ambiguous (no class/visibility pair)"),
    ([GOOD, "1,2,10,10,5,5,1,1,1,1,1"], 2, None, "11 columns on the second line"),
    (["a,1,10,10,5,5,1,1,1"], 1, "frame", "frame is not a number"),
    (["1.5,1,10,10,5,5,1,1,1"], 1, "frame", "frame is not an integer"),
    (["0,1,10,10,5,5,1,1,1"], 1, "frame", "frame 0 in a 1-based file"),
    (["1,x,10,10,5,5,1,1,1"], 1, "id", "id is not a number"),
    (["1,-1,10,10,5,5,1,1,1"], 1, "id", "negative id: a detections file, not tracks"),
    (["1,1,10,y,5,5,1,1,1"], 1, "y", "y is not a number"),
    (["1,1,inf,10,5,5,1,1,1"], 1, "x", "x is infinite"),
    (["1,1,10,10,-5,5,1,1,1"], 1, "w", "negative width"),
    (["1,1,10,10,5,0,1,1,1"], 1, "h", "zero height"),
    (["1,1,10,10,5,5,high,1,1"], 1, "conf", "conf is not a number"),
    (["1,1,10,10,5,5,1,nan,1"], 1, "class", "class is NaN"),
    (["1,1,10,10,5,5,1,1,?"], 1, "visibility", "visibility is not a number"),
    ([GOOD, "", "# comment", GOOD], 4, "id", "duplicate (frame, id), line counts blanks"),
    ([GOOD, "2,1,10,10,5,5,1,3,1"], 2, "class", "a track changes class mid-way"),
    (["3,1,10,10,5,5,1,1,1"], 1, "frame", "frame 3 beyond a 2-frame media"),
    ([GOOD, "2,1,700,10,5,5,1,1,1"], 2, "x,y,w,h", "entirely right of a 64-px frame"),
    (["1,1,-30,-30,5,5,1,1,1"], 1, "x,y,w,h", "entirely above-left of the frame"),
    (["1,1,0,0,1e300,5,1,1,1"], 1, "w", "w=1e300 overlaps, but is no box"),
    (["1,1,-1e9,0,5,5,1,1,1"], 1, "x", "a coordinate no image has"),
    (["1,1,0,0,5,900,1,1,1"], 1, "x,y,w,h", "900 px high on a 48-px frame"),
]


@pytest.mark.parametrize(
    ("lines", "line", "field", "reason"), MALFORMED, ids=[m[3] for m in MALFORMED]
)
def test_malformed_files_name_line_and_field(
    tmp_path: Path, lines: list[str], line: int, field: str | None, reason: str
) -> None:
    path = write_lines(tmp_path / "bad.txt", lines)
    with pytest.raises(FormatError) as info:
        read_mot(path, media=MediaRef("/v.mp4", 2, 64, 48))
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field), reason
    assert str(path) in str(err) and f":{line}" in str(err)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfe1,1,1,1,1,1\n", "not UTF-8"),
        (None, "a directory, not a file"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes | None, reason: str) -> None:
    path = tmp_path / "x.txt"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(FormatError, match=str(path)):
        read_mot(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="not found"):
        read_mot(tmp_path / "nope.txt")


def test_the_default_label_is_written_as_class_1(tmp_path: Path) -> None:
    """MOT exports wrote class -1 for the default label: MOT evaluation (TrackEval) keeps
    class 1 (pedestrian) only, so a single-class export scored nothing."""
    p = Project(None)  # labels: the default "object" only
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(1))
        tx.set_box(1, FrameBox(0, BoxXYXY(1, 2, 11, 22)))
    gt = tmp_path / "gt" / "gt.txt"
    write_mot(p, gt)
    assert gt.read_text().splitlines()[0].split(",")[7] == "1"
    assert read_mot(gt).track(1).label == "object"  # labels.txt beside it names class 1
