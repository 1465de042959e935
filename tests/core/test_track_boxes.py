"""A track's boxes as columns (BoxColumns) and the mapping the project reads (TrackBoxes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import BoxError
from tracker_annotate.core.track_boxes import BoxColumns, TrackBoxes

coord = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def frame_boxes(draw: st.DrawFn, frame: int | None = None) -> FrameBox:
    x1, y1 = draw(coord), draw(coord)
    w = draw(st.floats(1e-3, 1e5))
    h = draw(st.floats(1e-3, 1e5))
    flagged = draw(st.booleans())
    return FrameBox(
        draw(st.integers(0, 10**9)) if frame is None else frame,
        BoxXYXY(x1, y1, x1 + w, y1 + h),
        draw(st.sampled_from(list(BoxSource))),
        draw(st.floats(0.0, 1.0)),
        flagged=flagged,
        flag_reason=draw(st.sampled_from(["", "drift", "é ✓ \n", "low confidence"])),
        verified=draw(st.booleans()),
        occluded=draw(st.booleans()),
        outside=draw(st.booleans()),
    )


def unique_boxes(max_size: int = 40) -> st.SearchStrategy[list[FrameBox]]:
    return st.lists(frame_boxes(), max_size=max_size, unique_by=lambda b: b.frame)


@settings(max_examples=150, deadline=None)
@given(unique_boxes())
def test_columns_round_trip_every_field(boxes: list[FrameBox]) -> None:
    cols = BoxColumns.from_boxes(boxes)
    by_frame = sorted(boxes, key=lambda b: b.frame)
    assert [cols.box(i) for i in range(len(cols))] == by_frame
    assert [cols.reason_of(i) for i in range(len(cols))] == [b.flag_reason for b in by_frame]
    assert cols.is_keyframe.tolist() == [b.is_keyframe for b in by_frame]
    for b in by_frame:
        assert cols.index(b.frame) >= 0
    assert cols.index(10**9 + 1) == -1


@settings(max_examples=60, deadline=None)
@given(unique_boxes(), unique_boxes())
def test_concat_merges_reason_tables(a: list[FrameBox], b: list[FrameBox]) -> None:
    seen = {x.frame for x in a}
    b = [x for x in b if x.frame not in seen]
    merged = BoxColumns.concat([BoxColumns.from_boxes(a), BoxColumns.from_boxes(b)])
    want = sorted(a + b, key=lambda x: x.frame)
    assert [merged.box(i) for i in range(len(merged))] == want


def _cols(**change: object) -> BoxColumns:
    base = BoxColumns.from_boxes(
        [FrameBox(f, BoxXYXY(0, 0, 10, 10), BoxSource.TRACKED, 0.5) for f in (0, 3, 6)]
    )
    fields = {
        "frame": base.frame.copy(),
        "xyxy": base.xyxy.copy(),
        "source": base.source.copy(),
        "confidence": base.confidence.copy(),
        "flags": base.flags.copy(),
        "reason": base.reason.copy(),
    }
    for name, (i, value) in change.items():  # type: ignore[misc]
        fields[name][i] = value
    return BoxColumns(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"xyxy": (1, [5, 0, 5, 10])}, "frame 3: xyxy"),  # zero width
        ({"xyxy": (2, [0, 0, np.nan, 10])}, "frame 6: xyxy"),  # NaN coordinate
        ({"xyxy": (0, [0, 0, 1e300, 10])}, "frame 0: xyxy"),  # absurd magnitude
        ({"confidence": (1, 1.5)}, "frame 3: confidence"),  # above 1
        ({"source": (2, 9)}, "frame 6: unknown source"),  # no such source code
        ({"flags": (0, 16)}, "frame 0: unknown source 1 or flags 16"),  # unknown bit
        ({"reason": (1, 4)}, "frame 3: flag reason id"),  # past the reason table
        ({"frame": (2, 3)}, "frame 3: frames are not strictly increasing"),  # duplicate
        ({"frame": (0, -1)}, "frame -1: negative"),  # 0-based frames
    ],
)
def test_invalid_columns_are_refused_naming_the_frame(change: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(BoxError, match=message):
        _cols(**change)


def test_columns_are_read_only() -> None:
    cols = _cols()
    with pytest.raises(ValueError, match="read-only"):
        cols.confidence[0] = 0.1


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"), frame_boxes(frame=None).map(lambda b: b.with_(frame=b.frame % 30))
        ),
        st.tuples(st.just("del"), st.integers(0, 29)),
        st.tuples(st.just("fold"), st.none()),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(frame_boxes().map(lambda b: b.with_(frame=b.frame % 30)), max_size=20), ops)
def test_track_boxes_behaves_like_a_dict(start: list[FrameBox], steps: list[tuple]) -> None:  # type: ignore[type-arg]
    """Columns plus an overlay of edits, folded in at any time, read like the dict it
    replaced: same keys, values, length, membership."""
    ref = {b.frame: b for b in start}
    tb = TrackBoxes(BoxColumns.from_boxes(ref.values()))
    for op, arg in steps:
        if op == "set":
            ref[arg.frame] = arg
            tb[arg.frame] = arg
        elif op == "del":
            assert (arg in tb) == (arg in ref)
            if arg in ref:
                del ref[arg]
                del tb[arg]
            else:
                with pytest.raises(KeyError):
                    del tb[arg]
        else:
            cols = tb.columns()
            assert cols.frame.tolist() == sorted(ref)
        assert len(tb) == len(ref)
        assert sorted(tb) == sorted(ref)
        assert dict(tb.items()) == ref
        assert list(tb.values()) == [ref[f] for f in tb]  # same order as the keys
        assert tb.get(31) is None and 31 not in tb
        assert tb.get(None) is None and "3" not in tb  # keys a dict could not hold either
    assert [tb.columns().box(i) for i in range(len(ref))] == [ref[f] for f in sorted(ref)]
