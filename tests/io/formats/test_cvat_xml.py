"""CVAT for video 1.1 XML: interpolation semantics, lossless round trips, malformed input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from formats_helpers import assert_same_projects, projects
from hypothesis import HealthCheck, given, settings

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import FormatError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.formats.cvat_xml import read_cvat, write_cvat
from tracker_annotate.io.formats.mot import read_mot

META = """<meta><task><size>{size}</size><mode>interpolation</mode>
<labels><label><name>car</name><color>#112233</color><attributes/></label></labels>
<original_size><width>640</width><height>480</height></original_size></task></meta>"""


def cvat_file(path: Path, body: str, size: int = 10) -> Path:
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n<version>1.1</version>\n'
        + META.format(size=size)
        + "\n"
        + body
        + "\n</annotations>\n",
        encoding="utf-8",
    )
    return path


def box(frame: int, x: float, *, keyframe: int = 1, outside: int = 0, occluded: int = 0) -> str:
    return (
        f'<box frame="{frame}" keyframe="{keyframe}" outside="{outside}" occluded="{occluded}" '
        f'xtl="{x}" ytl="10" xbr="{x + 20}" ybr="30" z_order="0"/>'
    )


def test_keyframes_are_interpolated_and_outside_ends_the_track(tmp_path: Path) -> None:
    body = (
        '<track id="0" label="car" source="manual">'
        + box(1, 0.0)
        + box(5, 40.0, occluded=1)
        + box(7, 60.0, outside=1)
        + box(9, 0.0, keyframe=0)
        + "</track>"
    )
    p = read_cvat(cvat_file(tmp_path / "a.xml", body))
    assert p.labels["car"].color == (0x11, 0x22, 0x33)
    boxes = p.boxes(0)
    # visible up to the outside keyframe (CVAT interpolates toward its coordinates), no box
    # on 8 (outside persists), and from 9 on visible again until the task's last frame
    assert sorted(boxes) == [1, 2, 3, 4, 5, 6, 7, 9]
    assert boxes[6].xyxy.x1 == 50.0 and boxes[6].occluded
    k1, mid, k5, out = boxes[1], boxes[3], boxes[5], boxes[7]
    assert k1.source is BoxSource.MANUAL and k5.source is BoxSource.MANUAL and k5.occluded
    assert mid.source is BoxSource.INTERPOLATED and mid.xyxy == BoxXYXY(20, 10, 40, 30)
    assert not mid.occluded  # CVAT takes the earlier keyframe's occluded flag
    assert out.outside and boxes[9].source is BoxSource.INTERPOLATED and p.extent(0) == (1, 9)


def test_a_track_without_outside_runs_to_the_last_frame(tmp_path: Path) -> None:
    body = '<track id="3" label="car">' + box(6, 1.0) + "</track>"
    p = read_cvat(cvat_file(tmp_path / "a.xml", body, size=10))
    assert sorted(p.boxes(3)) == [6, 7, 8, 9]
    extended = p.box(3, 9)
    assert extended is not None and extended.source is BoxSource.INTERPOLATED


def test_non_keyframe_shapes_are_derived_and_outside_non_keyframes_are_no_boxes(
    tmp_path: Path,
) -> None:
    body = (
        '<track id="1" label="car">'
        + box(0, 0.0)
        + box(1, 3.0, keyframe=0)
        + box(2, 3.0, keyframe=0, outside=1)
        + "</track>"
    )
    p = read_cvat(cvat_file(tmp_path / "a.xml", body))
    assert sorted(p.boxes(1)) == [0, 1]
    b1 = p.box(1, 1)
    assert b1 is not None and b1.source is BoxSource.INTERPOLATED and b1.xyxy.x1 == 3.0


def _project_with_gap() -> Project:
    p = Project(MediaRef("/v/clip.mp4", 12, 640, 480), [Label("car", (1, 2, 3))])
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(5, "car", "blue car", hidden=True))
        tx.set_box(5, FrameBox(0, BoxXYXY(0, 0, 10, 10)))
        tx.set_box(5, FrameBox(1, BoxXYXY(1, 0, 11, 10), BoxSource.TRACKED, 0.3, flagged=True))
        tx.set_box(5, FrameBox(4, BoxXYXY(4, 0, 14, 10), BoxSource.TRACKED, 0.9, verified=True))
        tx.set_box(5, FrameBox(11, BoxXYXY(4, 0, 14, 10)))
    return p


def test_writer_marks_ends_and_keyframes(tmp_path: Path) -> None:
    path = tmp_path / "out.xml"
    write_cvat(_project_with_gap(), path, derived_keyframes=False)
    root = ET.parse(path).getroot()
    assert root.findtext("version") == "1.1"
    task = root.find("meta/task")
    assert task is not None
    assert (task.findtext("size"), task.findtext("mode")) == ("12", "interpolation")
    assert task.findtext("original_size/width") == "640"
    declared = [a.findtext("name") for a in task.iterfind("labels/label/attributes/attribute")]
    assert "ta_confidence" in declared and "ta_source" in declared
    shapes = [(b.get("frame"), b.get("keyframe"), b.get("outside")) for b in root.iter("box")]
    # an outside keyframe after each visible stretch; none after the video's last frame
    assert shapes == [
        ("0", "1", "0"),
        ("1", "1", "0"),  # tracked, but it ends a visible stretch: CVAT needs it
        ("2", "1", "1"),
        ("4", "1", "0"),  # verified: a keyframe
        ("5", "1", "1"),
        ("11", "1", "0"),
    ]
    track = root.find("track")
    assert track is not None and track.get("ta_name") == "blue car"


def test_human_keyframes_keep_stretch_ends(tmp_path: Path) -> None:
    """Only tracked boxes: CVAT must still get a keyframe at each end of the stretch."""
    p = Project(MediaRef("/v/clip.mp4", 10, 640, 480), [Label("car")])
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(1, "car"))
        for f in range(2, 10):
            tx.set_box(1, FrameBox(f, BoxXYXY(f, 0, f + 10, 10), BoxSource.TRACKED, 0.8))
    path = tmp_path / "out.xml"
    write_cvat(p, path, derived_keyframes=False)
    keyframes = [
        b.get("frame") for b in ET.parse(path).getroot().iter("box") if b.get("keyframe") == "1"
    ]
    assert keyframes == ["2", "9"]  # no end marker: the track reaches the last frame
    assert_same_projects(read_cvat(path, media=p.media), p)


def test_default_writes_every_box_as_a_cvat_keyframe(tmp_path: Path) -> None:
    """CVAT's importer drops non-keyframe shapes, so by default tracked boxes are keyframes."""
    path = tmp_path / "out.xml"
    write_cvat(_project_with_gap(), path)
    assert all(b.get("keyframe") == "1" for b in ET.parse(path).getroot().iter("box"))
    assert_same_projects(read_cvat(path, media=_project_with_gap().media), _project_with_gap())


