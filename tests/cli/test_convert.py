"""``tracker-annotate import`` / ``export`` on real SQLite projects and a real MOT sequence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker_annotate.cli.main import main
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import Project, TrackInfo
from tracker_annotate.io.formats.coco import read_coco
from tracker_annotate.io.formats.cvat_xml import read_cvat
from tracker_annotate.io.formats.mot import read_mot
from tracker_annotate.io.store import ProjectStore

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def tud(shared_data: Path) -> Path:
    return shared_data / "sequences" / "TUD-Campus"


@pytest.fixture(scope="module")
def tud_project(tud: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TUD-Campus GT imported once (media found through the sequence's seqinfo.ini)."""
    proj = tmp_path_factory.mktemp("proj") / "tud.taproj"
    assert main(["import", str(tud / "gt" / "gt.txt"), "--project", str(proj)]) == 0
    return proj


def _boxes(project: Project) -> dict[tuple[int, int], FrameBox]:
    return {(t, f): b for t in project.tracks for f, b in project.boxes(t).items()}


def test_import_creates_a_project_with_the_sequence_as_media(tud: Path, tud_project: Path) -> None:
    with ProjectStore.open(tud_project) as store:
        project = store.project
        assert project.media is not None
        assert (project.media.n_frames, project.media.width) == (71, 640)
        assert _boxes(project) == _boxes(read_mot(tud / "gt" / "gt.txt"))


@pytest.mark.parametrize(
    ("name", "reader"), [("gt.txt", read_mot), ("a.xml", read_cvat), ("a.json", read_coco)]
)
def test_export_reads_back_the_same_boxes(
    tud: Path, tud_project: Path, tmp_path: Path, name: str, reader: object
) -> None:
    out = tmp_path / name
    assert main(["export", str(tud_project), str(out)]) == 0
    back = reader(out)  # type: ignore[operator]
    original = read_mot(tud / "gt" / "gt.txt")
    mine, theirs = _boxes(original), _boxes(back)
    assert mine.keys() == theirs.keys()
    for key, a in mine.items():
        assert a.xyxy.iou(theirs[key].xyxy) > 1 - 1e-12


def test_import_into_an_existing_project_adds_or_replaces(
    tud: Path, tud_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = tmp_path / "copy.taproj"
    with ProjectStore.open(tud_project) as store:
        ProjectStore.create(proj, store.project).close()
    xml = tmp_path / "a.xml"
    assert main(["export", str(proj), str(xml)]) == 0
    assert main(["import", str(xml), "--project", str(proj)]) == 0
    assert "into" in capsys.readouterr().out
    with ProjectStore.open(proj) as store:
        assert len(store.project.tracks) == 16  # added under new ids
        assert store.project.n_boxes() == 2 * 359
        assert store.project.history.can_undo() is False  # reopened: a fresh session
    assert main(["import", str(xml), "--project", str(proj), "--replace"]) == 0
    with ProjectStore.open(proj) as store:
        assert sorted(store.project.tracks) == list(range(1, 9))
        assert _boxes(store.project) == _boxes(read_mot(tud / "gt" / "gt.txt"))


@pytest.mark.parametrize(
    ("lines", "where", "reason"),
    [
        (["1,1,10,10,5,5,1,1,1", "2,1,10,10,-5,5,1,1,1"], ":2 (field 'w')", "negative width"),
        (["1,1,10,10,5,5,1,1,1", "72,1,10,10,5,5,1,1,1"], ":2 (field 'frame')", "past frame 71"),
    ],
)
def test_a_malformed_file_changes_nothing(
    tud: Path,
    tud_project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    lines: list[str],
    where: str,
    reason: str,
) -> None:
    proj = tmp_path / "p.taproj"
    with ProjectStore.open(tud_project) as store:
        ProjectStore.create(proj, store.project).close()
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines) + "\n")
    assert main(["import", str(bad), "--project", str(proj)]) == 2, reason
    err = capsys.readouterr().err
    assert f"{bad}{where}" in err and err.count("\n") == 1
    with ProjectStore.open(proj) as store:
        assert store.project.n_boxes() == 359 and len(store.project.tracks) == 8
    # and no project appears when the import would have created one
    new = tmp_path / "new.taproj"
    assert main(["import", str(bad), "--project", str(new), "--media", str(tud)]) == 2
    assert not new.exists()


