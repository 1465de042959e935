"""The detector: YOLOX decoding, the shipped model on real frames, the protocol, and the
errors for missing, damaged and mismatched model files."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tracker_annotate.core.boxes import iou_matrix
from tracker_annotate.core.detections import Detections
from tracker_annotate.core.errors import ConfigError, ModelError
from tracker_annotate.models import MODEL_FILES, verified_path
from tracker_annotate.tracking.detector import (
    COCO_CLASSES,
    Detector,
    DetectorConfig,
    OnnxYoloxDetector,
    decode,
    detect_frames,
    grids,
    letterbox,
    load_detector,
    shipped_detector,
)

SIZE = 416
N_ROWS = sum((SIZE // s) ** 2 for s in (8, 16, 32))


@pytest.fixture(scope="module")
def yolox() -> OnnxYoloxDetector:
    return shipped_detector()


def _raw(n_classes: int = 80) -> np.ndarray:
    raw = np.zeros((N_ROWS, 5 + n_classes))
    raw[:, 2:4] = np.log(4.0)  # tiny boxes everywhere, all below threshold (obj 0)
    return raw


def _row(stride: int, gx: int, gy: int) -> int:
    off = 0
    for s in (8, 16, 32):
        n = SIZE // s
        if s == stride:
            return off + gy * n + gx
        off += n * n
    raise AssertionError(stride)


def test_grids_cover_three_strides_in_order() -> None:
    xy, st = grids(SIZE)
    assert xy.shape == (N_ROWS, 2) == (3549, 2)
    assert st[0, 0] == 8 and st[-1, 0] == 32
    assert tuple(xy[_row(16, 3, 5)]) == (3, 5)


def test_decode_places_a_known_cell_in_image_pixels() -> None:
    raw = _raw()
    i = _row(16, 10, 7)
    raw[i, :4] = [0.5, 0.25, np.log(4.0), np.log(6.0)]  # centre (10.5, 7.25)*16, 64x96
    raw[i, 4] = 0.9
    raw[i, 5 + 2] = 0.8  # car
    scale = 0.5  # the image was twice the input size
    xyxy, scores, cls = decode(raw, SIZE, scale, DetectorConfig(classes=None))
    cx, cy = 10.5 * 16 / scale, 7.25 * 16 / scale
    np.testing.assert_allclose(xyxy, [[cx - 64, cy - 96, cx + 64, cy + 96]])
    np.testing.assert_allclose(scores, [0.72])
    assert cls.tolist() == [2]


def test_decode_score_is_objectness_times_class_and_filters_classes() -> None:
    raw = _raw()
    i, j = _row(8, 5, 5), _row(32, 2, 2)
    raw[i, 4], raw[i, 5 + 0] = 0.5, 0.4  # person 0.2: below 0.25
    raw[j, 4], raw[j, 5 + 14] = 0.9, 0.9  # bird 0.81
    keep = np.array([c in ("person", "car") for c in COCO_CLASSES])
    xyxy, _, _ = decode(raw, SIZE, 1.0, DetectorConfig(), keep_class=keep)
    assert len(xyxy) == 0  # the person is too weak, the bird is not a wanted class
    _, scores, cls = decode(raw, SIZE, 1.0, DetectorConfig(classes=None))
    assert cls.tolist() == [14] and scores[0] == pytest.approx(0.81)


def test_nms_is_per_class() -> None:
    raw = _raw()
    a, b, c = _row(8, 20, 20), _row(8, 21, 20), _row(8, 20, 21)
    for r, k, s in ((a, 0, 0.9), (b, 0, 0.8), (c, 2, 0.7)):  # two persons and a car, overlapping
        raw[r, 2:4] = np.log(8.0)  # 64x64 boxes, shifted by 8 px: IoU ~0.78
        raw[r, 4], raw[r, 5 + k] = 1.0, s
    _, scores, cls = decode(raw, SIZE, 1.0, DetectorConfig(classes=None))
    assert sorted(cls.tolist()) == [0, 2]  # the weaker person is suppressed, the car is not
    assert scores.tolist() == sorted(scores.tolist(), reverse=True)


def test_decode_rejects_a_foreign_output_shape() -> None:
    with pytest.raises(ModelError, match="3549"):
        decode(np.zeros((100, 85)), SIZE, 1.0, DetectorConfig())


def test_letterbox_scales_to_fit_and_pads_with_114() -> None:
    img = np.zeros((240, 832, 3), np.uint8)
    blob, r = letterbox(img, SIZE)
    assert blob.shape == (1, 3, SIZE, SIZE) and blob.dtype == np.float32
    assert r == pytest.approx(0.5)
    assert blob[0, :, 119, :].max() == 0 and blob[0, :, 121, :].min() == 114


def test_shipped_model_on_a_blank_frame_finds_nothing(yolox: OnnxYoloxDetector) -> None:
    dets = yolox.detect(np.full((480, 640, 3), 114, np.uint8), frame=7)
    assert isinstance(dets, Detections) and len(dets) == 0
    assert yolox.last_ms > 0


def _gt(seq: Path, frame1: int) -> np.ndarray:
    gt = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",")
    g = gt[gt[:, 0] == frame1]
    return np.c_[g[:, 2], g[:, 3], g[:, 2] + g[:, 4], g[:, 3] + g[:, 5]]


@pytest.mark.shared_data
def test_shipped_model_finds_the_pedestrians_of_tud_campus(
    shared_data: Path, yolox: OnnxYoloxDetector
) -> None:
    seq = shared_data / "sequences" / "TUD-Campus"
    img = cv2.imread(str(seq / "img1" / "000001.jpg"))
    dets = yolox.detect(img, frame=0)
    gt = _gt(seq, 1)
    assert len(gt) == 6
    hit = iou_matrix(gt, dets.xyxy).max(axis=1) >= 0.5
    assert hit.sum() >= 5  # measured: all 6 at IoU 0.5
    assert set(dets.class_ids.tolist()) == {0} and dets.class_names[0] == "person"
    assert (dets.frames == 0).all()
    # a 2x upscaled copy gives the same boxes scaled (the letterbox scale is undone)
    big = cv2.resize(img, (1280, 960))
    dets2 = yolox.detect(big, frame=0)
    m = iou_matrix(dets.xyxy[:5] * 2, dets2.xyxy)
    assert (m.max(axis=1) > 0.8).all()


class FakeDetector:
    """A detector that returns one box per frame, moving right: the protocol only."""

    class_names = ("person",)
    last_ms = 0.0

    def __init__(self) -> None:
        self.calls: list[int] = []

    def detect(self, bgr: np.ndarray, frame: int = 0) -> Detections:
        self.calls.append(frame)
        self.last_ms = 2.0
        x = 10.0 * frame
        return Detections([frame], [[x, 0, x + 5, 5]], [0.9], [0], {0: "person"})


class _Source:
    path = "fake.avi"
    n_frames, width, height, fps = 50, 64, 48, 25.0

    def read(self, index: int) -> np.ndarray:
        return np.zeros((48, 64, 3), np.uint8)


def test_protocol_with_a_fake_detector() -> None:
    fake = FakeDetector()
    assert isinstance(fake, Detector)
    dets, timing = detect_frames(fake, _Source(), [0, 10, 20])  # type: ignore[arg-type]
    assert fake.calls == [0, 10, 20]
    assert dets.frames.tolist() == [0, 10, 20]
    np.testing.assert_allclose(dets.xyxy[:, 0], [0, 100, 200])
    assert timing.mean_ms == 2.0


def test_detect_frames_names_a_frame_outside_the_video() -> None:
    with pytest.raises(Exception, match="frame 50 is outside"):
        detect_frames(FakeDetector(), _Source(), [50])  # type: ignore[arg-type]


# -- model files -------------------------------------------------------------------------


def test_damaged_shipped_model_is_a_model_error_naming_the_file(tmp_path: Path) -> None:
    src = verified_path("yolox_nano")
    dst = tmp_path / MODEL_FILES["yolox_nano"].relpath
    dst.parent.mkdir(parents=True)
    shutil.copy(src, dst)
    with dst.open("r+b") as fh:
        fh.seek(1000)
        b = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(ModelError, match=r"yolox_nano\.onnx is damaged: sha256"):
        verified_path("yolox_nano", models_dir=tmp_path)


def test_missing_shipped_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"yolox_nano\.onnx is missing.*reinstall"):
        verified_path("yolox_nano", models_dir=tmp_path)


def test_own_model_with_wrong_sha256_is_refused(tmp_path: Path) -> None:
    own = tmp_path / "mine.onnx"
    shutil.copy(verified_path("yolox_nano"), own)
    with pytest.raises(ModelError, match=r"mine.onnx is damaged"):
        load_detector(own, sha256="0" * 64)
    ok = load_detector(own, sha256=MODEL_FILES["yolox_nano"].sha256)
    assert ok.class_names == COCO_CLASSES


def test_own_model_missing_or_not_onnx(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nothere.onnx is missing"):
        load_detector(tmp_path / "nothere.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"junk.onnx cannot be loaded"):
        load_detector(junk)


def test_own_model_class_names_must_match_its_output(tmp_path: Path) -> None:
    own = tmp_path / "mine.onnx"
    shutil.copy(verified_path("yolox_nano"), own)
    names = tmp_path / "names.txt"
    names.write_text("person\ncar\n")
    with pytest.raises(ModelError, match=r"85 columns.*2 class names gives 7"):
        load_detector(own, names, config=DetectorConfig(classes=("person",)))
    with pytest.raises(ConfigError, match="'zebra crossing'"):
        load_detector(own, config=DetectorConfig(classes=("person", "zebra crossing")))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"score_threshold": 1.5}, "score_threshold"),  # a probability
        ({"nms_iou": -0.1}, "nms_iou"),  # an IoU
    ],
)
def test_config_ranges(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DetectorConfig(**kwargs)  # type: ignore[arg-type]