def test_file_satisfies_what_cvat_and_datumaro_importers_read(tmp_path: Path) -> None:
    """The elements and attributes CVAT's load_anno and Datumaro's CvatExtractor index
    without a default (a missing one is a KeyError there)."""
    path = tmp_path / "out.xml"
    write_cvat(_project_with_gap(), path)
    root = ET.parse(path).getroot()
    assert root.tag == "annotations"
    for attr in root.iterfind("meta/task/labels/label/attributes/attribute"):
        assert attr.findtext("name") and attr.findtext("input_type")
    assert root.findtext("meta/task/original_size/height") == "480"
    for track in root.iter("track"):
        assert track.get("id") is not None and track.get("label") is not None
        assert len(track) > 0  # CVAT reads track.shapes[0]
        for b in track:
            for key in ("frame", "keyframe", "outside", "occluded", "xtl", "ytl", "xbr", "ybr"):
                assert b.get(key) is not None
            for a in b.iter("attribute"):
                assert a.get("name", "").startswith("ta_")
            flags = [a.text for a in b.iter("attribute") if a.get("name") == "ta_flagged"]
            assert flags in (["true"], ["false"])  # CVAT checkbox values


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=projects())
def test_round_trip_is_lossless(tmp_path_factory: pytest.TempPathFactory, project: Project) -> None:
    path = tmp_path_factory.mktemp("cvat") / "annotations.xml"
    write_cvat(project, path)
    assert_same_projects(read_cvat(path, media=project.media), project)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=projects(with_media=True))
