"""The media layer on real files: stamped videos written by OpenCV in every codec it can
write here, image folders, MOT sequences, truncated and garbage files, the shared samples.

Every generated frame carries its index as big black/white blocks (robust to lossy
compression), so "frame i is exactly frame i" is checked on the decoded pixels.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from tracker_annotate.core.errors import MediaError
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import MediaRef
from tracker_annotate.io.media import (
    ImageSequenceSource,
    MediaConfig,
    VideoSource,
    fingerprint,
    fingerprint_matches,
    natural_key,
    open_media,
    probe_media,
)

W, H = 192, 96
BITS = 8  # frames 0..255
BLOCK_W = W // BITS


def stamped_frame(index: int, *, w: int = W, h: int = H) -> np.ndarray:
    """Top half: the index in binary (white block = 1); bottom half: a moving texture so
    inter-frame codecs have real motion to encode."""
    img = np.zeros((h, w, 3), np.uint8)
    bw = w // BITS
    for bit in range(BITS):
        if index >> bit & 1:
            img[: h // 2, bit * bw : (bit + 1) * bw] = 255
    rng = np.random.default_rng(12345)
    texture = rng.integers(0, 256, (h - h // 2, w + 64), dtype=np.uint8)
    shift = (index * 3) % 64
    img[h // 2 :, :, 1] = texture[:, shift : shift + w]
    return img


def read_stamp(frame: np.ndarray) -> int:
    h, w = frame.shape[:2]
    bw = w // BITS
    top = frame[: h // 2].mean(axis=2)
    value = 0
    for bit in range(BITS):
        block = top[4 : h // 2 - 4, bit * bw + 3 : (bit + 1) * bw - 3]
        if block.mean() > 128:
            value |= 1 << bit
    return value


def write_video(path: Path, fourcc: str, n: int, fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
    if not writer.isOpened():
        writer.release()
        pytest.skip(f"OpenCV on this machine cannot write {fourcc} into {path.suffix}")
    for i in range(n):
        writer.write(stamped_frame(i))
    writer.release()
    return path


# (fourcc, container, why it is in the table)
CODECS = [
    ("MJPG", ".avi", "intra-only JPEG frames: every frame a keyframe"),
    ("mp4v", ".mp4", "MPEG-4 part 2 with P-frames in an MP4 (index at the end)"),
    ("XVID", ".avi", "MPEG-4 ASP in AVI, the classic annotation-tool input"),
    ("FFV1", ".mkv", "lossless with sparse keyframes (GOP 12) in Matroska"),
    ("mp4v", ".mov", "QuickTime container"),
    ("VP80", ".mkv", "VP8 with sparse keyframes"),
    ("avc1", ".mp4", "H.264, only when an encoder is present (often not: skipped)"),
]
N = 45

SMALL = MediaConfig(cache_bytes=6 * W * H * 3, back_chunk=4, forward_skip=3, checkpoint_every=8)
# (config, why) for the all-routes test
CONFIGS = [
    pytest.param(SMALL, id="tiny cache: most steps back re-decode a chunk"),
    pytest.param(
        MediaConfig(cache_bytes=16 * W * H * 3, back_chunk=6, checkpoint_every=4, readahead=3),
        id="read-ahead worker racing the reader",
    ),
]


@pytest.fixture(scope="module")
def stamped_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("stamped")
    out: dict[str, Path] = {}
    for fourcc, ext, _ in CODECS:
        path = folder / f"stamped_{fourcc}{ext}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, (W, H))
        if not writer.isOpened():
            writer.release()
            continue
        for i in range(N):
            writer.write(stamped_frame(i))
        writer.release()
        out[fourcc + ext] = path
    return out


def _video(stamped_videos: dict[str, Path], fourcc: str, ext: str) -> Path:
    if fourcc + ext not in stamped_videos:
        pytest.skip(f"cv2.VideoWriter cannot write {fourcc} into {ext} on this machine")
    return stamped_videos[fourcc + ext]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize(("fourcc", "ext"), [(c[0], c[1]) for c in CODECS], ids=lambda v: v)
def test_stamped_video_is_frame_exact_by_every_route(
    stamped_videos: dict[str, Path], fourcc: str, ext: str, config: MediaConfig
) -> None:
    path = _video(stamped_videos, fourcc, ext)
    src = open_media(path, config)
    assert isinstance(src, FrameSource)
    assert (src.kind, src.n_frames, src.width, src.height) == ("video", N, W, H)
    assert src.fps == pytest.approx(25.0, rel=0.01)
    # stepping forward
    assert [read_stamp(src.read(i)) for i in range(N)] == list(range(N))
    # stepping back from the end
    assert [read_stamp(src.read(i)) for i in reversed(range(N))] == list(reversed(range(N)))
    # random access in a fixed shuffled order, including repeats and far jumps
    order = [*random.Random(7).choices(range(N), k=40), N - 1, 0, N // 2, 1]
    assert [read_stamp(src.read(i)) for i in order] == order
    assert src.seek_count > 0  # the small config really exercised seeking
    # a reopened handle is independent and just as exact
    other = src.reopen()
    src.close()
    assert [read_stamp(other.read(i)) for i in (N - 2, 3, 30, 2)] == [N - 2, 3, 30, 2]
    other.close()


class LyingCapture:
    """Wraps a real VideoCapture whose seek lands one frame late but reports success,
    which is what unreliable CAP_PROP_POS_FRAMES seeking looks like from outside."""

    def __init__(self, cap: cv2.VideoCapture) -> None:
        self.cap = cap

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_POS_FRAMES and value > 0:
            ok = bool(self.cap.set(prop, value + 1))
            return ok
        return bool(self.cap.set(prop, value))

    def get(self, prop: int) -> float:
        value = float(self.cap.get(prop))
        return value - 1 if prop == cv2.CAP_PROP_POS_FRAMES and value > 0 else value

    def __getattr__(self, name: str) -> object:
        return getattr(self.cap, name)


@pytest.mark.parametrize("fourcc,ext", [("MJPG", ".avi"), ("FFV1", ".mkv")])
def test_wrong_seek_is_caught_by_verification(
    stamped_videos: dict[str, Path], fourcc: str, ext: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _video(stamped_videos, fourcc, ext)
    src = VideoSource(str(path), SMALL)
    real_open = src._open_capture
    monkeypatch.setattr(src, "_open_capture", lambda: LyingCapture(real_open()))
    src._restart()
    order = [40, 17, 33, 9, 44, 24, 8, 16]
    assert [read_stamp(src.read(i)) for i in order] == order
    assert src.seek_fallbacks > 0
    # after repeated failures it stops trying to seek and stays exact
    order = random.Random(2).choices(range(N), k=25)
    assert [read_stamp(src.read(i)) for i in order] == order
    assert src.seek_fallbacks <= VideoSource.SEEK_FAILURES_BEFORE_GIVING_UP


def test_tree_avi_header_overstates_length(shared_data: Path) -> None:
    src = open_media(shared_data / "videos" / "tree.avi")
    assert (src.n_frames, src.claimed_frames) == (68, 444)
    last = src.read(67)
    assert last.shape == (240, 320, 3)
    assert np.array_equal(src.read(10), src.reopen().read(10))
    with pytest.raises(MediaError, match=r"tree\.avi frame 68: .*68 decodable"):
        src.read(68)
    with pytest.raises(MediaError, match="frame 300"):
        src.read(300)


def test_reading_past_the_end_before_any_scan_names_the_real_length(
    stamped_videos: dict[str, Path],
) -> None:
    src = open_media(_video(stamped_videos, "MJPG", ".avi"))
    for i in range(N):
        src.read(i)  # sequential: no scan needed yet
    with pytest.raises(MediaError, match=rf"frame {N}: .*expected 0\.\.{N - 1}"):
        src.read(N)


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(-1, id="negative: frames are 0-based"),
        pytest.param(N, id="one past the end"),
        pytest.param(1.0, id="float: indices are integers"),
        pytest.param(True, id="bool is not an index"),
    ],
)
def test_bad_index_is_a_media_error(stamped_videos: dict[str, Path], index: object) -> None:
    src = open_media(_video(stamped_videos, "MJPG", ".avi"))
    with pytest.raises(MediaError, match=r"stamped_MJPG\.avi"):
        src.read(index)  # type: ignore[arg-type]


def test_truncated_avi_reports_what_decodes(tmp_path: Path) -> None:
    path = write_video(tmp_path / "cut.avi", "MJPG", 40)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 5])
    src = open_media(path)
    n = src.n_frames
    assert 0 < n < 40
    assert [read_stamp(src.read(i)) for i in range(n)] == list(range(n))
    assert read_stamp(src.read(n // 2)) == n // 2
    with pytest.raises(MediaError, match=rf"cut\.avi frame {n}"):
        src.read(n)


def _garbage(path: Path) -> None:
    path.write_bytes(random.Random(3).randbytes(20_000))


def _truncated_mp4(path: Path) -> None:
    write_video(path, "mp4v", 30)
    path.write_bytes(path.read_bytes()[:3000])  # the moov index is at the end: gone


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "name,make",
    [
        pytest.param("noise.mp4", _garbage, id="random bytes named .mp4"),
        pytest.param("cut.mp4", _truncated_mp4, id="mp4 cut before its index"),
        pytest.param("empty.avi", _empty, id="zero-byte file"),
    ],
)
def test_corrupt_video_is_a_clear_media_error(tmp_path: Path, name: str, make: object) -> None:
    path = tmp_path / name
    make(path)  # type: ignore[operator]
    with pytest.raises(MediaError, match=name.replace(".", r"\.")) as info:
        open_media(path)
    assert "corrupt" in str(info.value)


def test_damaged_middle_never_crashes_or_hangs(tmp_path: Path) -> None:
    path = write_video(tmp_path / "damaged.avi", "MJPG", 40)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 2000] = bytes(2000)  # zero out a stretch inside some frame's JPEG
    path.write_bytes(bytes(data))
    src = open_media(path)
    ok = 0
    for i in [*range(src.n_frames), src.n_frames - 1, 0, src.n_frames // 2]:
        try:
            frame = src.read(i)
        except MediaError as exc:
            assert "damaged.avi" in str(exc)
        else:
            assert frame.shape == (H, W, 3)
            ok += 1
    assert ok > 0


@pytest.mark.parametrize(
    "name,expected",
    [
        pytest.param("missing.mp4", "no such file", id="missing path"),
        pytest.param("notes.txt", "unknown media type", id="unknown extension"),
        pytest.param("photo.png", "single image", id="one image is not a sequence"),
        pytest.param("emptydir", "no image files", id="folder without images"),
    ],
)
def test_unusable_paths_say_what_was_expected(tmp_path: Path, name: str, expected: str) -> None:
    path = tmp_path / name
    if name == "notes.txt":
        path.write_text("hello")
    elif name == "photo.png":
        cv2.imwrite(str(path), stamped_frame(1))
    elif name == "emptydir":
        path.mkdir()
        (path / "readme.txt").write_text("not an image")
    with pytest.raises(MediaError, match=expected) as info:
        open_media(path)
    assert name in str(info.value) and "expected" in str(info.value)


def _write_images(folder: Path, names: list[str], *, stamps: list[int] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        cv2.imwrite(str(folder / name), stamped_frame(stamps[k] if stamps else k))


def test_image_folder_is_in_natural_order(tmp_path: Path) -> None:
    names = ["f10.png", "f2.png", "f1.png", "F3.bmp", "f11.jpg", "f20.tif"]
    stamps = [10, 2, 1, 3, 11, 20]
    _write_images(tmp_path / "imgs", names, stamps=stamps)
    (tmp_path / "imgs" / "notes.txt").write_text("ignored")
    src = open_media(tmp_path / "imgs")
    assert isinstance(src, ImageSequenceSource)
    assert (src.kind, src.n_frames, src.width, src.height, src.fps) == ("images", 6, W, H, 30.0)
    assert [read_stamp(src.read(i)) for i in range(6)] == [1, 2, 3, 10, 11, 20]
    assert [read_stamp(src.read(i)) for i in (5, 0, 3)] == [20, 1, 10]
    assert read_stamp(src.reopen().read(4)) == 11
    assert natural_key("img2.png") < natural_key("img10.png")


def test_hidden_and_non_image_files_are_not_frames(tmp_path: Path) -> None:
    _write_images(tmp_path / "copied", ["000001.jpg", "000002.jpg", "000003.jpg"])
    (tmp_path / "copied" / "._000002.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (tmp_path / "copied" / "Thumbs.db").write_bytes(b"junk")
    src = open_media(tmp_path / "copied")
    assert src.n_frames == 3
    assert [read_stamp(src.read(i)) for i in range(3)] == [0, 1, 2]


def test_unicode_folder_and_file_names(tmp_path: Path) -> None:
    _write_images(tmp_path / "séquence vidéo", ["帧1.png", "帧2.png"])
    src = open_media(tmp_path / "séquence vidéo")
    assert [read_stamp(src.read(i)) for i in (1, 0)] == [1, 0]


def test_folder_of_videos_points_at_them(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.avi", "MJPG", 3)
    with pytest.raises(MediaError, match=r"no image files, but 1 video file\(s\).*clip\.avi"):
        open_media(tmp_path)


def test_bad_image_in_folder_names_the_file_and_frame(tmp_path: Path) -> None:
    _write_images(tmp_path / "seq", [f"{k:03d}.png" for k in range(4)])
    (tmp_path / "seq" / "002.png").write_bytes(b"not a png")
    cv2.imwrite(str(tmp_path / "seq" / "003.png"), np.zeros((10, 10, 3), np.uint8))
    src = open_media(tmp_path / "seq")
    assert read_stamp(src.read(1)) == 1
    with pytest.raises(MediaError, match=r"seq frame 2: cannot decode image '002\.png'"):
        src.read(2)
    with pytest.raises(MediaError, match=r"frame 3: image '003\.png' is 10x10, expected 192x96"):
        src.read(3)


def _write_mot(root: Path, n_images: int, **ini: object) -> Path:
    _write_images(root / "img1", [f"{k + 1:06d}.jpg" for k in range(n_images)])
    fields = {
        "name": root.name,
        "imDir": "img1",
        "frameRate": 25,
        "seqLength": n_images,
        "imWidth": W,
        "imHeight": H,
        "imExt": ".jpg",
    } | ini
    body = "".join(f"{k}={v}\n" for k, v in fields.items())
    (root / "seqinfo.ini").write_text("[Sequence]\n" + body)
    return root


@pytest.mark.parametrize(
    "ini,frames,claimed",
    [
        pytest.param({}, 7, 7, id="honest seqinfo"),
        pytest.param({"seqLength": 9}, 7, 9, id="seqLength overstates: images win"),
        pytest.param({"imWidth": 640}, 7, 7, id="wrong imWidth: the images win"),
    ],
)
def test_mot_sequence_uses_seqinfo_but_checks_its_claims(
    tmp_path: Path, ini: dict[str, object], frames: int, claimed: int
) -> None:
    root = _write_mot(tmp_path / "SEQ-01", 7, **ini)
    for path in (root, root / "seqinfo.ini", root / "img1"):  # img1/ opens its sequence
        src = open_media(path)
        assert (src.kind, src.n_frames, src.claimed_frames) == ("mot", frames, claimed)
        assert (src.width, src.height, src.fps) == (W, H, 25.0)
        assert [read_stamp(src.read(i)) for i in (6, 0, 3)] == [6, 0, 3]


def test_mot_numbering_gap_is_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _write_mot(tmp_path / "SEQ-03", 4)
    (root / "img1" / "000002.jpg").unlink()
    src = open_media(root)
    assert src.n_frames == 3 and read_stamp(src.read(1)) == 2  # positions, not file numbers
    assert "not numbered 1..3 (position 1 holds 000003.jpg)" in caplog.text


def test_mot_with_bad_frame_rate_is_rejected(tmp_path: Path) -> None:
    root = _write_mot(tmp_path / "SEQ-02", 3, frameRate="fast")
    with pytest.raises(MediaError, match=r"seqinfo\.ini: frameRate='fast' is not a number"):
        open_media(root)


def test_shared_mot_sequence(shared_data: Path) -> None:
    src = open_media(shared_data / "sequences" / "TUD-Campus")
    assert (src.kind, src.n_frames, src.width, src.height, src.fps) == ("mot", 71, 640, 480, 25.0)
    assert np.array_equal(src.read(70), cv2.imread(str(src.files[70])))  # type: ignore[attr-defined]


def test_worker_thread_reads_through_its_own_handle(stamped_videos: dict[str, Path]) -> None:
    main = open_media(_video(stamped_videos, "FFV1", ".mkv"), SMALL)
    results: dict[str, list[int]] = {}

    def work(name: str, src: object, order: list[int]) -> None:
        results[name] = [read_stamp(src.read(i)) for i in order]  # type: ignore[attr-defined]

    order_a = random.Random(1).choices(range(N), k=30)
    order_b = list(reversed(range(N)))
    worker = threading.Thread(target=work, args=("worker", main.reopen(), order_a))
    worker.start()
    work("main", main, order_b)
    worker.join(timeout=60)
    assert results == {"worker": order_a, "main": order_b}


def test_frames_are_read_only_so_the_cache_cannot_be_corrupted(
    stamped_videos: dict[str, Path],
) -> None:
    src = open_media(_video(stamped_videos, "MJPG", ".avi"))
    frame = src.read(5)
    with pytest.raises(ValueError, match="read-only"):
        frame[0, 0] = 1
    drawable = frame.copy()
    cv2.rectangle(drawable, (1, 1), (20, 20), (0, 0, 255), 2)
    assert read_stamp(src.read(5)) == 5 and np.array_equal(src.read(5), frame)


def test_probe_media_and_fingerprint(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.avi", "MJPG", 20)
    ref = probe_media(path)
    assert ref == MediaRef(
        path=os.path.abspath(path),
        n_frames=20,
        width=W,
        height=H,
        fps=ref.fps,
        fingerprint=fingerprint(path),
    )
    assert ref.fps == pytest.approx(25.0, rel=0.01)
    copy = tmp_path / "moved" / "b.avi"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    assert fingerprint(copy) == ref.fingerprint  # moved: same content, same fingerprint
    write_video(path, "MJPG", 21)
    assert fingerprint(path) != ref.fingerprint  # changed content


def test_folder_fingerprint_tracks_names_sizes_and_content(tmp_path: Path) -> None:
    root = _write_mot(tmp_path / "SEQ", 4)
    first = fingerprint(root)
    assert fingerprint(root / "img1") == first and fingerprint(root) == first
    cv2.imwrite(str(root / "img1" / "000001.jpg"), stamped_frame(99))
    second = fingerprint(root)
    assert second != first
    (root / "img1" / "000005.jpg").write_bytes((root / "img1" / "000002.jpg").read_bytes())
    assert fingerprint(root) not in (first, second)
    with pytest.raises(MediaError, match="nowhere"):
        fingerprint(tmp_path / "nowhere")


def _fingerprint_in_subprocess(path: Path, seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    code = (
        "import sys; from tracker_annotate.io.media import fingerprint; "
        "print(fingerprint(sys.argv[1]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_folder_fingerprint_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    """A set of (first, last) image paths was hashed in hash-seed order: about every second
    reopen of a sequence project said "media moved". Same folder, same string, any seed."""
    root = _write_mot(tmp_path / "SEQ", 5)
    prints = {_fingerprint_in_subprocess(root, seed) for seed in ("0", "1", "2", "3", "7")}
    assert prints == {fingerprint(root)}


def test_a_fingerprint_in_the_old_order_still_matches(tmp_path: Path) -> None:
    """Projects written before the fix hold one of the two orders: neither is "moved"."""
    root = _write_mot(tmp_path / "SEQ", 5)
    old = fingerprint(root, legacy_order=True)
    assert old != fingerprint(root)
    assert fingerprint_matches(root, old) and fingerprint_matches(root, fingerprint(root))
    cv2.imwrite(str(root / "img1" / "000005.jpg"), stamped_frame(77))
    assert not fingerprint_matches(root, old)


@pytest.mark.parametrize(
    "field,value",
    [
        pytest.param("cache_bytes", -1, id="negative budget"),
        pytest.param("back_chunk", 0, id="a chunk must hold the target"),
        pytest.param("checkpoint_every", 0, id="checkpoint spacing must be positive"),
        pytest.param("fps", 0.0, id="fps must be positive"),
        pytest.param("fps", float("nan"), id="fps must be finite"),
    ],
)
def test_media_config_rejects_out_of_range(field: str, value: object) -> None:
    from tracker_annotate.core.errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        MediaConfig(**{field: value})  # type: ignore[arg-type]


def test_shared_h264_with_b_frames_is_exact_by_random_access(shared_data: Path) -> None:
    import hashlib

    path = shared_data / "videos" / "box.mp4"
    src = open_media(path, MediaConfig(readahead=0, cache_bytes=20 * 640 * 480 * 3))
    assert (src.n_frames, src.claimed_frames) == (455, 456)  # the last packet never decodes
    # keyframes are 250 frames apart here: every seek decodes a long run, so keep it short
    order = [*random.Random(9).choices(range(300), k=6), 299, *range(280, 262, -1)]
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    reference = [hashlib.blake2b(cap.read()[1].tobytes()).digest() for _ in range(300)]
    cap.release()
    got = [hashlib.blake2b(src.read(i).tobytes()).digest() for i in order]
    assert [g == reference[i] for g, i in zip(got, order, strict=True)] == [True] * len(order)


def test_length_scan_runs_once_per_file_and_is_shared_by_handles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_video(tmp_path / "shared.avi", "MJPG", 30)
    calls = []
    real = VideoSource._run_scan

    def counting(self: VideoSource, cancel: object = None) -> object:
        calls.append(threading.current_thread().name)
        return real(self, cancel)  # type: ignore[arg-type]

    monkeypatch.setattr(VideoSource, "_run_scan", counting)
    a = open_media(path)
    b = a.reopen()
    assert not a.length_known and not b.length_known
    lengths: list[int] = []
    threads = [threading.Thread(target=lambda s=s: lengths.append(s.n_frames)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert lengths == [30, 30] and len(calls) == 1
    assert a.reopen().length_known and len(calls) == 1


def test_keyframe_index_decides_between_decoding_on_and_seeking(
    stamped_videos: dict[str, Path],
) -> None:
    # FFV1 as OpenCV writes it: a keyframe every 12 frames
    cfg = MediaConfig(forward_skip=2, checkpoint_every=8, readahead=0)
    src = open_media(_video(stamped_videos, "FFV1", ".mkv"), cfg)
    assert isinstance(src, VideoSource)
    scan = src._scan()
    assert scan.keyframes == (0, 12, 24, 36)
    assert {0, 8, 12, 16, 24, 36, 40} <= set(scan.order)  # grid plus keyframes
    assert read_stamp(src.read(13)) == 13
    seeks = src.seek_count
    # a seek towards 22 would restart at keyframe 0 (checkpoint 16 - 16): decode on instead
    assert read_stamp(src.read(22)) == 22 and src.seek_count == seeks
    # towards 44 it would restart at keyframe 24, past the decoder (at 23): seek
    assert read_stamp(src.read(44)) == 44 and src.seek_count == seeks + 1


def test_frame_that_stops_decoding_mid_video_is_a_media_error(tmp_path: Path) -> None:
    path = write_video(tmp_path / "shrinks.avi", "MJPG", 40)
    src = open_media(path, MediaConfig(readahead=0))
    assert src.n_frames == 40 and read_stamp(src.read(3)) == 3
    data = path.read_bytes()
    with open(path, "r+b") as fh:  # same file, cut under the open decoder
        fh.truncate(len(data) * 2 // 5)
    with pytest.raises(MediaError, match=r"shrinks\.avi frame 35: cannot decode frame \d+") as e:
        src.read(35)
    assert e.value.frame == 35 and e.value.path == str(path)
    assert read_stamp(src.read(6)) == 6  # what still decodes stays readable (not cached)


def test_step_back_through_a_gop_keeps_what_the_keyframe_decode_yields(
    stamped_videos: dict[str, Path],
) -> None:
    frame_bytes = W * H * 3
    cfg = MediaConfig(cache_bytes=16 * frame_bytes, back_chunk=3, checkpoint_every=4, readahead=0)
    src = open_media(_video(stamped_videos, "FFV1", ".mkv"), cfg)  # keyframes 0, 12, 24, 36
    assert isinstance(src, VideoSource)
    src.read(44)
    src.cache.reset_stats()
    assert [read_stamp(src.read(i)) for i in range(43, -1, -1)] == list(range(43, -1, -1))
    stats = src.cache_stats()
    # chunks grow from 3 to up to 8 frames (half the cache) or back to the keyframe
    assert stats.misses <= 8 and stats.hits >= 44 - 8
    assert stats.peak_bytes <= cfg.cache_bytes


def test_length_scan_can_be_cancelled_and_then_run_again(tmp_path: Path) -> None:
    path = write_video(tmp_path / "long.avi", "MJPG", 150)
    src = open_media(path)
    polls: list[int] = []

    def cancel() -> bool:
        polls.append(1)
        return len(polls) >= 2  # stop at the second poll (frame 64)

    with pytest.raises(MediaError, match=r"long\.avi: length scan cancelled after 64 frames"):
        src.count_frames(cancel)
    assert not src.length_known
    assert src.count_frames() == 150 == src.n_frames and src.length_known


@pytest.mark.parametrize(("fourcc", "ext"), [("FFV1", ".mkv"), ("mp4v", ".mp4")])
def test_scrubbing_random_walk_with_read_ahead_stays_exact(
    stamped_videos: dict[str, Path], fourcc: str, ext: str
) -> None:
    """What a user does on a timeline: runs of steps either way, then a jump, with the
    read-ahead worker racing every read."""
    cfg = MediaConfig(cache_bytes=12 * W * H * 3, back_chunk=4, checkpoint_every=4, readahead=3)
    src = open_media(_video(stamped_videos, fourcc, ext), cfg)
    rng = random.Random(21)
    i = 0
    visited = []
    for _ in range(40):
        step = rng.choice((-1, 1))
        for _ in range(rng.randrange(1, 8)):
            i = min(N - 1, max(0, i + step))
            visited.append(i)
        i = rng.randrange(N)
        visited.append(i)
    assert [read_stamp(src.read(k)) for k in visited] == visited
    src.close()
    assert src._readahead.stopped_cleanly
