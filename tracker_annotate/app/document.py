"""One open project, without Qt: its store (autosaving), its frame source and the session.

A rolling backup ``<name>.taproj.bak`` is kept while the project is open (see
:mod:`tracker_annotate.io.store_backup`).

Opening media creates ``<name>.taproj`` beside it (or where ``choose_project_path`` says
when that folder is read-only) and reopens it next time, restoring frame, zoom and
selection; a project whose media moved asks ``choose_media`` for it (relink). The first
frame can show at once: a new video's length is the header's claim until it is counted.

Two things a front end hands in, both optional (small factories, :class:`LengthScanFactory`
and :class:`DebounceFactory`):

* ``length_scan``: counts the real length in the background and reports it on the
  caller's thread (the GUI's is a ``QThread`` whose signal is queued to the GUI thread).
  Without one, nothing runs in the background: the header's claim stands
  (:attr:`Document.length_provisional`) until :meth:`Document.count_length` is called.
* ``view_timer``: saves frame, zoom and selection a moment after they change (the GUI's
  is a ``QTimer``). Without one, the view is saved by :meth:`Document.save_view` and on
  :meth:`Document.close`.

The GUI's adapters are in :mod:`tracker_annotate.gui.document`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from tracker_annotate.core.errors import (
    IndexPendingError,
    MediaError,
    MediaMovedError,
    TrackerAnnotateError,
)
from tracker_annotate.core.frames import Frame
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.core.session import Session
from tracker_annotate.io import store_backup
from tracker_annotate.io.media import MediaConfig, MediaSource, fingerprint, open_media
from tracker_annotate.io.store import ProjectStore, is_project_path

log = logging.getLogger(__name__)

SUFFIX = ProjectStore.PROJECT_SUFFIX
#: Milliseconds between a view change (frame, zoom, selection) and its save.
VIEW_SAVE_MS = 1000
#: Milliseconds :meth:`Document.close` waits for a running length scan.
SCAN_WAIT_MS = 10_000

#: ``choose_project_path(suggested) -> path or None`` when the media's folder is read-only.
ChooseProjectPath = Callable[[Path], Path | None]
#: ``choose_media(expected_path, message) -> new path or None`` when the media moved.
ChooseMedia = Callable[[str, str], str | None]


class LengthScanHandle(Protocol):
    """A running length scan."""

    def wait(self, timeout_ms: int, /) -> bool:
        """Block until the scan ended (at most ``timeout_ms``); whether it did."""
        ...


class LengthScanFactory(Protocol):
    """Starts counting ``source``'s decodable frames off the caller's thread; calls
    ``on_counted(n)`` *on the caller's thread* when done (not at all when it failed)."""

    def __call__(
        self, source: MediaSource, on_counted: Callable[[int], None], /
    ) -> LengthScanHandle: ...


class Debouncer(Protocol):
    """Calls its callback once, a while after the first ``trigger()`` since the last call."""

    def trigger(self) -> None: ...

    def stop(self) -> None: ...


class DebounceFactory(Protocol):
    """``(interval_ms, callback) -> Debouncer``; the callback runs on the caller's thread."""

    def __call__(self, interval_ms: int, callback: Callable[[], None], /) -> Debouncer: ...


class _SaveOnClose:
    """The headless view saver: nothing between explicit saves (``save_view``/``close``)."""

    def trigger(self) -> None:
        pass

    def stop(self) -> None:
        pass


def count_frames(source: MediaSource) -> int | None:
    """Count ``source``'s decodable frames on a handle of its own (safe off the thread that
    reads ``source``; media caches the result per file, so ``source`` picks it up without
    scanning again). ``None``, logged, when the media does not decode."""
    try:
        own = source.reopen()
        try:
            return own.n_frames
        finally:
            own.close()
    except MediaError as exc:
        log.warning("length scan failed: %s", exc)
        return None


def project_path_for(media_path: str | os.PathLike[str]) -> Path:
    """``clip.mp4`` -> ``clip.taproj`` beside it; a folder ``seq/`` -> ``seq.taproj``.

    Symlinks are not followed: the project goes beside the path the user opened.
    """
    p = Path(os.path.abspath(media_path))
    if p.name == "seqinfo.ini":
        p = p.parent
    return p.with_suffix(SUFFIX) if p.is_file() else p.parent / (p.name + SUFFIX)


