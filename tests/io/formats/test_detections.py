"""Detections: the columnar container, MOT det.txt and COCO results readers/writers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from formats_helpers import write_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker_annotate.core.detections import Detections
from tracker_annotate.core.errors import BoxError, FormatError
from tracker_annotate.io.formats.detections import (
    read_coco_detections,
    read_detections,
    read_mot_detections,
    write_coco_detections,
    write_mot_detections,
)


def dets(frames: list[int], scores: list[float] | None = None) -> Detections:
    n = len(frames)
    xyxy = np.array([[i, i, i + 10.0, i + 5.0] for i in range(n)]).reshape(-1, 4)
    return Detections(np.array(frames), xyxy, np.array(scores or [0.5] * n), np.zeros(n, np.int64))


def test_rows_are_sorted_by_frame_stably_and_read_only() -> None:
    d = dets([3, 1, 3, 0], [0.1, 0.2, 0.3, 0.4])
    assert d.frames.tolist() == [0, 1, 3, 3]
    assert d.scores.tolist() == [0.4, 0.2, 0.1, 0.3]  # the two frame-3 rows keep their order
    with pytest.raises(ValueError):
        d.scores[0] = 1.0
    assert len(d.at_frame(3)) == 2 and len(d.at_frame(2)) == 0 and len(d.at_frame(99)) == 0
    assert d.frame_range == (0, 3) and Detections.empty().frame_range is None
    assert d.with_min_score(0.25).scores.tolist() == [0.4, 0.3]


@settings(max_examples=50, deadline=None)
@given(frames=st.lists(st.integers(0, 30), max_size=60), probe=st.integers(-1, 32))
def test_at_frame_matches_a_boolean_mask(frames: list[int], probe: int) -> None:
    d = dets(frames)
    fast = d.at_frame(probe)
    slow = d[d.frames == probe]
    assert fast.equals(slow) and len(fast) == frames.count(probe)


@pytest.mark.parametrize(
    ("kwargs", "match", "reason"),
    [
        ({"scores": np.ones(1)}, "scores has 1 rows", "scores shorter than frames"),
        ({"class_ids": np.zeros(3)}, "class_ids has 3 rows", "class ids longer"),
        ({"xyxy": np.array([[0, 0, 1, 1], [5, 5, 1, 1]])}, "row 1", "xbr left of xtl"),
        ({"xyxy": np.zeros((2, 3))}, "N, 4", "three coordinates"),
        ({"frames": np.array([0, -1])}, "negative", "negative frame"),
        ({"frames": np.array([0.0, 1.5])}, "integers", "fractional frame"),
        ({"scores": np.array([0.5, np.nan])}, "finite", "NaN score"),
    ],
)
def test_validation(kwargs: dict[str, Any], match: str, reason: str) -> None:
    base: dict[str, Any] = {
        "frames": np.array([0, 1]),
        "xyxy": np.array([[0, 0, 1, 1], [0, 0, 2, 2]]),
        "scores": np.array([0.1, 0.2]),
        "class_ids": np.array([1, 1]),
    }
    with pytest.raises(BoxError, match=match):
        Detections(**{**base, **kwargs})


def test_mot_det_file_keeps_raw_scores(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "det.txt",
        [
            "1,-1,10,20,30,40,-0.5,-1,-1,-1",  # MOT16 det.txt: DPM score below zero
            "1,-1,11,20,30,40,35.2,-1,-1,-1",
            "4,-1,0,0,5,5",  # no score column: 1
            "2,-1,0,0,5,5,0.9,3,1",  # a 9-column row: class 3
        ],
    )
    d = read_mot_detections(path)
    assert d.frames.tolist() == [0, 0, 1, 3]
    assert d.scores.tolist() == [-0.5, 35.2, 0.9, 1.0]
    assert d.class_ids.tolist() == [-1, -1, 3, -1]
    assert d.xyxy[0].tolist() == [10, 20, 40, 60]
    norm = d.normalized_scores()
    assert norm.min() == 0.0 and norm.max() == 1.0


def test_mot_det_errors_name_the_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "det.txt", ["1,-1,0,0,5,5,1", "0,-1,0,0,5,5,1"])
    with pytest.raises(FormatError) as info:
        read_mot_detections(path)
    assert (info.value.line, info.value.field) == (2, "frame")


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 50),
            st.floats(-100, 1000, allow_nan=False),
            st.floats(-100, 1000, allow_nan=False),
            st.floats(1, 200, allow_nan=False),
            st.floats(1, 200, allow_nan=False),
            st.floats(-5, 50, allow_nan=False),
        ),
        max_size=30,
    )
)
def test_round_trips(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[float, ...]]
) -> None:
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    xyxy = np.column_stack([a[:, 1], a[:, 2], a[:, 1] + a[:, 3], a[:, 2] + a[:, 4]])
    d = Detections(a[:, 0].astype(int), xyxy, a[:, 5], np.full(len(a), 2))
    tmp = tmp_path_factory.mktemp("dets")
    write_coco_detections(d, tmp / "r.json")
    assert read_coco_detections(tmp / "r.json").equals(d, atol=1e-9)
    write_mot_detections(d, tmp / "det.txt", decimals=None)
    back = read_mot_detections(tmp / "det.txt")
    assert np.array_equal(back.frames, d.frames) and np.array_equal(back.scores, d.scores)
    assert np.allclose(back.xyxy, d.xyxy, atol=1e-9, rtol=0)


def test_coco_results_map_image_ids(tmp_path: Path) -> None:
    results = [
        {"image_id": 7, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.9},
        {"image_id": 3, "category_id": 2, "bbox": [1, 1, 4, 4], "score": 0.3},
    ]
    (tmp_path / "r.json").write_text(json.dumps(results))
    # default: COCO ids count from 1, so image 7 is frame 6
    assert read_detections(tmp_path / "r.json").frames.tolist() == [2, 6]
    assert read_coco_detections(tmp_path / "r.json", image_id_base=0).frames.tolist() == [3, 7]
    images = {"images": [{"id": 7, "frame_id": 0}, {"id": 3, "frame_index": 40}]}
    (tmp_path / "gt.json").write_text(json.dumps(images))
    mapped = read_coco_detections(tmp_path / "r.json", images_from=tmp_path / "gt.json")
    assert mapped.frames.tolist() == [0, 40] and mapped.class_ids.tolist() == [1, 2]
    full = {**images, "annotations": results, "categories": [{"id": 1, "name": "car"}]}
    (tmp_path / "full.json").write_text(json.dumps(full))
    inline = read_coco_detections(tmp_path / "full.json")
    assert inline.frames.tolist() == [0, 40] and inline.class_names == {1: "car"}


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ([{"bbox": [0, 0, 1, 1]}], "[0].image_id", "missing image_id"),
        ([{"image_id": 1}], "[0].bbox", "missing bbox"),
        ([{"image_id": 1, "bbox": [0, 0, 1]}], "[0].bbox", "three numbers"),
        ([{"image_id": 1, "bbox": [0, 0, 0, 1]}], "[0].bbox", "zero width"),
        ([{"image_id": 0, "bbox": [0, 0, 1, 1]}], "[0].image_id", "below the first id"),
        ([{"image_id": "a.jpg", "bbox": [0, 0, 1, 1]}], "[0].image_id", "string id, no images"),
        ([{"image_id": 1, "bbox": [0, 0, 1, 1], "score": "hi"}], "[0].score", "text score"),
        ([{"image_id": 1, "bbox": [0, 0, 1, 1], "category_id": 1.5}], "[0].category_id", "float"),
        ({"images": []}, "annotations", "an object without annotations"),
        (
            {"images": [{"id": 1}], "annotations": []},
            "images[0].frame_id",
            "image without a frame number",
        ),
        (
            {
                "images": [{"id": 1, "frame_id": 0}],
                "annotations": [{"image_id": 2, "bbox": [0, 0, 1, 1]}],
            },
            "annotations[0].image_id",
            "image id not among the images",
        ),
    ],
)
def test_coco_results_malformed(tmp_path: Path, data: Any, field: str, reason: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError) as info:
        read_coco_detections(path)
    assert (info.value.path, info.value.field) == (str(path), field), reason


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="'mot' or 'coco'"):
        read_detections(tmp_path / "x.csv")
