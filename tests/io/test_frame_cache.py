"""The byte-budgeted frame cache, alone and behind a real decoded video."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker_annotate.core.errors import ConfigError, MediaError
from tracker_annotate.io.frame_cache import FrameCache
from tracker_annotate.io.media import MediaConfig, open_media

W, H = 160, 96
FRAME_BYTES = W * H * 3


def frame(value: int, h: int = H, w: int = W) -> np.ndarray:
    return np.full((h, w, 3), value % 256, np.uint8)


def test_lru_evicts_least_recently_used_within_budget() -> None:
    cache = FrameCache(3 * FRAME_BYTES)
    for i in range(3):
        cache.put(i, frame(i))
    assert cache.get(0) is not None  # 0 becomes most recent; 1 is now the oldest
    cache.put(3, frame(3))
    assert cache.indices() == [2, 0, 3]
    assert 1 not in cache
    s = cache.stats()
    assert (s.hits, s.misses, s.evictions, s.frames, s.bytes) == (1, 0, 1, 3, 3 * FRAME_BYTES)


@pytest.mark.parametrize(
    "budget,size,stored",
    [
        pytest.param(FRAME_BYTES, FRAME_BYTES, True, id="exactly fits"),
        pytest.param(FRAME_BYTES - 1, FRAME_BYTES, False, id="one byte too big: not stored"),
        pytest.param(0, FRAME_BYTES, False, id="zero budget disables caching"),
    ],
)
def test_frame_bigger_than_budget_is_returned_not_stored(
    budget: int, size: int, stored: bool
) -> None:
    cache = FrameCache(budget)
    out = cache.put(0, frame(5))
    assert out.nbytes == size and (0 in cache) == stored
    assert cache.nbytes <= budget


def test_stored_frames_are_read_only_and_replacing_keeps_byte_count() -> None:
    cache = FrameCache(10 * FRAME_BYTES)
    cache.put(4, frame(1))
    cache.put(4, frame(2))
    got = cache.get(4)
    assert got is not None and int(got[0, 0, 0]) == 2 and not got.flags.writeable
    assert cache.nbytes == FRAME_BYTES and len(cache) == 1


@pytest.mark.parametrize(
    "budget",
    [pytest.param(-1, id="negative"), pytest.param(1.5, id="float"), pytest.param(True, id="bool")],
)
def test_bad_budget_is_a_config_error(budget: object) -> None:
    with pytest.raises(ConfigError, match="budget_bytes"):
        FrameCache(budget)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    budget=st.integers(0, 40_000),
    ops=st.lists(
        st.tuples(st.integers(0, 30), st.integers(1, 60), st.integers(1, 60), st.booleans()),
        max_size=80,
    ),
)
def test_budget_is_never_exceeded(budget: int, ops: list[tuple[int, int, int, bool]]) -> None:
    cache = FrameCache(budget)
    for index, h, w, is_get in ops:
        if is_get:
            cache.get(index)
        else:
            cache.put(index, np.zeros((h, w, 3), np.uint8))
        held = sum(cache.peek(i).nbytes for i in cache.indices())  # type: ignore[union-attr]
        assert held == cache.nbytes <= budget
        assert cache.stats().peak_bytes <= budget


def red_stamp(img: np.ndarray) -> int:
    """The frame index the generator below wrote into the red channel (5 levels apart)."""
    return round(float(img[:, :, 2].mean()) / 5)


def _video(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "grad.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (W, H))
    assert writer.isOpened(), "MJPG/AVI writing is part of every OpenCV build"
    for i in range(n):
        img = np.zeros((H, W, 3), np.uint8)
        img[:, : (i * 3) % W] = 200
        img[:, :, 2] = i * 5 % 256  # the index, for red_stamp (valid while n <= 51)
        writer.write(img)
    writer.release()
    return path


def test_stepping_back_through_the_cache_decodes_nothing(tmp_path: Path) -> None:
    cfg = MediaConfig(cache_bytes=64 * FRAME_BYTES, readahead=0)  # counts exact decodes
    src = open_media(_video(tmp_path, 40), cfg)
    for i in range(40):
        src.read(i)
    before = src.cache_stats()
    back = [src.read(i) for i in reversed(range(40))]
    after = src.cache_stats()
    assert after.decoded == before.decoded  # nothing re-decoded
    assert after.hits - before.hits == 40 and after.misses == before.misses
    assert all(not f.flags.writeable for f in back)


def test_stepping_back_beyond_the_cache_decodes_one_chunk_per_miss(tmp_path: Path) -> None:
    cfg = MediaConfig(cache_bytes=10 * FRAME_BYTES, back_chunk=8, checkpoint_every=4, readahead=0)
    src = open_media(_video(tmp_path, 60), cfg)
    src.read(59 - 20)
    for i in range(59 - 20, 60):
        src.read(i)
    src.cache.reset_stats()
    for i in reversed(range(60)):
        src.read(i)
        assert src.cache.nbytes <= cfg.cache_bytes
    s = src.cache_stats()
    # the cache held the last 10 frames; then every miss decodes a chunk of 8 ending at it
    assert s.misses <= 1 + (60 - 10) // 8 + 1
    assert s.hits >= 60 - s.misses
    assert s.peak_bytes <= cfg.cache_bytes
    # and each miss decoded at most one chunk plus the distance back to a checkpoint
    assert s.decoded <= s.misses * (cfg.back_chunk + cfg.checkpoint_every + 1)


def test_random_access_with_a_tiny_budget_stays_within_it(tmp_path: Path) -> None:
    cfg = MediaConfig(cache_bytes=3 * FRAME_BYTES + 100, back_chunk=6, checkpoint_every=4)
    src = open_media(_video(tmp_path, 50), cfg)
    rng = np.random.default_rng(4)
    for i in rng.integers(0, 50, 80):
        assert src.read(int(i)).shape == (H, W, 3)
        assert src.cache.nbytes <= cfg.cache_bytes
    s = src.cache_stats()
    assert s.peak_bytes <= cfg.cache_bytes and s.frames <= 3


def _wait_cached(src: object, indices: range, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(i in src.cache for i in indices):  # type: ignore[attr-defined]
            return True
        time.sleep(0.005)
    return False


def _image_folder(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(n):
        img = np.zeros((H, W, 3), np.uint8)
        img[:, :, 2] = i * 5
        cv2.imwrite(str(folder / f"{i}.png"), img)
    return folder


@pytest.mark.parametrize("kind", ["video", "images"])
def test_read_ahead_fills_the_frames_after_a_forward_reader(tmp_path: Path, kind: str) -> None:
    path = _video(tmp_path, 30) if kind == "video" else _image_folder(tmp_path, 30)
    src = open_media(path, MediaConfig(cache_bytes=64 * FRAME_BYTES, readahead=4))
    assert [red_stamp(src.read(i)) for i in (0, 1)] == [0, 1]  # a forward step starts it
    assert _wait_cached(src, range(2, 6)), "read-ahead did not decode frames 2..5"
    before = src.cache_stats()
    assert [red_stamp(src.read(i)) for i in range(2, 6)] == [2, 3, 4, 5]
    assert src.cache_stats().hits - before.hits == 4
    # reading on to the very end: the worker stops at the last frame, nothing fails
    assert [red_stamp(src.read(i)) for i in range(6, 30)] == list(range(6, 30))
    with pytest.raises(MediaError, match="frame 30"):
        src.read(30)
    src.close()
    assert not src._readahead.running and src._readahead.stopped_cleanly


def test_close_while_the_worker_is_about_to_decode_does_not_deadlock(tmp_path: Path) -> None:
    import threading

    src = open_media(_video(tmp_path, 50), MediaConfig(cache_bytes=64 * FRAME_BYTES, readahead=8))
    entered, release = threading.Event(), threading.Event()
    real = src._prefetch_one

    def held_back(upto: int) -> bool:  # the worker reaches the decoder only once close runs
        entered.set()
        release.wait(10)
        return real(upto)

    src._prefetch_one = held_back  # type: ignore[method-assign]
    src.read(0)
    src.read(1)  # a forward step: the worker starts and waits in held_back
    assert entered.wait(10)
    threading.Timer(0.2, release.set).start()
    src.close()  # must not hold the decoder lock while it waits for the worker
    assert src._readahead.stopped_cleanly and not src._readahead.running
    with pytest.raises(MediaError, match="read after close"):
        src.read(1)


def test_reopen_can_take_a_smaller_cache(tmp_path: Path) -> None:
    src = open_media(_video(tmp_path, 10), MediaConfig(cache_bytes=64 * FRAME_BYTES))
    worker = src.reopen(MediaConfig(cache_bytes=2 * FRAME_BYTES, readahead=0))
    assert worker.cache.budget_bytes == 2 * FRAME_BYTES
    assert [red_stamp(worker.read(i)) for i in range(10)] == list(range(10))
    assert worker.cache_stats().peak_bytes <= 2 * FRAME_BYTES


@pytest.mark.parametrize("kind", ["video", "images"])
def test_read_ahead_also_runs_ahead_of_a_backward_reader(tmp_path: Path, kind: str) -> None:
    path = _video(tmp_path, 45) if kind == "video" else _image_folder(tmp_path, 45)
    src = open_media(path, MediaConfig(cache_bytes=64 * FRAME_BYTES, readahead=4))
    assert [red_stamp(src.read(i)) for i in (40, 39)] == [40, 39]  # a step back starts it
    assert _wait_cached(src, range(35, 39)), "read-ahead did not prepare frames 35..38"
    before = src.cache_stats()
    assert [red_stamp(src.read(i)) for i in range(38, 34, -1)] == [38, 37, 36, 35]
    assert src.cache_stats().hits - before.hits == 4
    assert [red_stamp(src.read(i)) for i in range(34, -1, -1)] == list(range(34, -1, -1))
    src.close()
    assert src._readahead.stopped_cleanly


def test_read_ahead_worker_exits_when_idle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker_annotate.io.sources import ReadAhead

    monkeypatch.setattr(ReadAhead, "IDLE_EXIT_S", 0.05)
    src = open_media(_video(tmp_path, 20), MediaConfig(readahead=3))
    src.read(0)
    src.read(1)
    assert _wait_cached(src, range(2, 5))
    deadline = time.monotonic() + 5
    while src._readahead.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not src._readahead.running
    assert red_stamp(src.read(5)) == 5  # and it comes back on demand
    src.read(6)
    assert _wait_cached(src, range(7, 10))


def test_no_read_ahead_into_a_cache_too_small_to_keep_it(tmp_path: Path) -> None:
    src = open_media(_video(tmp_path, 20), MediaConfig(cache_bytes=3 * FRAME_BYTES, readahead=4))
    for i in range(8):
        assert red_stamp(src.read(i)) == i
    time.sleep(0.05)
    assert src.cache_stats().decoded == 8  # only what was read
