"""A video's length scan is kept on disk, so a new process seeks at once (an hour of 1080p
took three minutes to scan, and a project reopened at its last frame waited for it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.io.test_media import read_stamp, write_video
from tracker_annotate.io import scan_cache, video
from tracker_annotate.io.sources import MediaConfig
from tracker_annotate.io.video import VideoSource

N = 60
CONFIG = MediaConfig(checkpoint_every=8, readahead=0)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("TRACKER_ANNOTATE_CACHE", str(folder))
    return folder / "scans"


def _new_process(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Forget this process's scans (as a new process would) and count the scans run."""
    monkeypatch.setattr(video, "_SCANS", {})
    runs: list[str] = []
    real = VideoSource._run_scan

    def counted(self: VideoSource, cancel=None):  # type: ignore[no-untyped-def]
        runs.append(self.path)
        return real(self, cancel)

    monkeypatch.setattr(VideoSource, "_run_scan", counted)
    return runs


def test_a_new_process_seeks_exactly_without_scanning_again(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_video(tmp_path / "v.mp4", "mp4v", N)
    runs = _new_process(monkeypatch)
    first = VideoSource(str(path), CONFIG)
    assert first.n_frames == N and len(runs) == 1
    assert len(list(cache.glob("*.npz"))) == 1
    runs = _new_process(monkeypatch)
    src = VideoSource(str(path), CONFIG)
    assert src.length_known  # before anything asked for the length
    order = [50, 7, 33, 59, 1, 24]
    assert [read_stamp(src.read(i)) for i in order] == order
    assert src.n_frames == N and runs == []
    assert src.seek_count > 0  # the stored checkpoints were used to seek


def test_a_changed_file_is_scanned_again(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_video(tmp_path / "v.mp4", "mp4v", N)
    assert VideoSource(str(path), CONFIG).n_frames == N
    write_video(path, "mp4v", N - 20)  # the same name, other contents
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    runs = _new_process(monkeypatch)
    src = VideoSource(str(path), CONFIG)
    assert src.n_frames == N - 20 and len(runs) == 1
    assert read_stamp(src.read(N - 21)) == N - 21


@pytest.mark.parametrize("damage", ["garbage", "empty", "other key"])
def test_a_damaged_cache_is_ignored_and_the_video_scanned(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    path = write_video(tmp_path / "v.mp4", "mp4v", N)
    assert VideoSource(str(path), CONFIG).n_frames == N
    (stored,) = cache.glob("*.npz")
    if damage == "garbage":
        stored.write_bytes(b"PK\x03\x04 not a zip at all")
    elif damage == "empty":
        stored.write_bytes(b"")
    else:  # a file written for another key lands under this name
        other = write_video(tmp_path / "w.mp4", "mp4v", 30)
        key = VideoSource(str(other), CONFIG)._scan_key()
        scan_cache.save(key, 30, {0: b"x" * 16}, (0,))
        (cache / scan_cache._name(key)).replace(stored)
    runs = _new_process(monkeypatch)
    src = VideoSource(str(path), CONFIG)
    assert src.n_frames == N and len(runs) == 1
    assert read_stamp(src.read(41)) == 41


def test_an_unwritable_cache_only_costs_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("TRACKER_ANNOTATE_CACHE", str(blocker))
    path = write_video(tmp_path / "v.mp4", "mp4v", N)
    src = VideoSource(str(path), CONFIG)
    assert src.n_frames == N
    assert read_stamp(src.read(37)) == 37