def _reviewed_project(path: Path) -> None:
    p = Project(None, [Label("car")])
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(1, "car"))
        tx.set_box(1, FrameBox(0, BoxXYXY(0, 0, 10, 10)))
        tx.set_box(1, FrameBox(1, BoxXYXY(1, 0, 11, 10), BoxSource.TRACKED, 0.9))
        tx.set_box(1, FrameBox(2, BoxXYXY(2, 0, 12, 10), BoxSource.TRACKED, 0.4))
        tx.set_box(1, FrameBox(3, BoxXYXY(3, 0, 13, 10), BoxSource.TRACKED, 0.2, verified=True))
        tx.set_box(1, FrameBox(4, BoxXYXY(4, 0, 14, 10), BoxSource.TRACKED, 0.8, flagged=True))
    ProjectStore.create(path, p).close()


@pytest.mark.parametrize(
    ("extra", "flagged_frames", "written_frames", "reason"),
    [
        ([], {4}, {0, 1, 2, 3, 4}, "flags as stored"),
        (["--flag-threshold", "0.5"], {2, 4}, {0, 1, 2, 3, 4}, "0.4 flagged; verified 0.2 not"),
        (["--drop-flagged"], set(), {0, 1, 2, 3}, "the flagged box is left out"),
        (["--flag-threshold", "0.95", "--drop-flagged"], set(), {0, 3}, "only reviewed boxes"),
    ],
)
def test_export_flags(
    tmp_path: Path,
    extra: list[str],
    flagged_frames: set[int],
    written_frames: set[int],
    reason: str,
) -> None:
    proj = tmp_path / "r.taproj"
    _reviewed_project(proj)
    out = tmp_path / "out.json"
    assert main(["export", str(proj), str(out), *extra]) == 0
    back = read_coco(out)
    boxes = back.boxes(1)
    assert set(boxes) == written_frames, reason
    assert {f for f, b in boxes.items() if b.flagged} == flagged_frames, reason
    with ProjectStore.open(proj) as store:  # the project itself is untouched
        assert sum(b.flagged for b in store.project.boxes(1).values()) == 1


def test_export_drop_proposed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "r.taproj"
    _reviewed_project(proj)
    with ProjectStore.open(proj) as store, store.project.edit("propose") as tx:
        tx.set_track(TrackInfo(7, "car", proposed=True))
        tx.set_box(7, FrameBox(0, BoxXYXY(50, 50, 60, 60), BoxSource.TRACKED, 0.7))
    out = tmp_path / "a.xml"
    assert main(["export", str(proj), str(out)]) == 0
    assert "1 proposed tracks" in capsys.readouterr().out
    assert read_cvat(out).track(7).proposed
    assert main(["export", str(proj), str(out), "--drop-proposed"]) == 0
    assert "proposed tracks" not in capsys.readouterr().out
    assert list(read_cvat(out).tracks) == [1]


def test_export_mot_says_what_is_lost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "r.taproj"
    _reviewed_project(proj)
    out = tmp_path / "res.txt"
    assert main(["export", str(proj), str(out), "--decimals", "1"]) == 0
    assert "does not carry" in capsys.readouterr().out
    assert (
        out.read_text().splitlines()[0] == "1,1,0.0,0.0,10.0,10.0,1.0000,3,1"
    )  # car: MOT17 class 3


