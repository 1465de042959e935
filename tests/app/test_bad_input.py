"""Bad input gives a clear error naming what and where, or a clearly flagged result;
never a crash or a silent wrong box. Real files: PNG folders, MOT text, detections."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from tracking_scenes import ArraySource, MovingObject

from tracker_annotate.app.pipeline import track_file
from tracker_annotate.core.errors import TrackerAnnotateError
from tracker_annotate.tracking.api import TrackerConfig

N = 20


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 PNG frames of one moving object; frame 10 (0-based) is a corrupt file."""
    src = ArraySource([MovingObject((60, 60, 110, 110), (2.0, 1.0), seed=3)], n=N)
    d = tmp_path_factory.mktemp("frames")
    for i in range(N):
        cv2.imwrite(str(d / f"{i + 1:06d}.png"), src.read(i))
    return d


@pytest.fixture(scope="module")
def corrupt_folder(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("corrupt")
    for f in sorted(folder.iterdir()):
        (d / f.name).write_bytes(f.read_bytes())
    (d / "000011.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    return d


GOOD_ROW = "1,1,60,60,50,50,1,1,1\n"

# (name, keyframe MOT text, detections text or None, expected error substring or None, reason)
CASES = [
    (
        "outside-image",
        "1,1,900,900,40,40,1,1,1\n",
        None,
        "outside the",
        "box entirely off the 320x240 image",
    ),
    ("zero-size", "1,1,60,60,0,40,1,1,1\n", None, "size", "w=0 cannot be a box"),
    (
        "beyond-last-frame",
        GOOD_ROW + "25,1,60,60,50,50,1,1,1\n",
        None,
        "frame",
        "frame 25 of a 20-frame clip",
    ),
    ("no-keyframes", "", None, "keyframe", "an empty keyframe file gives nothing to track"),
    ("empty-detections", GOOD_ROW, "", None, "no detections is valid: track without proposals"),
    (
        "bad-detections",
        GOOD_ROW,
        "1,-1,5,5,abc,10,0.9\n",
        "det",
        "a non-number in a detections row",
    ),
]


@pytest.mark.parametrize(
    ("name", "keys", "dets", "error", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_table(
    folder: Path,
    tmp_path: Path,
    name: str,
    keys: str,
    dets: str | None,
    error: str | None,
    reason: str,
) -> None:
    init = tmp_path / "keys.txt"
    init.write_text(keys)
    det_path = None
    if dets is not None:
        det_path = tmp_path / "det.txt"
        det_path.write_text(dets)
    out = tmp_path / "out.txt"
    if error is None:
        summary = track_file(folder, init, out, TrackerConfig(), detections_path=det_path)
        assert summary["boxes"] == N - 1 and summary["proposed"] == 0
        assert out.is_file()
        return
    with pytest.raises(TrackerAnnotateError) as info:
        track_file(folder, init, out, TrackerConfig(), detections_path=det_path)
    assert error.lower() in str(info.value).lower(), reason
    assert not out.exists()


def test_unreadable_frame_mid_video_is_flagged_not_guessed(
    corrupt_folder: Path, tmp_path: Path
) -> None:
    init = tmp_path / "keys.txt"
    init.write_text(GOOD_ROW)
    out = tmp_path / "out.taproj"
    from tracker_annotate.io.store import ProjectStore

    track_file(corrupt_folder, init, out, TrackerConfig())
    with ProjectStore.open(out, check_media=False) as store:
        box = store.project.box(1, 10)
        after = store.project.box(1, 11)
    assert box is not None and box.flagged and "decoded" in box.flag_reason
    assert box.confidence == 0.0
    assert after is not None and after.confidence > 0.5  # tracking resumes after the hole


def test_unreadable_keyframe_frame_is_an_error_naming_it(
    corrupt_folder: Path, tmp_path: Path
) -> None:
    init = tmp_path / "keys.txt"
    init.write_text("11,1,60,60,50,50,1,1,1\n")
    with pytest.raises(TrackerAnnotateError, match="10"):
        track_file(corrupt_folder, init, tmp_path / "o.txt", TrackerConfig())
