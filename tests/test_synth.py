"""The synthetic generator: determinism, each hard case really present, GT exactly equal to
the rendered pixels, and the committed sample equal to what the generator makes today."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from tracker_annotate.core.errors import ConfigError, MediaError
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.synth import (
    SAMPLE_CONFIG,
    SAMPLE_NAME,
    SynthConfig,
    SynthSequence,
    config_from_json,
    config_to_json,
    count_decodable_frames,
    generate,
    keyframe_rows,
    shape_mask,
    write_keyframes,
    write_mot_sequence,
    write_video,
)
from tracker_annotate.synth.scene import ShapeKind

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_videos"
SMALL = SynthConfig(width=192, height=108, n_frames=48, seed=7)
# Lighting and noise off: pixels are then pure texture, so equalities can be exact.
CLEAN = dataclasses.replace(SMALL, illumination=False, shadow_band=False, sensor_noise_sigma=0.0)


@pytest.fixture(scope="module")
def small() -> SynthSequence:
    return generate(SMALL)


@pytest.fixture(scope="module")
def clean() -> SynthSequence:
    return generate(CLEAN)


def _rows(seq: SynthSequence, name: str) -> np.ndarray:
    return np.flatnonzero(seq.gt.rows_of(seq.track(name).track_id))


def _inside(xywh: np.ndarray, width: int, height: int) -> np.ndarray:
    x, y, w, h = xywh.T
    return (x >= 0) & (y >= 0) & (x + w <= width) & (y + h <= height)


# --- determinism --------------------------------------------------------------------------


def test_same_config_gives_identical_gt_and_pixels(small: SynthSequence) -> None:
    again = generate(SMALL)
    assert again.gt.to_mot_text().encode() == small.gt.to_mot_text().encode()
    for a, b in zip(small.frames(), again.frames(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_random_access_gives_the_same_frame_as_sequential(small: SynthSequence) -> None:
    sequential = list(small.frames())
    for i in (40, 3, 17, 3, 0):
        np.testing.assert_array_equal(small.frame(i), sequential[i])


def test_seed_changes_pixels_not_the_script(small: SynthSequence) -> None:
    other = generate(dataclasses.replace(SMALL, seed=SMALL.seed + 1))
    assert other.gt.to_mot_text() == small.gt.to_mot_text()
    assert np.abs(other.frame(0).astype(int) - small.frame(0).astype(int)).mean() > 5


def test_sequence_is_a_frame_source_with_frame_named_errors(small: SynthSequence) -> None:
    assert isinstance(small, FrameSource)
    np.testing.assert_array_equal(small.reopen().read(12), small.frame(12))
    with pytest.raises(MediaError, match="frame 48"):
        small.read(small.n_frames)


_ALL_OFF = {
    "crossing": False,
    "look_alikes": False,
    "scale_change": False,
    "exit_reenter": False,
    "camera_pan": False,
    "illumination": False,
    "shadow_band": False,
}


@pytest.mark.parametrize(
    "config",
    [
        SynthConfig(width=64, height=48, n_frames=8),  # smallest allowed: objects of ~7 px
        SynthConfig(width=64, height=48, n_frames=8, **_ALL_OFF),  # one static object remains
        SynthConfig(width=300, height=400, n_frames=9, seed=3),  # portrait, odd length
        SynthConfig(width=160, height=90, n_frames=20, camera_pan=False),  # still camera
    ],
    ids=["smallest", "all-flags-off", "portrait", "no-pan"],
)
def test_gt_invariants_hold_across_configs(config: SynthConfig) -> None:
    seq = generate(config)
    gt = seq.gt
    assert len(gt) > 0 and len(seq.tracks) == len(set(gt.track_id.tolist()))
    x, y, w, h = gt.xywh.T
    assert np.all((x < config.width) & (y < config.height) & (x + w > 0) & (y + h > 0))
    for f in range(config.n_frames):
        rendered = seq.render(f)
        assert rendered.image.shape == (config.height, config.width, 3)
        rows = np.flatnonzero(gt.rows_at(f))
        for r in rows[gt.visibility[rows] == 1.0]:
            ys, xs = np.nonzero(rendered.id_map == gt.track_id[r])
            bbox = (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
            assert bbox == tuple(gt.xywh[r])


# --- each hard case is really in the ground truth -----------------------------------------


def test_occlusion_drops_visibility_of_the_object_behind(small: SynthSequence) -> None:
    gt = small.gt
    back, front = _rows(small, "crosser_back"), _rows(small, "crosser_front")
    inside = _inside(gt.xywh[back], small.width, small.height)
    # Entirely inside the image, so the loss is occlusion by a nearer object, not the border.
    assert gt.visibility[back][inside].min() < 0.5
    f = gt.frame[back][inside][np.argmin(gt.visibility[back][inside])]
    fb = gt.xywh[back][gt.frame[back] == f][0]
    ff = gt.xywh[front][gt.frame[front] == f][0]
    overlap_w = min(fb[0] + fb[2], ff[0] + ff[2]) - max(fb[0], ff[0])
    assert overlap_w > 0, "the occluder's box must overlap the occluded box"
    # Depth order: where the front object's silhouette is, the back one never shows.
    id_map = small.render(int(f)).id_map
    x, y, w, h = (int(v) for v in ff)
    front_mask = shape_mask(small.track("crosser_front").shape, w, h)
    x0, y0 = max(x, 0), max(y, 0)
    under_front = id_map[y0 : y + h, x0 : x + w][front_mask[y0 - y :, x0 - x :]]
    assert not np.any(under_front == small.track("crosser_back").track_id)


def test_look_alikes_share_their_appearance_and_cross(clean: SynthSequence) -> None:
    a, b = clean.track("lookalike_a"), clean.track("lookalike_b")
    assert a.look_alike_group is not None and a.look_alike_group == b.look_alike_group
    gt = clean.gt
    ra, rb = _rows(clean, "lookalike_a"), _rows(clean, "lookalike_b")
    common = np.intersect1d(gt.frame[ra], gt.frame[rb])
    xa = gt.xywh[ra][np.isin(gt.frame[ra], common), 0]
    xb = gt.xywh[rb][np.isin(gt.frame[rb], common), 0]
    assert np.sign(xa[0] - xb[0]) != np.sign(xa[-1] - xb[-1]), "they swap sides: a crossing"
    assert gt.visibility[rb].min() < 0.5, "at the crossing one hides the other"
    # Same texture, same size, no lighting: identical pixels where both are fully visible.
    frame = next(int(f) for f in common if _both_visible(clean, f, a.track_id, b.track_id))
    img = clean.frame(frame)
    crops = []
    for tid in (a.track_id, b.track_id):
        row = np.flatnonzero((gt.frame == frame) & (gt.track_id == tid))[0]
        x, y, w, h = gt.xywh[row]
        crops.append(img[y : y + h, x : x + w][shape_mask(a.shape, int(w), int(h))])
    assert crops[0].shape == crops[1].shape
    np.testing.assert_array_equal(crops[0], crops[1])


def _both_visible(seq: SynthSequence, frame: int, *tids: int) -> bool:
    at = seq.gt.rows_at(frame)
    return all(np.any(at & (seq.gt.track_id == t) & (seq.gt.visibility == 1.0)) for t in tids)


def test_exit_and_reentry_leave_a_gap_and_keep_full_boxes(small: SynthSequence) -> None:
    gt = small.gt
    rows = _rows(small, "exit_reenter")
    frames = gt.frame[rows]
    gaps = np.flatnonzero(np.diff(frames) > 1)
    assert gaps.size == 1, f"expected one gap, frames are {frames.tolist()}"
    last_before, first_after = frames[gaps[0]], frames[gaps[0] + 1]
    assert first_after - last_before > 3
    # Partly-out rows keep the full box (MOT convention): it sticks out of the image.
    right = gt.xywh[rows, 0] + gt.xywh[rows, 2]
    partly_out = right > small.width
    assert partly_out.any()
    assert (gt.visibility[rows][partly_out] < 1.0).all()
    assert np.all(gt.xywh[rows, 2] == gt.xywh[rows[0], 2]), "width is not clipped"


def test_scale_change_is_more_than_one_and_a_half(small: SynthSequence) -> None:
    xywh = small.gt.xywh[_rows(small, "approacher")]
    area = xywh[:, 2] * xywh[:, 3]
    assert area.max() / area.min() > 1.5
    peak = int(np.argmax(area))
    assert 0 < peak < len(area) - 1, "it approaches, then recedes"


def test_global_brightness_changes_between_consecutive_frames(small: SynthSequence) -> None:
    gains = np.array([small.gain(i) for i in range(small.n_frames)])
    assert gains.min() < 0.7, "a dimming ramp"
    jump = int(np.argmax(gains[1:] / gains[:-1]))
    means = [small.frame(i).mean() for i in (jump, jump + 1)]
    assert means[1] / means[0] > 1.2, f"flicker at frame {jump + 1}: means {means}"


def test_shadow_band_darkens_objects_passing_through(small: SynthSequence) -> None:
    no_shadow = generate(dataclasses.replace(SMALL, shadow_band=False, sensor_noise_sigma=0.0))
    lit = generate(dataclasses.replace(SMALL, sensor_noise_sigma=0.0))
    darkened = 0
    for f in range(0, SMALL.n_frames, 4):
        rendered = lit.render(f)
        ratio = (rendered.image.astype(float) + 1) / (no_shadow.frame(f).astype(float) + 1)
        on_object = rendered.id_map > 0
        darkened += int(np.count_nonzero(ratio.mean(axis=2)[on_object] < 0.7))
    assert darkened > 50, "objects walk through the band and get darker"


def test_camera_pan_moves_background_and_static_objects(clean: SynthSequence) -> None:
    first, last = 0, clean.n_frames - 1
    (ox0, oy0), (ox1, oy1) = clean.camera_offset(first), clean.camera_offset(last)
    dx, dy = ox1 - ox0, oy1 - oy0
    assert dx > 0
    # World-fixed things move by exactly the camera offset in image coordinates.
    rows = _rows(clean, "static_sign")
    sign_first = clean.gt.xywh[rows][clean.gt.frame[rows] == first][0]
    later = clean.gt.frame[rows].max()
    sign_later = clean.gt.xywh[rows][clean.gt.frame[rows] == later][0]
    ox_l, oy_l = clean.camera_offset(int(later))
    assert tuple(sign_first[:2] - sign_later[:2]) == (ox_l - ox0, oy_l - oy0)
    # Background pixel (y, x) of the last frame is pixel (y + dy, x + dx) of the first.
    a, b = clean.render(first), clean.render(last)
    h, w = clean.height - dy, clean.width - dx
    both_bg = (b.id_map[:h, :w] == 0) & (a.id_map[dy:, dx:] == 0)
    np.testing.assert_array_equal(b.image[:h, :w][both_bg], a.image[dy:, dx:][both_bg])
    assert np.any(b.image[:h, :w][both_bg] != a.image[:h, :w][both_bg]), "it really moved"


# --- GT equals the rendered pixels --------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "w", "h"),
    [
        ("rect", 2, 2),  # smallest box the generator makes
        ("ellipse", 2, 2),  # an ellipse that small must still touch all four sides
        ("ellipse", 7, 4),  # odd width, even height: the edge pixel is off-centre
        ("ellipse", 40, 61),  # typical object size
        ("rounded", 3, 9),  # corner radius below one pixel
        ("rounded", 64, 20),  # wide and flat
    ],
)
def test_every_shape_touches_all_four_sides_of_its_box(shape: ShapeKind, w: int, h: int) -> None:
    mask = shape_mask(shape, w, h)
    assert mask.shape == (h, w)
    assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()


def test_gt_box_equals_mask_bbox_and_visibility_equals_pixel_share(small: SynthSequence) -> None:
    gt = small.gt
    checked_full = 0
    for f in range(small.n_frames):
        id_map = small.render(f).id_map
        rows = np.flatnonzero(gt.rows_at(f))
        assert set(np.unique(id_map)) - {0} <= set(gt.track_id[rows].tolist())
        for r in rows:
            tid, (x, y, w, h) = gt.track_id[r], gt.xywh[r]
            ys, xs = np.nonzero(id_map == tid)
            full = shape_mask(small.tracks[tid - 1].shape, int(w), int(h)).sum()
            assert xs.size == pytest.approx(gt.visibility[r] * full, abs=1e-6)
            if gt.visibility[r] == 1.0:
                bbox = (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
                assert bbox == (x, y, w, h), f"frame {f} track {tid}"
                checked_full += 1
    assert checked_full > 100


def test_image_changes_only_inside_object_silhouettes(clean: SynthSequence) -> None:
    # Removing the crossers leaves the background draw untouched (it comes first), so
    # pixels outside every silhouette must be equal and the crossers' pixels must differ.
    without = generate(dataclasses.replace(CLEAN, crossing=False))
    crosser_ids = [clean.track(n).track_id for n in ("crosser_front", "crosser_back")]
    changed_inside = 0
    for f in (0, 20, 30, 47):
        a, b = clean.render(f), without.render(f)
        background = (a.id_map == 0) & (b.id_map == 0)
        np.testing.assert_array_equal(a.image[background], b.image[background])
        only_crossers = np.isin(a.id_map, crosser_ids) & (b.id_map == 0)
        differs = np.any(a.image != b.image, axis=2)
        changed_inside += int(np.count_nonzero(differs & only_crossers))
        assert np.count_nonzero(differs & only_crossers) > 0.9 * np.count_nonzero(only_crossers)
    assert changed_inside > 0


def test_mot_text_is_one_based_and_sorted_by_track_then_frame(small: SynthSequence) -> None:
    lines = small.gt.to_mot_text().splitlines()
    assert len(lines) == len(small.gt)
    parsed = np.array([[float(v) for v in line.split(",")] for line in lines])
    assert parsed.shape[1] == 9
    assert parsed[:, 0].min() == 1 and parsed[:, 0].max() == small.n_frames
    keys = list(zip(parsed[:, 1], parsed[:, 0], strict=True))
    assert keys == sorted(keys)


# --- writers ------------------------------------------------------------------------------


def test_mot_folder_round_trips_and_removes_stale_frames(
    small: SynthSequence, tmp_path: Path
) -> None:
    out = tmp_path / "seq"
    (out / "img1").mkdir(parents=True)
    (out / "img1" / "000999.png").write_bytes(b"stale")
    write_mot_sequence(small, out, image_ext=".png")
    files = sorted((out / "img1").iterdir())
    assert [p.name for p in files][:2] == ["000001.png", "000002.png"]
    assert len(files) == small.n_frames
    assert (out / "gt" / "gt.txt").read_text() == small.gt.to_mot_text()
    np.testing.assert_array_equal(cv2.imread(str(files[5])), small.frame(5))  # PNG is exact
    ini = (out / "seqinfo.ini").read_text()
    assert "seqLength=48" in ini and "imWidth=192" in ini and "imExt=.png" in ini


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])  # mp4v and MJPG
def test_video_decodes_back_to_every_frame(
    small: SynthSequence, tmp_path: Path, suffix: str
) -> None:
    path = write_video(small, tmp_path / f"v{suffix}")
    assert count_decodable_frames(path) == small.n_frames
    cap = cv2.VideoCapture(str(path))
    ok, first = cap.read()
    cap.release()
    assert ok and np.abs(first.astype(int) - small.frame(0).astype(int)).mean() < 8


def test_video_with_unknown_suffix_is_a_config_error(small: SynthSequence, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="suffix"):
        write_video(small, tmp_path / "v.webm")


def test_keyframes_are_each_tracks_first_clearly_visible_box(small: SynthSequence) -> None:
    idx = keyframe_rows(small, 0.6)
    gt = small.gt
    assert sorted(gt.track_id[idx].tolist()) == [t.track_id for t in small.tracks]
    for i in idx:
        rows = gt.rows_of(gt.track_id[i]) & (gt.visibility >= 0.6)
        assert gt.frame[i] == gt.frame[rows].min()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("width", 10),  # too small for any object to have texture
        ("height", 0),  # empty image
        ("n_frames", 1),  # the scenario needs time to happen
        ("fps", 0.0),  # division by zero in players
        ("seed", -1),  # numpy refuses negative seeds
        ("sensor_noise_sigma", -1.0),  # negative spread is meaningless
    ],
)
def test_config_rejects_out_of_range_values(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        SynthConfig(**{field: value})


def test_config_json_round_trip_and_bad_keys() -> None:
    assert config_from_json(config_to_json(SMALL)) == SMALL
    with pytest.raises(ConfigError, match="not a SynthConfig"):
        config_from_json('{"width": 100, "colour": 3}', path="x.json")


# --- the committed sample is what the generator makes -------------------------------------


@pytest.fixture(scope="module")
def sample() -> SynthSequence:
    return generate(SAMPLE_CONFIG)


def test_committed_config_is_the_sample_config() -> None:
    path = SAMPLE_DIR / SAMPLE_NAME / "synth_config.json"
    assert config_from_json(path.read_text(), path=str(path)) == SAMPLE_CONFIG


def test_committed_gt_and_keyframes_are_byte_identical(
    sample: SynthSequence, tmp_path: Path
) -> None:
    committed = (SAMPLE_DIR / SAMPLE_NAME / "gt" / "gt.txt").read_bytes()
    assert committed == sample.gt.to_mot_text().encode("ascii")
    fresh = write_keyframes(sample, tmp_path / "keyframes.txt")
    assert (SAMPLE_DIR / "keyframes.txt").read_bytes() == fresh.read_bytes()


@pytest.mark.parametrize("index", [0, 74, 127, 149])  # start, mid-pan, flicker, last
def test_committed_frames_match_regenerated_within_jpeg_tolerance(
    sample: SynthSequence, index: int
) -> None:
    img_dir = SAMPLE_DIR / SAMPLE_NAME / "img1"
    assert len(list(img_dir.glob("*.jpg"))) == SAMPLE_CONFIG.n_frames
    decoded = cv2.imread(str(img_dir / f"{index + 1:06d}.jpg")).astype(int)
    diffs = {
        i: np.abs(decoded - sample.frame(i).astype(int))
        for i in (index - 6, index, index + 6)
        if 0 <= i < sample.n_frames
    }
    assert diffs[index].mean() < 4 and np.percentile(diffs[index], 99) < 30
    assert min(diffs, key=lambda i: float(diffs[i].mean())) == index, "it is this frame"


def test_committed_video_decodes_to_every_frame(sample: SynthSequence) -> None:
    video = SAMPLE_DIR / f"{SAMPLE_NAME}.mp4"
    assert count_decodable_frames(video) == SAMPLE_CONFIG.n_frames
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 100)
    ok, frame = cap.read()
    cap.release()
    assert ok and np.abs(frame.astype(int) - sample.frame(100).astype(int)).mean() < 5


def test_committed_sample_stays_small() -> None:
    size = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert size < 6_000_000, f"sample_videos/ is {size / 1e6:.1f} MB; the budget is 6 MB"


# --- bad input gets the project's error family, naming what was expected --------------


def test_unknown_track_name_is_a_config_error_listing_the_names(small: SynthSequence) -> None:
    with pytest.raises(ConfigError, match=r"no track named 'nobody'; expected one of \["):
        small.track("nobody")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"keys_x": (0.1,)}, "equal length >= 2, got lengths"),  # a list too short
        ({"keys_u": (0.5, 0.2)}, r"keys_u must be increasing, got \[0.5, 0.2\]"),  # backwards
    ],
)
def test_object_spec_key_points_are_checked(change: dict[str, object], message: str) -> None:
    from tracker_annotate.synth.scene import scenario_objects

    spec = scenario_objects(SMALL)[0]
    keys = {"keys_u": (0.0, 1.0), "keys_x": (0.1, 0.9), "keys_y": (0.5, 0.5)}
    keys["keys_scale"] = (1.0, 1.0)
    with pytest.raises(ConfigError, match=message):
        dataclasses.replace(spec, **{**keys, **change})


def test_ground_truth_names_the_bad_row(small: SynthSequence) -> None:
    gt = small.gt
    xywh = gt.xywh.copy()
    xywh[3, 2] = 0
    with pytest.raises(ConfigError, match=r"row 3 \(frame \d+\): expected a box of positive size"):
        dataclasses.replace(gt, xywh=xywh)
    with pytest.raises(ConfigError, match=r"visibility must lie in \[0, 1\], got"):
        dataclasses.replace(gt, visibility=gt.visibility * 2 + 0.1)


def test_unknown_texture_kind_is_a_config_error() -> None:
    from tracker_annotate.synth.textures import make_texture

    rng = np.random.default_rng(0)
    color = np.zeros(3, np.float32)
    with pytest.raises(ConfigError, match="unknown texture kind 'plaid'; expected one of"):
        make_texture("plaid", rng, (8, 8), color, color)  # type: ignore[arg-type]