@pytest.mark.parametrize(
    ("argv", "message", "reason"),
    [
        (["export", "{proj}", "{tmp}/y", "--format", "yolo"], "no media", "YOLO needs a size"),
        (["export", "{proj}", "{tmp}/a.xml", "--label-map", "1=x"], "applies to mot", "option"),
        (["export", "{proj}", "{tmp}/a.txt", "--flag-threshold", "2"], "[0, 1]", "threshold"),
        (["export", "{proj}", "{tmp}/a.csv"], "cannot tell the format", "unknown extension"),
        (["import", "{tmp}/a.xml", "--project", "{proj}", "--keep-ignored"], "mot", "MOT only"),
        (["import", "{tmp}/g.txt", "--project", "{proj}", "--label-map", "x"], "ID=NAME", "map"),
        (["export", "{tmp}/none.taproj", "{tmp}/a.txt"], "none.taproj", "no such project"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
    reason: str,
) -> None:
    proj = tmp_path / "r.taproj"
    _reviewed_project(proj)
    (tmp_path / "a.xml").write_text("<annotations/>")
    (tmp_path / "g.txt").write_text("1,1,0,0,5,5,1,1,1\n")
    args = [a.format(proj=proj, tmp=tmp_path) for a in argv]
    assert main(args) == 2, reason
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_label_map_and_imported_source(tmp_path: Path) -> None:
    gt = tmp_path / "g.txt"
    gt.write_text("1,1,0,0,5,5,0.5,2,1\n1,2,0,0,5,5,0,1,1\n")
    proj = tmp_path / "p.taproj"
    argv = ["import", str(gt), "--project", str(proj), "--label-map", "2=cyclist"]
    assert main([*argv, "--as-imported", "--keep-ignored"]) == 0
    with ProjectStore.open(proj) as store:
        p = store.project
        assert p.track(1).label == "cyclist" and p.track(2).label == "class_1"
        box = p.box(1, 0)
        assert box is not None and box.source is BoxSource.IMPORTED and box.confidence == 0.5
        assert p.media is None


def test_export_summary_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "r.taproj"
    _reviewed_project(proj)
    assert main(["export", str(proj), str(tmp_path / "a.xml")]) == 0
    out = capsys.readouterr().out
    assert "1 tracks, 5 boxes, 1 flagged" in out and "note" not in out


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", "", "an empty MOT file said 'imported 0 tracks' and added a label"),
        (
            "empty.json",
            '{"images": [], "annotations": [], "categories": [{"id": 1, "name": "zebra"}]}',
            "a COCO file with a category but no annotation",
        ),
        ("ignored.txt", "1,1,10,10,5,5,0,1,1\n", "only conf-0 ignore rows"),
    ],
)
def test_import_of_no_boxes_changes_nothing_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, reason: str
) -> None:
    proj = tmp_path / "r.taproj"
    _reviewed_project(proj)
    before = proj.read_bytes()
    file = tmp_path / name
    file.write_text(content)
    assert main(["import", str(file), "--project", str(proj)]) == 2, reason
    err = capsys.readouterr().err
    assert "holds no boxes" in err and str(file) in err and err.count("\n") == 1, err
    assert proj.read_bytes() == before, reason
    new = tmp_path / "new.taproj"
    assert main(["import", str(file), "--project", str(new)]) == 2, reason
    assert not new.exists(), "no empty project is created either"


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ("1,900,700,100,40,80,1,1,1", "x,y,w,h", "entirely right of TUD-Campus's 640-px frame"),
        ("1,900,10,100,1e300,80,1,1,1", "'w'", "w=1e300 imported with exit 0"),
    ],
)
def test_import_refuses_impossible_boxes_and_changes_nothing(
    tud_project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    row: str,
    field: str,
    reason: str,
) -> None:
    proj = tmp_path / "tud.taproj"
    proj.write_bytes(tud_project.read_bytes())
    before = proj.read_bytes()
    bad = tmp_path / "bad.txt"
    bad.write_text(f"1,901,10,10,40,80,1,1,1\n{row}\n")
    assert main(["import", str(bad), "--project", str(proj)]) == 2, reason
    err = capsys.readouterr().err
    assert f"{bad}:2" in err and field in err and err.count("\n") == 1, err
    assert proj.read_bytes() == before