def test_round_trip_with_human_only_keyframes(
    tmp_path_factory: pytest.TempPathFactory, project: Project
) -> None:
    path = tmp_path_factory.mktemp("cvat") / "annotations.xml"
    write_cvat(project, path, derived_keyframes=False)
    assert_same_projects(read_cvat(path, media=project.media), project)


@pytest.mark.shared_data
def test_real_gt_round_trips_identically(shared_data: Path, tmp_path: Path) -> None:
    seq = shared_data / "sequences" / "TUD-Campus"
    media = MediaRef(str(seq), 71, 640, 480, 25.0)
    original = read_mot(seq / "gt" / "gt.txt", media=media)
    write_cvat(original, tmp_path / "a.xml")
    back = read_cvat(tmp_path / "a.xml", media=media)
    assert_same_projects(back, original)


MALFORMED = [
    # (body, line offset within body or None for "any", field, reason)
    ('<track id="0" label="car">' + box(0, 1.0), None, None, "truncated XML"),
    (
        '<track id="0" label="car">' + box(0, 1.0) + "</track><polygons/>",
        0,
        None,
        "unknown element",
    ),
    ('<image id="0" name="a.jpg"/>', 0, None, "CVAT for images, not video"),
    ('<track id="0">' + box(0, 1.0) + "</track>", 0, "label", "track without label"),
    ('<track id="x" label="car">' + box(0, 1.0) + "</track>", 0, "id", "track id not a number"),
    ('<track id="0" label="bus">' + box(0, 1.0) + "</track>", 0, "label", "label not declared"),
    (
        '<track id="0" label="car"><box frame="0" ytl="1" xbr="2" ybr="3"/></track>',
        0,
        "xtl",
        "box without xtl",
    ),
    (
        '<track id="0" label="car"><box frame="0" xtl="a" ytl="1" xbr="2" ybr="3"/></track>',
        0,
        "xtl",
        "xtl not a number",
    ),
    (
        '<track id="0" label="car"><box frame="0" xtl="5" ytl="1" xbr="2" ybr="3"/></track>',
        0,
        "xtl",
        "xbr left of xtl",
    ),
    ('<track id="0" label="car">' + box(-1, 1.0) + "</track>", 0, "frame", "negative frame"),
    ('<track id="0" label="car">' + box(10, 1.0) + "</track>", 0, "frame", "beyond the media"),
    ('<track id="0" label="car">' + box(0, 1.0, outside=2) + "</track>", 0, "outside", "not 0/1"),
    (
        '<track id="0" label="car"><box frame="0" xtl="1" ytl="1" xbr="2" ybr="3"><x/></box>'
        "</track>",
        0,
        None,
        "unknown child of box",
    ),
    (
        '<track id="0" label="car"><polygon frame="0" points="1,2;3,4"/></track>',
        0,
        None,
        "polygon track",
    ),
    (
        '<track id="0" label="car">\n' + box(2, 1.0) + "\n" + box(2, 3.0) + "</track>",
        2,
        "frame",
        "two shapes on one frame",
    ),
    (
        '<track id="0" label="car">'
        + box(0, 1.0)
        + '</track><track id="0" label="car">'
        + box(3, 1.0)
        + "</track>",
        0,
        "id",
        "duplicate track id",
    ),
    (
        '<track id="0" label="car"><box frame="0" xtl="1" ytl="1" xbr="2" ybr="3">'
        '<attribute name="ta_confidence">1.5</attribute></box></track>',
        0,
        "ta_confidence",
        "confidence above 1",
    ),
    (
        '<track id="0" label="car"><box frame="0" xtl="1" ytl="1" xbr="2" ybr="3">'
        '<attribute name="ta_flagged">maybe</attribute></box></track>',
        0,
        "ta_flagged",
        "checkbox not true/false",
    ),
    (
        '<track id="0" label="car"><box frame="0" xtl="1" ytl="1" xbr="2" ybr="3">'
        '<attribute name="ta_source">robot</attribute></box></track>',
        0,
        "ta_source",
        "unknown source",
    ),
    (
        '<track id="0" label="car" task_id="1">'
        + box(0, 1.0)
        + '</track>\n<track id="1" label="car" task_id="2">'
        + box(0, 1.0)
        + "</track>",
        1,
        "task_id",
        "a project export mixing two tasks' frames",
    ),
]
BODY_FIRST_LINE = 7  # declaration, root, version, 3 meta lines, then the body


