from __future__ import annotations

import math

import numpy as np
import pytest

from tracker_annotate.core.boxes import (
    BoxSource,
    BoxXYXY,
    FrameBox,
    as_xyxy_array,
    iou_matrix,
    validate_in_image,
)
from tracker_annotate.core.errors import BoxError


@pytest.mark.parametrize(
    ("coords", "why"),
    [
        ((0, 0, 0, 10), "zero width"),
        ((0, 0, 10, 0), "zero height"),
        ((10, 0, 0, 10), "x2 < x1"),
        ((0, 10, 10, 0), "y2 < y1"),
        ((math.nan, 0, 10, 10), "NaN"),
        ((0, 0, math.inf, 10), "infinite"),
    ],
)
def test_impossible_boxes_are_refused(coords: tuple[float, ...], why: str) -> None:
    with pytest.raises(BoxError):
        BoxXYXY(*coords)


def test_format_conversions_round_trip() -> None:
    b = BoxXYXY.from_xywh(10, 20, 30, 40)
    assert b.as_tuple() == (10, 20, 40, 60)
    assert b.to_xywh() == (10, 20, 30, 40)
    assert BoxXYXY.from_cxcywh(*b.to_cxcywh()) == b
    assert b.center == (25, 40)


def test_iou_scalar_matches_matrix() -> None:
    a = [BoxXYXY(0, 0, 10, 10), BoxXYXY(5, 5, 15, 15)]
    b = [BoxXYXY(0, 0, 10, 10), BoxXYXY(20, 20, 30, 30), BoxXYXY(0, 5, 10, 15)]
    m = iou_matrix([x.as_tuple() for x in a], [y.as_tuple() for y in b])
    assert m.shape == (2, 3)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert m[i, j] == pytest.approx(x.iou(y))
    assert m[0, 0] == 1.0
    assert m[0, 1] == 0.0
    assert m[1, 0] == pytest.approx(25 / 175)


def test_iou_matrix_empty_shapes() -> None:
    assert iou_matrix(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)


def test_as_xyxy_array_names_bad_row() -> None:
    with pytest.raises(BoxError, match="row 1"):
        as_xyxy_array([[0, 0, 5, 5], [3, 3, 1, 9]])


def test_visible_fraction_and_clip() -> None:
    b = BoxXYXY(-10, 0, 10, 10)
    assert b.visible_fraction(100, 100) == pytest.approx(0.5)
    assert b.clipped(100, 100) == BoxXYXY(0, 0, 10, 10)
    assert BoxXYXY(200, 200, 210, 210).clipped(100, 100) is None
    with pytest.raises(BoxError, match="outside the 100x100 image"):
        validate_in_image(BoxXYXY(200, 200, 210, 210), 100, 100)


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"frame": -1}, "frames are 0-based"),
        ({"frame": 1.5}, "frame must be an integer"),
        ({"confidence": 1.5}, "confidence above 1"),
        ({"confidence": -0.1}, "confidence below 0"),
    ],
)
def test_frame_box_validation(kwargs: dict[str, object], why: str) -> None:
    base: dict[str, object] = {"frame": 0, "xyxy": BoxXYXY(0, 0, 1, 1)}
    base.update(kwargs)
    with pytest.raises(BoxError):
        FrameBox(**base)  # type: ignore[arg-type]


def test_keyframe_semantics() -> None:
    xy = BoxXYXY(0, 0, 1, 1)
    assert FrameBox(0, xy, BoxSource.MANUAL).is_keyframe
    tracked = FrameBox(0, xy, BoxSource.TRACKED, 0.3, flagged=True)
    assert tracked.is_derived
    assert tracked.flag_reason == "low confidence"
    assert tracked.with_(verified=True).is_keyframe