def test_export_of_a_damaged_row_is_refused_not_written(
    tud_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """8 garbage bytes in a coordinate were exported as a box 1.4e306 px wide, exit 0."""
    import sqlite3
    import struct

    proj = tmp_path / "tud.taproj"
    proj.write_bytes(tud_project.read_bytes())
    con = sqlite3.connect(proj)
    tid, frame = con.execute("SELECT track_id, frame FROM boxes LIMIT 1").fetchone()
    con.execute("UPDATE boxes SET x2 = 321.0625 WHERE track_id = ? AND frame = ?", (tid, frame))
    con.commit()
    con.close()
    data = proj.read_bytes()
    proj.write_bytes(data.replace(struct.pack(">d", 321.0625), struct.pack(">d", 1.4e306)))
    out = tmp_path / "out.txt"
    assert main(["export", str(proj), str(out)]) == 2
    err = capsys.readouterr().err
    assert f"track {tid} frame {frame} is damaged" in err and err.count("\n") == 1, err
    assert not out.exists()


def test_coco_file_names_are_the_real_images(tud: Path, tud_project: Path, tmp_path: Path) -> None:
    """COCO file_name said TUD-Campus/frame_000000.jpg; the file is img1/000001.jpg."""
    out = tmp_path / "a.json"
    assert main(["export", str(tud_project), str(out)]) == 0
    images = json.loads(out.read_text())["images"]
    assert images[0]["file_name"] == "TUD-Campus/img1/000001.jpg"
    for img in images:  # relative to the folder holding the sequence, every one exists
        assert (tud.parent / img["file_name"]).is_file(), img
        assert img["file_name"].endswith(f"{img['frame_id'] + 1:06d}.jpg")


def test_yolo_export_of_a_sequence_lines_up_with_its_images(
    tud: Path, tud_project: Path, tmp_path: Path
) -> None:
    """data.yaml said train: images but no images/ existed, and label names did not match
    the sequence's image names: a training run found no labels."""
    out = tmp_path / "yolo"
    assert main(["export", str(tud_project), str(out), "--format", "yolo"]) == 0
    labels = sorted(p.stem for p in (out / "labels").glob("*.txt"))
    images = sorted((out / "images").iterdir())
    assert labels == [p.stem for p in sorted((tud / "img1").glob("*.jpg"))]
    assert [p.stem for p in images] == labels
    assert images[0].resolve() == (tud / "img1" / "000001.jpg").resolve()
    assert images[0].read_bytes()[:2] == b"\xff\xd8"  # a readable JPEG through the link
    yaml = (out / "data.yaml").read_text()
    path_line = next(line for line in yaml.splitlines() if line.startswith("path:"))
    assert Path(json.loads(path_line.split(":", 1)[1])) == out.resolve()
    assert "train: images" in yaml and "ffmpeg" not in yaml
    # Ultralytics' rule: the label of .../images/X.jpg is .../labels/X.txt
    for img in images[:5]:
        assert (out / "labels" / f"{img.stem}.txt").is_file()


def test_yolo_export_of_a_video_writes_frames_on_request_or_says_how(
    tmp_path: Path, shared_data: Path
) -> None:
    import cv2

    video = shared_data / "videos" / "tree.avi"
    gt = tmp_path / "g.txt"
    gt.write_text("1,1,10,10,50,50,1,1,1\n3,1,12,10,50,50,1,1,1\n")
    proj = tmp_path / "p.taproj"
    assert main(["import", str(gt), "--project", str(proj), "--media", str(video)]) == 0
    plain = tmp_path / "plain"
    assert main(["export", str(proj), str(plain), "--format", "yolo"]) == 0
    yaml = (plain / "data.yaml").read_text()
    assert "ffmpeg -i" in yaml and "-start_number 0 images/frame_%06d.jpg" in yaml
    assert not (plain / "images").exists()
    full = tmp_path / "full"
    assert main(["export", str(proj), str(full), "--format", "yolo", "--write-images"]) == 0
    images = sorted((full / "images").glob("*.jpg"))
    labels = sorted((full / "labels").glob("*.txt"))
    assert [p.stem for p in images] == [p.stem for p in labels] and len(images) == 68
    img = cv2.imread(str(images[2]))
    assert img is not None and img.shape == (240, 320, 3)
    assert "ffmpeg" not in (full / "data.yaml").read_text()


def test_export_says_when_stretches_await_their_retrack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = tmp_path / "r.taproj"
    _reviewed_project(proj)
    with ProjectStore.open(proj) as store, store.project.edit("") as tx:
        tx.set_box(1, FrameBox(1, BoxXYXY(2, 2, 12, 12)))
        tx.mark_stale(1, 1)
    assert main(["export", str(proj), str(tmp_path / "a.xml")]) == 0
    assert "1 edited stretch was not re-tracked" in capsys.readouterr().out
