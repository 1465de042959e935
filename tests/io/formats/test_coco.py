"""COCO-VID / TAO JSON: layout, round trips, real GT, malformed input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from formats_helpers import projects, visible_boxes
from hypothesis import HealthCheck, given, settings

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import FormatError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.formats.coco import read_coco, write_coco
from tracker_annotate.io.formats.mot import read_mot

GOOD: dict[str, Any] = {
    "videos": [{"id": 1, "name": "clip"}],
    "images": [
        {"id": 10, "video_id": 1, "frame_id": 0},
        {"id": 11, "video_id": 1, "frame_id": 1},
    ],
    "annotations": [
        {"id": 1, "image_id": 10, "category_id": 3, "track_id": 5, "bbox": [1, 2, 10, 20]},
        {"id": 2, "image_id": 11, "category_id": 3, "track_id": 5, "bbox": [2, 2, 10, 20]},
    ],
    "categories": [{"id": 3, "name": "car"}],
}


def dump(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def test_foreign_file_reads_with_defaults(tmp_path: Path) -> None:
    p = read_coco(dump(tmp_path / "a.json", GOOD))
    assert list(p.tracks) == [5] and p.track(5).label == "car"
    b = p.box(5, 1)
    assert b is not None and b.xyxy == BoxXYXY(2, 2, 12, 22)
    assert b.source is BoxSource.MANUAL and b.confidence == 1.0


def test_tao_spelling_crowd_and_video_choice(tmp_path: Path) -> None:
    data = copy.deepcopy(GOOD)
    data["videos"].append({"id": 2, "name": "other"})
    data["images"] = [
        {"id": 10, "video_id": 1, "frame_index": 4},
        {"id": 20, "video_id": 2, "frame_index": 0},
    ]
    data["annotations"] = [
        {"image_id": 10, "category_id": 3, "instance_id": 7, "bbox": [0, 0, 5, 5]},
        {"image_id": 10, "category_id": 3, "instance_id": 8, "bbox": [0, 0, 5, 5], "iscrowd": 1},
        {"image_id": 20, "video_id": 2, "category_id": 3, "track_id": 9, "bbox": [0, 0, 5, 5]},
    ]
    path = dump(tmp_path / "tao.json", data)
    with pytest.raises(FormatError, match="2 videos"):
        read_coco(path)
    p = read_coco(path, video="clip")
    assert list(p.tracks) == [7] and p.box(7, 4) is not None  # crowd region skipped
    assert list(read_coco(path, video=2).tracks) == [9]


def test_writer_layout(tmp_path: Path) -> None:
    media = MediaRef("/v/clip.mp4", 3, 640, 480, 30.0)
    p = Project(media, [Label("person", (255, 0, 0)), Label("unused")])
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(4, "person", "Ann", proposed=True))
        tx.set_box(4, FrameBox(1, BoxXYXY(1, 2, 11, 22), BoxSource.TRACKED, 0.25, flagged=True))
        tx.set_box(4, FrameBox(2, BoxXYXY(1, 2, 11, 22), outside=True))
    write_coco(p, tmp_path / "out.json")
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["videos"] == [
        {"id": 1, "name": "clip", "length": 3, "width": 640, "height": 480, "fps": 30.0}
    ]
    assert [i["frame_id"] for i in data["images"]] == [0, 1, 2]
    assert [c["name"] for c in data["categories"]] == ["person", "unused"]
    (ann,) = data["annotations"]  # the outside box is not an object
    assert ann["bbox"] == [1, 2, 10, 20] and ann["area"] == 200 and ann["score"] == 0.25
    assert ann["track_id"] == ann["instance_id"] == 4 and ann["image_id"] == 2
    assert ann["attributes"]["ta_flagged"] is True and ann["attributes"]["keyframe"] is False
    assert data["tracks"][0]["proposed"] is True


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=projects())
def test_round_trip_keeps_everything_but_outside_boxes(
    tmp_path_factory: pytest.TempPathFactory, project: Project
) -> None:
    path = tmp_path_factory.mktemp("coco") / "a.json"
    write_coco(project, path)
    back = read_coco(path, media=project.media)
    assert dict(back.labels) == dict(project.labels)
    assert dict(back.tracks) == dict(project.tracks)
    for tid in project.tracks:
        mine, theirs = visible_boxes(project, tid), dict(back.boxes(tid))
        assert set(mine) == set(theirs)
        for f, a in mine.items():
            b = theirs[f]
            # x2 = x + w in floating point: equal up to rounding of the sum
            for u, v in zip(a.xyxy.as_tuple(), b.xyxy.as_tuple(), strict=True):
                assert abs(u - v) <= 1e-9
            assert b.with_(xyxy=a.xyxy) == a


@pytest.mark.shared_data
def test_real_gt_round_trips(shared_data: Path, tmp_path: Path) -> None:
    seq = shared_data / "sequences" / "TUD-Campus"
    media = MediaRef(str(seq), 71, 640, 480, 25.0)
    original = read_mot(seq / "gt" / "gt.txt", media=media)
    write_coco(original, tmp_path / "a.json")
    back = read_coco(tmp_path / "a.json", media=media)
    assert dict(back.tracks) == dict(original.tracks)
    for tid in original.tracks:
        for f, a in original.boxes(tid).items():
            b = back.box(tid, f)
            assert b is not None and a.xyxy.iou(b.xyxy) > 1 - 1e-12


def _mutate(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


MALFORMED = [
    # (data, field, reason)
    (_mutate(["annotations"], KeyError), "$.annotations", "missing annotations"),
    (_mutate(["images"], KeyError), "$.images", "missing images"),
    (_mutate(["annotations", 0, "bbox"], KeyError), "annotations[0].bbox", "missing bbox"),
    (_mutate(["annotations", 1, "bbox"], [1, 2, 3]), "annotations[1].bbox", "3 numbers"),
    (_mutate(["annotations", 0, "bbox"], [1, "2", 3, 4]), "annotations[0].bbox", "a string"),
    (_mutate(["annotations", 0, "bbox"], [1, 2, -3, 4]), "annotations[0].bbox", "negative w"),
    (_mutate(["annotations", 0, "category_id"], 99), "annotations[0].category_id", "unknown cat"),
    (_mutate(["annotations", 0, "image_id"], 99), "annotations[0].image_id", "unknown image"),
    (_mutate(["annotations", 1, "image_id"], 10), "annotations[1]", "duplicate (frame, track)"),
    (_mutate(["annotations", 0, "score"], 2.0), "annotations[0].score", "score above 1"),
    (_mutate(["annotations", 0, "track_id"], "a"), "annotations[0].track_id", "track id text"),
    (_mutate(["annotations", 0, "track_id"], -2), "annotations[0].track_id", "negative id"),
    (_mutate(["images", 0, "frame_id"], KeyError), "images[0].frame_index", "no frame number"),
    (_mutate(["images", 1, "frame_id"], -1), "images[1].frame_id", "negative frame"),
    (_mutate(["images", 1, "id"], 10), "images[1].id", "duplicate image id"),
    (_mutate(["categories", 0, "name"], ""), "categories[0].name", "empty category name"),
    (_mutate(["categories", 0, "color"], "#12"), "categories[0].color", "bad colour"),
    (_mutate(["images", 1, "frame_id"], 5), "annotations[1]", "frame beyond the media"),
    (
        _mutate(["annotations", 0, "attributes"], {"ta_source": "robot"}),
        "annotations[0].attributes.ta_source",
        "unknown source",
    ),
]


@pytest.mark.parametrize(("data", "field", "reason"), MALFORMED, ids=[m[2] for m in MALFORMED])
def test_malformed_files_name_the_field(
    tmp_path: Path, data: dict[str, Any], field: str, reason: str
) -> None:
    path = dump(tmp_path / "bad.json", data)
    with pytest.raises(FormatError) as info:
        read_coco(path, media=MediaRef("/v.mp4", 3, 64, 48))
    assert (info.value.path, info.value.field) == (str(path), field), reason


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n "images": [],\n "annotations": [,]\n}\n')
    with pytest.raises(FormatError, match="not valid JSON") as info:
        read_coco(path)
    assert info.value.line == 3


def test_a_list_is_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="expected a JSON object"):
        read_coco(dump(tmp_path / "results.json", [{"image_id": 1}]))