def _writable(folder: Path) -> bool:
    """Whether a project may be created in ``folder``: the process can write there *and*
    the folder is not marked read-only. Root can write anywhere, but a shared data folder
    with no write bit (``r-x``) means "do not add files here", so the app asks instead."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return folder.is_dir() and bool(mode & 0o222) and os.access(folder, os.W_OK | os.X_OK)


def _is_project_for(project_path: Path, media_path: Path) -> bool:
    """Whether ``project_path`` is a project made for ``media_path`` (an earlier visit that
    had to keep its project elsewhere)."""
    if not project_path.is_file():
        return False
    try:
        with ProjectStore.open(project_path, check_media=False) as store:
            media = store.project.media
    except (TrackerAnnotateError, OSError):
        return False
    return media is not None and Path(media.path) == Path(os.path.abspath(media_path))


def _indexed(source: MediaSource | None) -> bool:
    """Whether ``source`` can seek now (image folders always; a video once scanned)."""
    return source is None or bool(getattr(source, "length_known", True))


class Document:
    """A project bound to its file and media. ``close()`` saves the view and releases all."""

    def __init__(
        self,
        store: ProjectStore,
        source: MediaSource | None,
        *,
        length_scan: LengthScanFactory | None = None,
        view_timer: DebounceFactory | None = None,
    ) -> None:
        self.store = store
        self.source = source
        # <name>.taproj.bak, refreshed every few minutes of editing and on close: what a
        # damaged file (bad sector, truncated copy) is restored from
        store.enable_backups(store_backup.BACKUP_EVERY_S)
        media = store.project.media
        n = media.n_frames if media is not None else 1
        fps = source.fps if source is not None else (media.fps if media is not None else 30.0)
        self.session = Session(store.project, n_frames=n, fps=fps)
        state = store.get_ui_state()
        #: The saved frame, shown once the video is indexed (see :meth:`start_length_scan`).
        self.pending_frame: int | None = None
        if length_scan is not None and not _indexed(source):
            # Seeking a video needs its index (the length scan: minutes for an hour of
            # 1080p, unless an earlier run stored it). Open on frame 0, which needs none,
            # and go to where the annotator left off when the scan has run.
            saved = state.get("frame", 0)
            if isinstance(saved, int) and saved > 0:
                self.pending_frame = saved
                state = {**state, "frame": 0}
        self.session.restore(state)
        #: Whether the length is only the header's claim (not counted yet).
        self.length_provisional = False
        self._length_scan = length_scan
        self.scan: LengthScanHandle | None = None
        #: Called (on the session's thread) when the background scan has been applied: a
        #: view that showed :class:`IndexPendingError` shows its frame again.
        self.on_indexed: list[Callable[[], None]] = []
        # frame, zoom and selection are saved as they change (at most once per
        # VIEW_SAVE_MS, one small meta write), so a crash does not lose the place either
        self._view_saver: Debouncer = (
            view_timer(VIEW_SAVE_MS, self._save_view_quietly)
            if view_timer is not None
            else _SaveOnClose()
        )
        for signal in (
            self.session.frame_changed,
            self.session.selection_changed,
            self.session.view_changed,
        ):
            signal.connect(self._view_changed)

    @property
    def project(self) -> Project:
        return self.store.project

    @property
    def path(self) -> Path:
        return self.store.path

    def read(self, index: int) -> Frame:
        """Frame ``index``. While the video is indexed in the background, a frame that
        needs the index raises :class:`IndexPendingError` at once instead of waiting minutes
        for it (the view shows it when :attr:`on_indexed` fires)."""
        if self.source is None:
            raise MediaError("this project has no media", frame=index)
        if self.indexing and not self.source.ready(index):
            raise IndexPendingError(
                "the video is being indexed for exact seeking (a few minutes for an hour "
                "of video, once per file); this frame shows when it is done",
                path=self.source.path,
                frame=index,
            )
        return self.source.read(index)

    @property
    def indexing(self) -> bool:
        """Whether the background length scan (the seek index) is still running."""
        return self.scan is not None and not self.scan.wait(0)

    def start_length_scan(self) -> None:
        """Count the real length in the background when only the header's claim is known
        (with the ``length_scan`` handed in; headless, the claim stands until
        :meth:`count_length`)."""
        if self.source is None or getattr(self.source, "kind", "") != "video":
            return
        self.length_provisional = True
        if self._length_scan is not None:
            self.scan = self._length_scan(self.source, self.apply_length)

    def count_length(self) -> int | None:
        """Count the real length now, on this thread, and apply it; the count or ``None``."""
        if self.source is None:
            return None
        n = count_frames(self.source)
        if n is not None:
            self.apply_length(n)
        return n

    def apply_length(self, n: int) -> None:
        """The counted length ``n`` replaces the header's claim (call on the thread that
        owns the session); a saved frame held back until now is shown, unless the annotator
        has moved meanwhile."""
        self.length_provisional = False
        pending, self.pending_frame = self.pending_frame, None
        media = self.project.media
        if media is not None and media.n_frames != n and n > 0:
            log.info("%s has %d decodable frames (header said %d)", media.path, n, media.n_frames)
            self.project.set_media(replace(media, n_frames=n))
            self.session.set_n_frames(n)
        if pending is not None and self.session.frame == 0 and n > 0:
            self.session.seek(min(pending, n - 1))
        for hook in list(self.on_indexed):
            hook()

    def _view_changed(self, _value: object) -> None:
        self._view_saver.trigger()

    def _save_view_quietly(self) -> None:
        if self.store.closed:
            return
        try:
            self.save_view()
        except TrackerAnnotateError as exc:  # the view is a convenience, never an error box
            log.warning("could not save the view: %s", exc)

    def save_view(self) -> None:
        self.store.set_ui_state(self.session.ui_state())

    def close(self) -> None:
        self._view_saver.stop()
        if self.scan is not None:
            self.scan.wait(SCAN_WAIT_MS)
        try:
            if not self.store.closed:
                self.save_view()
        finally:
            self.store.close()
            if self.source is not None:
                self.source.close()


def _media_ref_fast(source: MediaSource) -> tuple[MediaRef, bool]:
    """A :class:`MediaRef` without a full length scan when the header gives a length.

    Returns the ref and whether its length is only the header's claim.
    """
    claimed = source.claimed_frames
    is_video = getattr(source, "kind", "") == "video"
    n = claimed if (is_video and claimed) else source.n_frames
    ref = MediaRef(
        path=os.path.abspath(source.path),
        n_frames=n,
        width=source.width,
        height=source.height,
        fps=source.fps,
        fingerprint=fingerprint(source.path),
    )
    return ref, bool(is_video and claimed)


def open_document(
    path: str | os.PathLike[str],
    *,
    media_config: MediaConfig | None = None,
    choose_project_path: ChooseProjectPath,
    choose_media: ChooseMedia,
    length_scan: LengthScanFactory | None = None,
    view_timer: DebounceFactory | None = None,
) -> Document | None:
    """Open a project file or media (creating or reopening its project).

    Returns ``None`` when the user cancelled a question. Raises the library's errors
    (:class:`MediaError`, :class:`ProjectError` ...) for the caller to show. ``length_scan``
    and ``view_timer`` are the front end's background helpers (see the module doc).
    """

    def make(store: ProjectStore, source: MediaSource | None) -> Document:
        return Document(store, source, length_scan=length_scan, view_timer=view_timer)

    p = Path(path)
    if is_project_path(p):
        return _open_project(p, media_config, choose_media, make)
    source = open_media(p, media_config)
    try:
        target = project_path_for(p)
        if target.exists():
            doc = _open_project(target, media_config, choose_media, make, source=source)
            if doc is None:
                source.close()
            return doc
        if not _writable(target.parent):
            fallback = Path.home() / target.name
            if _is_project_for(fallback, p):  # kept there on an earlier visit: no question
                doc = _open_project(fallback, media_config, choose_media, make, source=source)
                if doc is None:
                    source.close()
                return doc
            chosen = choose_project_path(fallback)
            if chosen is None:
                source.close()
                return None
            target = chosen if chosen.suffix == SUFFIX else chosen.with_suffix(SUFFIX)
            if target.exists():
                doc = _open_project(target, media_config, choose_media, make, source=source)
                if doc is None:
                    source.close()
                return doc
        media, provisional = _media_ref_fast(source)
        store = ProjectStore.create(target, Project(media))
    except BaseException:
        source.close()
        raise
    doc = make(store, source)
    if provisional:
        doc.start_length_scan()
    return doc


def _moved_message(expected: str) -> str:
    """What the relink question says: plain words for an annotator (the error's own text
    also tells a CLI user to come here)."""
    if not Path(expected).exists():
        return f"This project's media is not where it was:\n{expected}"
    return (
        f"The media at\n{expected}\nis not the one this project was annotated on (its "
        f"content changed). If it is the same video re-encoded or moved, choose it."
    )


def _open_project(
    path: Path,
    media_config: MediaConfig | None,
    choose_media: ChooseMedia,
    make: Callable[[ProjectStore, MediaSource | None], Document],
    source: MediaSource | None = None,
) -> Document | None:
    try:
        store = ProjectStore.open(path)
    except MediaMovedError as exc:
        new = choose_media(exc.expected_path, _moved_message(exc.expected_path))
        if new is None:
            return None
        store = ProjectStore.open(path, check_media=False)
        try:
            store.relink(new)
        except BaseException:
            store.close()
            raise
        if source is not None:
            source.close()
            source = None
    try:
        media = store.project.media
        if source is None and media is not None:
            source = open_media(media.path, media_config)
    except BaseException:
        store.close()
        raise
    doc = make(store, source)
    if not _indexed(source):  # index it in the background now, not on the first seek
        doc.start_length_scan()
    return doc