@pytest.mark.parametrize(
    ("body", "offset", "field", "reason"), MALFORMED, ids=[m[3] for m in MALFORMED]
)
def test_malformed_files_name_line_and_field(
    tmp_path: Path, body: str, offset: int | None, field: str | None, reason: str
) -> None:
    path = cvat_file(tmp_path / "bad.xml", body)
    with pytest.raises(FormatError) as info:
        read_cvat(path, media=MediaRef("/v.mp4", 10, 640, 480))
    err = info.value
    assert err.path == str(path) and err.field == field, reason
    assert err.line is not None
    if offset is not None:
        assert err.line == BODY_FIRST_LINE + offset, reason


def test_wrong_root_element(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text("<?xml version='1.0'?>\n<dataset/>\n")
    with pytest.raises(FormatError, match="expected <annotations>") as info:
        read_cvat(path)
    assert info.value.line == 2


CVAT_EXPORT = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <job>
      <id>7</id>
      <size>6</size>
      <mode>interpolation</mode>
      <overlap>5</overlap>
      <bugtracker></bugtracker>
      <created>2024-01-02 10:00:00.000000+00:00</created>
      <updated>2024-01-02 11:00:00.000000+00:00</updated>
      <subset>default</subset>
      <start_frame>0</start_frame>
      <stop_frame>5</stop_frame>
      <frame_filter></frame_filter>
      <segments><segment><id>7</id><start>0</start><stop>5</stop><url>x</url></segment></segments>
      <owner><username>ann</username><email>a@example.org</email></owner>
      <assignee></assignee>
      <labels>
        <label>
          <name>car</name>
          <color>#fa3253</color>
          <type>any</type>
          <attributes>
            <attribute>
              <name>parked</name>
              <mutable>False</mutable>
              <input_type>checkbox</input_type>
              <default_value>false</default_value>
              <values>false</values>
            </attribute>
          </attributes>
        </label>
      </labels>
    </job>
    <original_size><width>640</width><height>480</height></original_size>
    <dumped>2024-01-02 11:05:00.000000+00:00</dumped>
  </meta>
  <track id="0" label="car" source="manual">
    <box frame="0" keyframe="1" outside="0" occluded="0"
         xtl="10.00" ytl="10.00" xbr="30.00" ybr="40.00" z_order="0">
      <attribute name="parked">false</attribute>
    </box>
    <box frame="1" keyframe="0" outside="0" occluded="0"
         xtl="12.00" ytl="10.00" xbr="32.00" ybr="40.00" z_order="0">
      <attribute name="parked">false</attribute>
    </box>
    <box frame="2" keyframe="1" outside="0" occluded="1"
         xtl="14.00" ytl="10.00" xbr="34.00" ybr="40.00" z_order="0">
      <attribute name="parked">false</attribute>
    </box>
    <box frame="3" keyframe="1" outside="1" occluded="1"
         xtl="14.00" ytl="10.00" xbr="34.00" ybr="40.00" z_order="0">
      <attribute name="parked">false</attribute>
    </box>
  </track>
</annotations>
"""


def test_reads_a_cvat_job_export(tmp_path: Path) -> None:
    """CVAT 2.x job exports: <meta><job>, <dumped>, non-keyframe shapes on every frame,
    label attributes we do not model (dropped), outside keyframe at the end."""
    path = tmp_path / "annotations.xml"
    path.write_text(CVAT_EXPORT)
    p = read_cvat(path)
    assert list(p.labels) == ["car"] and p.labels["car"].hex == "#fa3253"
    boxes = p.boxes(0)
    assert sorted(boxes) == [0, 1, 2, 3]
    assert [boxes[f].source for f in (0, 1, 2)] == [
        BoxSource.MANUAL,
        BoxSource.INTERPOLATED,
        BoxSource.MANUAL,
    ]
    assert boxes[2].occluded and boxes[3].outside and p.extent(0) == (0, 2)
