"""Loading MOT ground truth for the labeling benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench_helpers import static, write_mot_sequence

from tracker_annotate.bench.sequences import find_sequences, load_mot_sequence
from tracker_annotate.core.errors import FormatError


def test_frames_become_zero_based_and_ignore_rows_are_skipped(tmp_path: Path) -> None:
    root = write_mot_sequence(
        tmp_path / "s",
        {1: static(range(2, 5), x=10, y=20, w=5, h=6), 2: static(range(0, 1))},
        n_frames=6,
        extra_lines=["4,3,1,1,5,5,0,1,1"],  # conf 0 = ignore: track 3 must not exist
    )
    gt = load_mot_sequence(root)
    assert sorted(gt.tracks) == [1, 2]
    t = gt.tracks[1]
    assert t.frames.tolist() == [2, 3, 4]
    assert (t.first, t.last, t.n_boxes) == (2, 4, 3)
    np.testing.assert_allclose(t.xyxy[0], [10, 20, 15, 26])
    assert t.index_of(3) == 1
    assert t.index_of(5) is None
    assert gt.n_boxes == 4
    assert (gt.n_frames, gt.width, gt.height, gt.fps) == (6, 160, 120, 25.0)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1,1,1,1", "at least 6 columns"),  # truncated row
        ("x,1,1,1,5,5,1", "not a number"),  # non-numeric frame
        ("9,1,1,1,5,5,1", "outside 1..6"),  # frame beyond seqLength
        ("0,1,1,1,5,5,1", "outside 1..6"),  # frames are 1-based on disk
        ("2,1,1,1,0,5,1", "positive finite size"),  # zero width
        ("1,1,40,30,30,40,1", "two boxes on frame 1"),  # duplicate of the first row
    ],
)
def test_bad_gt_rows_name_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    root = write_mot_sequence(tmp_path / "s", {1: static(range(0, 1))}, 6, extra_lines=[line])
    with pytest.raises(FormatError, match=expected) as info:
        load_mot_sequence(root)
    assert info.value.line == 2
    assert info.value.path is not None and info.value.path.endswith("gt.txt")


def test_missing_seqinfo_key_is_named(tmp_path: Path) -> None:
    root = write_mot_sequence(tmp_path / "s", {1: static(range(0, 2))}, 3)
    ini = root / "seqinfo.ini"
    ini.write_text(ini.read_text().replace("imWidth=160\n", ""))
    with pytest.raises(FormatError, match="missing imWidth"):
        load_mot_sequence(root)


def test_find_sequences_expands_parent_folders(tmp_path: Path) -> None:
    a = write_mot_sequence(tmp_path / "set" / "a", {1: static(range(2))}, 2)
    b = write_mot_sequence(tmp_path / "set" / "sub" / "b", {1: static(range(2))}, 2)
    stray = tmp_path / "set" / "a.taproj"  # a file a shell glob picks up next to them
    stray.write_text("x")
    assert find_sequences([str(tmp_path / "set"), str(a), str(stray)]) == [a, b]
    with pytest.raises(FormatError, match="no MOT sequence"):
        find_sequences([str(tmp_path / "set" / "sub" / "b" / "gt"), str(stray)])
