"""The document without Qt: open media or a project headless, reopen where it was left,
relink moved media, keep the project elsewhere beside read-only media, count a length the
header overstated, and the two seams a front end hands in (length scan, view saver)."""

from __future__ import annotations

import os
import queue
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scene_files import N, scene, write_video

from tracker_annotate.app.document import (
    VIEW_SAVE_MS,
    Document,
    open_document,
    project_path_for,
)
from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.errors import MediaError
from tracker_annotate.io.media import MediaSource
from tracker_annotate.io.store import ProjectStore


def never(*args: object) -> None:
    raise AssertionError(f"no question expected, got {args!r}")


def open_quietly(path: Path, **kw: object) -> Document:
    doc = open_document(path, choose_project_path=never, choose_media=never, **kw)  # type: ignore[arg-type]
    assert doc is not None
    return doc


def truncated_video(path: Path) -> Path:
    """An AVI cut short: its header still claims N frames, fewer decode (a copy that
    stopped early, as tree.avi in the shared data)."""
    write_video(path)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(int(size * 0.6))
    return path


def test_a_video_gets_a_project_beside_it_that_reopens_where_it_was_left(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi")
    doc = open_quietly(video)
    assert doc.path == tmp_path / "clip.taproj" == project_path_for(video)
    assert doc.session.n_frames == N and doc.read(5).shape == (240, 320, 3)
    tid = commands.add_track(doc.project, 3, BoxXYXY(40, 60, 90, 120))
    doc.session.go_to(3, tid)
    doc.session.set_view(2.0, (100.0, 90.0))
    doc.close()
    assert doc.store.closed

    again = open_quietly(video)
    try:
        assert again.path == doc.path
        assert again.session.frame == 3 and again.session.selected == tid
        assert again.session.view.zoom == pytest.approx(2.0)
        box = again.project.box(tid, 3)
        assert box is not None and box.xyxy == BoxXYXY(40, 60, 90, 120)
    finally:
        again.close()
    # opening the project file itself is the same document
    by_project = open_quietly(tmp_path / "clip.taproj")
    assert by_project.session.frame == 3 and tid in by_project.project.tracks
    by_project.close()


def test_headless_the_view_is_saved_on_save_view_and_close_only(tmp_path: Path) -> None:
    doc = open_quietly(write_video(tmp_path / "clip.avi"))
    doc.session.seek(9)
    assert doc.store.get_ui_state().get("frame") != 9  # no timer: nothing saved yet
    doc.save_view()
    assert doc.store.get_ui_state()["frame"] == 9
    doc.session.seek(12)
    doc.close()
    with ProjectStore.open(tmp_path / "clip.taproj") as store:
        assert store.get_ui_state()["frame"] == 12


class ManualDebouncer:
    """A view timer the test fires by hand (what a QTimer's timeout would do)."""

    def __init__(self, interval_ms: int, callback: Callable[[], None]) -> None:
        self.interval_ms, self.callback = interval_ms, callback
        self.triggers = 0
        self.stopped = False

    def trigger(self) -> None:
        self.triggers += 1

    def stop(self) -> None:
        self.stopped = True


def test_a_handed_in_view_timer_saves_the_view_when_it_fires(tmp_path: Path) -> None:
    made: list[ManualDebouncer] = []

    def factory(interval_ms: int, callback: Callable[[], None]) -> ManualDebouncer:
        made.append(ManualDebouncer(interval_ms, callback))
        return made[-1]

    doc = open_quietly(write_video(tmp_path / "clip.avi"), view_timer=factory)
    (timer,) = made
    assert timer.interval_ms == VIEW_SAVE_MS
    doc.session.seek(6)
    doc.session.set_view(1.5, None)
    assert timer.triggers == 2
    timer.callback()
    assert doc.store.get_ui_state()["frame"] == 6
    doc.close()
    assert timer.stopped
    timer.callback()  # a late timeout after close is harmless (the store is closed)


def test_a_moved_video_is_relinked_through_choose_media(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi")
    doc = open_quietly(video)
    tid = commands.add_track(doc.project, 0, BoxXYXY(40, 60, 90, 120))
    doc.close()
    moved = tmp_path / "elsewhere" / "clip.avi"
    moved.parent.mkdir()
    shutil.move(video, moved)
    project = tmp_path / "clip.taproj"

    asked: list[tuple[str, str]] = []

    def cancel(expected: str, message: str) -> str | None:
        asked.append((expected, message))
        return None

    assert open_document(project, choose_project_path=never, choose_media=cancel) is None
    assert asked and asked[0][0] == str(video) and "not where it was" in asked[0][1]

    def locate(expected: str, message: str) -> str | None:
        return str(moved)

    relinked = open_document(project, choose_project_path=never, choose_media=locate)
    assert relinked is not None
    try:
        media = relinked.project.media
        assert media is not None and media.path == str(moved)
        assert tid in relinked.project.tracks and relinked.source is not None
        assert relinked.source.path == str(moved) and relinked.read(0).shape == (240, 320, 3)
    finally:
        relinked.close()


@pytest.fixture
def read_only_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A video in a folder without write bits (``r-x``: "add no files here", even for
    root), with HOME at ``tmp_path / "home"``."""
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "shared").mkdir()
    video = write_video(tmp_path / "shared" / "clip.avi")
    video.parent.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    yield video
    video.parent.chmod(stat.S_IRWXU)


def test_read_only_media_keeps_its_project_where_the_user_chose(read_only_video: Path) -> None:
    home = Path.home()
    suggested: list[Path] = []

    def cancel(s: Path) -> Path | None:
        suggested.append(s)
        return None

    assert open_document(read_only_video, choose_project_path=cancel, choose_media=never) is None
    assert suggested == [home / "clip.taproj"]

    def keep_at_home(s: Path) -> Path | None:
        return home / "clip"  # the suffix is added

    doc = open_document(read_only_video, choose_project_path=keep_at_home, choose_media=never)
    assert doc is not None and doc.path == home / "clip.taproj"
    tid = commands.add_track(doc.project, 0, BoxXYXY(40, 60, 90, 120))
    doc.close()
    assert sorted(os.listdir(read_only_video.parent)) == ["clip.avi"]  # nothing beside it

    # next visit: the project kept at home is found without a question
    doc = open_quietly(read_only_video)
    assert doc.path == home / "clip.taproj" and tid in doc.project.tracks
    doc.close()


def test_a_length_the_header_overstates_is_counted_on_request(tmp_path: Path) -> None:
    doc = open_quietly(truncated_video(tmp_path / "cut.avi"))
    try:
        # headless, nothing scans in the background: the header's claim stands
        assert doc.length_provisional and doc.session.n_frames == N
        n = doc.count_length()
        assert n is not None and 0 < n < N
        assert not doc.length_provisional
        assert doc.session.n_frames == n
        assert doc.project.media is not None and doc.project.media.n_frames == n
        with pytest.raises(MediaError):
            doc.read(N - 1)
    finally:
        doc.close()
    with ProjectStore.open(tmp_path / "cut.taproj") as store:
        assert store.project.media is not None and store.project.media.n_frames == n


class ThreadScan:
    """A length scan on a plain thread; the count is handed to the owner's thread through a
    queue, which ``deliver()`` drains (what a queued Qt signal does in the GUI)."""

    def __init__(self, source: MediaSource, on_counted: Callable[[int], None]) -> None:
        from tracker_annotate.app.document import count_frames

        self._results: queue.Queue[int] = queue.Queue()
        self._on_counted = on_counted
        self._thread = threading.Thread(
            target=lambda: self._results.put(count_frames(source) or 0), daemon=True
        )
        self._thread.start()

    def deliver(self) -> None:
        self._thread.join(30)
        self._on_counted(self._results.get(timeout=30))

    def wait(self, timeout_ms: int) -> bool:
        self._thread.join(timeout_ms / 1000)
        return not self._thread.is_alive()


def test_a_handed_in_length_scan_corrects_the_claim_on_the_owner_thread(tmp_path: Path) -> None:
    scans: list[ThreadScan] = []

    def factory(source: MediaSource, on_counted: Callable[[int], None]) -> ThreadScan:
        scans.append(ThreadScan(source, on_counted))
        return scans[-1]

    doc = open_quietly(truncated_video(tmp_path / "cut.avi"), length_scan=factory)
    try:
        (scan,) = scans
        assert doc.scan is scan and doc.session.n_frames == N  # until the count arrives
        scan.deliver()
        assert 0 < doc.session.n_frames < N and not doc.length_provisional
    finally:
        doc.close()


def test_an_image_folder_needs_no_length_scan(tmp_path: Path) -> None:
    from scene_files import write_images

    folder = write_images(tmp_path / "seq", scene(n=12))
    doc = open_quietly(folder, length_scan=never)
    assert doc.path == tmp_path / "seq.taproj" and doc.session.n_frames == 12
    assert not doc.length_provisional
    doc.close()


def test_the_document_opens_without_qt(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi")
    code = (
        "import sys\n"
        "from tracker_annotate.app.document import open_document\n"
        f"doc = open_document({str(video)!r}, choose_project_path=lambda s: None,"
        " choose_media=lambda e, m: None)\n"
        "doc.session.seek(4)\n"
        "doc.close()\n"
        "print(doc.path.name, 'PyQt6' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["clip.taproj", "False"]


@pytest.mark.parametrize("moved", [False, True], ids=["stays", "annotator moved"])
def test_a_project_reopened_in_a_new_process_opens_at_once_and_then_goes_where_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moved: bool
) -> None:
    """Seeking needs the video's index (its length scan); a new process without it opened
    at the saved frame only after scanning the whole file (three minutes on an hour of
    1080p, the window frozen). Now frame 0 shows at once, the scan runs in the background,
    and the saved frame follows, unless the annotator has gone somewhere meanwhile."""
    from tracker_annotate.io import video as video_mod

    path = write_video(tmp_path / "clip.avi")
    doc = open_quietly(path)
    doc.session.seek(30)
    doc.close()
    # a new process on another machine: nothing scanned, nothing stored
    monkeypatch.setattr(video_mod, "_SCANS", {})
    monkeypatch.setenv("TRACKER_ANNOTATE_CACHE", str(tmp_path / "empty-cache"))
    scans: list[ThreadScan] = []

    def factory(source: MediaSource, on_counted: Callable[[int], None]) -> ThreadScan:
        scans.append(ThreadScan(source, on_counted))
        return scans[-1]

    again = open_quietly(tmp_path / "clip.taproj", length_scan=factory)
    try:
        (scan,) = scans  # the index is built in the background, not on the first read
        assert again.session.frame == 0 and again.pending_frame == 30
        assert again.read(0).shape == (240, 320, 3)
        if moved:
            again.session.seek(2)
        scan.deliver()
        assert again.session.frame == (2 if moved else 30)
        assert again.pending_frame is None
    finally:
        again.close()
    # with the index known (this process has it now) the saved frame shows at once
    third = open_quietly(tmp_path / "clip.taproj", length_scan=never)
    assert third.session.frame == (2 if moved else 30)
    third.close()
