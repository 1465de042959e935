"""The project file: a crash-safe SQLite store that saves every edit as it happens.

There is no Save button. :class:`ProjectStore` subscribes to :attr:`Project.changed`; each
:class:`~tracker_annotate.core.project.ChangeSet` (an edit, an undo, a redo, a whole
tracking run) is written in its own SQLite transaction, so the file always holds exactly
the state after some complete edit, never half of one.

Durability. The journal is WAL with ``synchronous=NORMAL``. What we promise is that an edit
that has returned survives the *process* dying (``kill -9``, a segfault in a video codec,
the GUI being closed by the OS). In WAL mode a commit is an append to the ``-wal`` file, and
once ``write()`` returned, the bytes are in the kernel's page cache, which outlives the
process; the next open replays them. ``NORMAL`` skips the ``fsync`` per commit, so after a
*power loss or OS crash* the last few edits may be lost, but the file is still consistent
(WAL frames are checksummed; a torn tail is ignored). ``FULL`` would add an ``fsync`` to
every edit: invisible on an SSD, but tens of milliseconds on a laptop HDD or a network
share, and undo held down or a drag committing per step would stutter. The per-edit latency
of both is measured in ``benchmarks/bench_store.py``; pass ``synchronous="FULL"`` to
:meth:`ProjectStore.open`/:meth:`ProjectStore.create` where power-loss durability matters
more than latency.

One writer. The file is opened with ``locking_mode=EXCLUSIVE``: a second program (another
GUI window) cannot open the project while it is open here, instead of both silently
overwriting each other's edits. The lock dies with the process, so a crash never leaves a
project locked.

If a write fails (disk full, file on a vanished share), the edit stays in memory, the error
is raised as :class:`ProjectError`, and the keys are retried with the next edit or
:meth:`ProjectStore.flush`: the store writes current values, not deltas, so retrying is
idempotent. A project file deleted or moved while open is noticed at the next edit (one
``stat``) instead of autosaving into an orphaned inode; :meth:`ProjectStore.save_as`
rescues the edits.

Media moved. :meth:`ProjectStore.open` raises :class:`MediaMovedError` when the media is
missing or its fingerprint changed (unless it sits at the same place relative to the
project, which is relinked silently). The caller asks the user for the new location, then
``ProjectStore.open(path, check_media=False)`` and :meth:`ProjectStore.relink`. The error's
message is written for the annotator (it is shown in the app's dialog), not for a programmer.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

from tracker_annotate.core.errors import MediaMovedError, ProjectError, TrackerAnnotateError
from tracker_annotate.core.project import ChangeSet, MediaRef, Project
from tracker_annotate.io import store_audit, store_worklog
from tracker_annotate.io import store_backup as bk
from tracker_annotate.io import store_schema as sc

log = logging.getLogger(__name__)

Synchronous = Literal["NORMAL", "FULL"]
T = TypeVar("T")

#: How long opening waits for another process's lock before saying the project is busy.
_LOCK_TIMEOUT_S = 1.0
#: Bytes of ``-wal`` file kept after a checkpoint (SQLite's default keeps it all).
_WAL_SIZE_LIMIT = 16 * 2**20


def is_project_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has a project suffix (``.taproj`` or ``.sqlite``)."""
    return Path(path).suffix.lower() in sc.PROJECT_SUFFIXES


class ProjectStore:
    """A :class:`Project` bound to its file. Build it with :meth:`create` or :meth:`open`.

    ``project`` is the live model; edit it through ``project.edit(...)`` and the store
    persists each transaction when it closes. Close the store (or use it as a context
    manager) when done; the project object stays usable but is no longer saved.
    """

    PROJECT_SUFFIX = sc.PROJECT_SUFFIXES[0]

    def __init__(
        self,
        con: sqlite3.Connection,
        path: Path,
        project: Project,
        *,
        media_relpath: str | None = None,
    ) -> None:
        """Private: use :meth:`create` or :meth:`open`."""
        self.path = path
        self.project = project
        self._con: sqlite3.Connection | None = con
        self._lock = threading.RLock()
        self._media_relpath = media_relpath
        self._pending_boxes: set[tuple[int, int]] = set()
        self._pending_tracks: set[int] = set()
        self._pending_labels: set[str] = set()
        self._pending_stale = False
        self._pending_quality = False
        self._identity = _file_identity(path)
        self._backup_every: float | None = None  # seconds; None: no rolling backup
        self._backup_at = 0.0  # monotonic time of the last backup
        self._edited_since_backup = False
        project.changed.connect(self._on_changed)
        project.media_changed.connect(self._on_media_changed)

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        project: Project,
        *,
        overwrite: bool = False,
        synchronous: Synchronous = "NORMAL",
    ) -> ProjectStore:
        """Write ``project`` (media reference, labels, tracks, boxes) to a new file at
        ``path`` and attach to it.

        The file is written under a temporary name and renamed into place, so an existing
        project replaced with ``overwrite=True`` is intact until the new one is complete.
        """
        path = Path(path)
        if path.suffix.lower() not in sc.PROJECT_SUFFIXES:
            raise ProjectError(
                f"{path}: a project file must end in {' or '.join(sc.PROJECT_SUFFIXES)}"
            )
        if path.is_dir():
            raise ProjectError(f"{path}: is a folder; expected a project file name")
        if path.exists() and not overwrite:
            raise ProjectError(f"{path}: already exists; choose another name or overwrite it")
        if not path.parent.is_dir():
            raise ProjectError(f"{path}: the folder {path.parent} does not exist")
        if path.exists():
            _ensure_not_in_use(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        _remove_db_files(tmp)
        try:
            con = sqlite3.connect(tmp, isolation_level=None)
            try:
                con.execute("PRAGMA journal_mode = WAL")
                con.execute("BEGIN IMMEDIATE")
                for stmt in sc.DDL.split(";"):
                    if stmt.strip():
                        con.execute(stmt)
                con.execute(f"PRAGMA application_id = {sc.APPLICATION_ID}")
                con.execute(f"PRAGMA user_version = {sc.SCHEMA_VERSION}")
                sc.write_project(con, project, path.parent)
                con.execute("COMMIT")
            finally:
                con.close()  # checkpoints the WAL into the file and removes it
            _remove_db_files(path, keep_main=True)  # a stale -wal must not meet the new file
            os.replace(tmp, path)
        except sqlite3.Error as exc:
            _remove_db_files(tmp)
            raise ProjectError(f"{path}: could not write the project: {exc}") from exc
        except OSError as exc:
            _remove_db_files(tmp)
            raise ProjectError(f"{path}: could not write the project: {exc}") from exc
        con = _connect(path, synchronous)
        log.info("created project %s (%d boxes)", path, project.n_boxes())
        return cls(con, path, project, media_relpath=sc.media_relpath(project.media, path.parent))

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        check_media: bool = True,
        synchronous: Synchronous = "NORMAL",
        progress: Callable[[int, int], None] | None = None,
    ) -> ProjectStore:
        """Load the project at ``path`` and attach to it.

        With ``check_media`` the media must be where the project says and unchanged, else
        :class:`MediaMovedError`; pass ``check_media=False`` to get the store anyway and
        call :meth:`relink`. ``progress(done, total)`` (in boxes) is called every 65,536
        boxes and at the end, from the calling thread: a million boxes take seconds.
        """
        path = Path(path)
        sc.check_header(path)
        con = _connect(path, synchronous, check=True)
        problem = bk.quick_check(con)
        if problem is not None:
            con.close()
            raise bk.damaged(path, f"integrity check: {problem}")
        try:
            project, relpath = sc.load_project(con, path, progress)
        except (sqlite3.Error, UnicodeDecodeError) as exc:  # damaged text fails to decode
            con.close()
            raise bk.damaged(path, str(exc)) from exc
        except ProjectError as exc:
            con.close()
            # damaged content (a row of impossible values, a dangling reference)
            detail = str(exc).removeprefix(f"{path}: ")
            raise bk.damaged(path, detail) from exc
        except BaseException:
            con.close()
            raise
        store = cls(con, path, project, media_relpath=relpath)
        if check_media:
            try:
                store.check_media()
            except BaseException:
                store.close()
                raise
        log.info(
            "opened project %s (%d tracks, %d boxes)", path, len(project.tracks), project.n_boxes()
        )
        return store

    def save_as(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> ProjectStore:
        """Write the project (and the UI state) to a new file, detach from this one and
        return the new store; edits from now on go to the new file only. Saving as the
        file itself just returns this store."""
        try:
            self.flush()
        except ProjectError:
            # this file cannot take the edits (deleted, disk full...): the new one gets
            # the whole project from memory anyway
            log.warning("%s: saving as %s with edits this file could not take", self.path, path)
        if Path(path).absolute() == self.path.absolute():
            return self
        ui_state = self.get_ui_state()
        with self._lock:
            work = store_worklog.dump_rows(self._connection())
        new = ProjectStore.create(path, self.project, overwrite=overwrite)
        if ui_state:
            new.set_ui_state(ui_state)
        if work[0]:  # the work record goes along (it is not part of the project model)
            new.write_side_table(lambda con: store_worklog.load_rows(con, work))
        self.close()
        return new

    # -- media ----------------------------------------------------------------------------
    def check_media(self) -> None:
        """Raise :class:`MediaMovedError` unless the media is where the project recorded it
        and has the recorded fingerprint.

        If it is missing there but found at the same place relative to the project file
        (the folder was moved or copied as a whole) with the right fingerprint, the project
        is relinked to it silently.
        """
        media = self.project.media
        if media is None:
            return
        from tracker_annotate.io.media import fingerprint, fingerprint_matches

        how = (
            "Open the project in tracker-annotate and choose the media's new location "
            "when asked, or move the media back."
        )
        if not Path(media.path).exists():
            moved = self._find_moved_media(media)
            if moved is not None:
                log.info("media of %s found at %s (moved with the project)", self.path, moved)
                self.project.set_media(replace(media, path=str(moved)))
                return
            raise MediaMovedError(
                f"{self.path}: the project's media {media.path} does not exist any more. {how}",
                expected_path=media.path,
            )
        if media.fingerprint and fingerprint(media.path) != media.fingerprint:
            if fingerprint_matches(media.path, media.fingerprint):
                # recorded by an older release in the other file order: same media
                self.project.set_media(replace(media, fingerprint=fingerprint(media.path)))
                return
            raise MediaMovedError(
                f"{self.path}: the media {media.path} is not the file the project was "
                f"annotated on (its content changed). If it is the same video re-encoded "
                f"or moved, open the project in tracker-annotate and choose the media "
                f"when asked.",
                expected_path=media.path,
            )

    def _find_moved_media(self, media: MediaRef) -> Path | None:
        if not self._media_relpath:
            return None
        from tracker_annotate.io.media import fingerprint_matches

        candidate = (self.path.parent / self._media_relpath).resolve()
        if not candidate.exists():
            return None
        try:
            same = not media.fingerprint or fingerprint_matches(candidate, media.fingerprint)
        except (TrackerAnnotateError, OSError):  # an unreadable candidate is not the media
            log.debug("candidate media %s unreadable", candidate, exc_info=True)
            return None
        return candidate if same else None

    def relink(self, new_media_path: str | os.PathLike[str]) -> None:
        """Point the project at ``new_media_path`` (probed: length, size, fingerprint).

        Refused with :class:`ProjectError` when the frames have another size (the boxes'
        pixels would be wrong) or the media is shorter than the last annotated frame. A
        different fingerprint is accepted: that is what relinking to a re-encode means.
        """
        from tracker_annotate.io.media import probe_media

        new = probe_media(new_media_path)
        old = self.project.media
        if old is not None and (new.width, new.height) != (old.width, old.height):
            raise ProjectError(
                f"cannot relink {self.path} to {new.path}: its frames are "
                f"{new.width}x{new.height}, the project's boxes were drawn on "
                f"{old.width}x{old.height} frames ({old.path})"
            )
        p = self.project
        last = max((max(p.boxes(t)) for t in p.tracks if p.boxes(t)), default=-1)
        if last >= new.n_frames:
            raise ProjectError(
                f"cannot relink {self.path} to {new.path}: it has {new.n_frames} frames, "
                f"but the project has boxes up to frame {last} (0-based)"
            )
        self.project.set_media(new)  # persisted by _on_media_changed
        log.info("relinked %s to %s", self.path, new.path)

    # -- backup ---------------------------------------------------------------------------
    def enable_backups(self, every_s: float = bk.BACKUP_EVERY_S) -> None:
        """Keep ``<name>.taproj.bak`` (see :mod:`~tracker_annotate.io.store_backup`): written
        now if there is none, then refreshed after an edit once ``every_s`` seconds passed
        since the last one, and on close. For the app; the CLI's short runs do without."""
        if every_s <= 0:
            raise ProjectError(f"backup interval must be positive, got {every_s} s")
        self._backup_every = every_s
        self._backup_at = time.monotonic()
        if not bk.backup_path(self.path).exists():
            self.backup()

    def backup(self) -> Path | None:
        """Refresh the backup now; returns its path, or ``None`` if it failed (logged)."""
        con = self._connection()
        with self._lock:
            done = bk.write_backup(con, self.path)
        self._backup_at = time.monotonic()
        if done is not None:
            self._edited_since_backup = False
        return done

    def _maybe_backup(self) -> None:
        self._edited_since_backup = True
        every = self._backup_every
        if every is not None and time.monotonic() - self._backup_at >= every:
            self.backup()

    # -- UI state -------------------------------------------------------------------------
    def get_ui_state(self) -> dict[str, Any]:
        """What the GUI saved with :meth:`set_ui_state` (empty if nothing was)."""
        con = self._connection()
        with self._lock:
            row = con.execute("SELECT value FROM meta WHERE key = 'ui_state'").fetchone()
        if row is None:
            return {}
        try:
            state = json.loads(row[0])
        except ValueError:
            log.warning("%s: ignoring damaged UI state", self.path)
            return {}
        return state if isinstance(state, dict) else {}

    def set_ui_state(self, state: dict[str, Any]) -> None:
        """Remember view state (frame, zoom, selection...): a JSON-serialisable dict."""
        if not isinstance(state, dict):
            raise ProjectError(f"UI state must be a dict, got {type(state).__name__}")
        try:
            text = json.dumps(state)
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"UI state is not JSON-serialisable: {exc}") from exc
        self._write_meta({"ui_state": text})

    # -- persistence ----------------------------------------------------------------------
    def _on_changed(self, cs: ChangeSet) -> None:
        with self._lock:
            self._pending_boxes |= cs.boxes
            self._pending_tracks |= cs.tracks
            self._pending_labels |= cs.labels
            self._pending_stale |= cs.stale
            self._pending_quality |= cs.quality
            self.flush()

    def _on_media_changed(self, media: MediaRef) -> None:
        self._media_relpath = sc.media_relpath(media, self.path.parent)
        self._write_meta({"media": sc.media_to_json(media, self.path.parent)})

    @property
    def has_unsaved(self) -> bool:
        """Whether some edit could not be written yet (see :meth:`flush`)."""
        return bool(
            self._pending_boxes
            or self._pending_tracks
            or self._pending_labels
            or self._pending_quality
            or self._pending_stale
        )

    def flush(self) -> None:
        """Write every pending change in one transaction. Called on each edit; call it
        again to retry after a failed write."""
        if not self.has_unsaved:
            return
        con = self._connection()
        p = self.project
        self._check_file_still_there()
        with self._lock:
            boxes, tracks, labels = (
                self._pending_boxes,
                self._pending_tracks,
                self._pending_labels,
            )
            try:
                con.execute("BEGIN IMMEDIATE")
                sc.write_changes(con, p, boxes=boxes, tracks=tracks, labels=labels)
                if tracks:
                    con.execute(sc.SET_META, ("next_track_id", json.dumps(p.next_track_id)))
                if self._pending_stale:
                    # in the edit's own transaction: a crash cannot keep the edit and lose
                    # the note that its stretch still needs re-tracking
                    con.execute(sc.SET_META, (sc.STALE_KEY, sc.stale_to_json(p.stale)))
                if self._pending_quality:
                    store_audit.write_quality(con, p.quality)
                con.execute("COMMIT")
            except BaseException as exc:
                _rollback(con)
                # OverflowError: an integer beyond SQLite's 64 bits (a huge track id)
                if isinstance(exc, (sqlite3.Error, OverflowError)):
                    raise ProjectError(
                        f"{self.path}: could not save the last edit ({exc}); it is kept in "
                        f"memory and retried with the next edit"
                    ) from exc
                raise
            self._pending_boxes = set()
            self._pending_tracks = set()
            self._pending_labels = set()
            self._pending_stale = False
            self._pending_quality = False
        self._maybe_backup()

    def _check_file_still_there(self) -> None:
        """Refuse to keep saving into a file that was deleted, moved or replaced while
        open: SQLite would go on writing to the orphaned inode, and every edit from then on
        would vanish when the project is closed. One ``stat`` per edit."""
        if _file_identity(self.path) != self._identity:
            raise ProjectError(
                f"{self.path}: the project file was deleted, moved or replaced while open; "
                f"your edits are still in memory: save the project under a new name"
            )

    def _write_meta(self, items: dict[str, str]) -> None:
        con = self._connection()
        with self._lock:
            try:
                con.execute("BEGIN IMMEDIATE")
                con.executemany(sc.SET_META, list(items.items()))
                con.execute("COMMIT")
            except BaseException as exc:
                _rollback(con)
                if isinstance(exc, sqlite3.Error):
                    raise ProjectError(
                        f"{self.path}: could not save {sorted(items)}: {exc}"
                    ) from exc
                raise

    def write_side_table(self, write: Callable[[sqlite3.Connection], T]) -> T:
        """``write(con)`` in its own transaction, under the store's lock: for records kept
        beside the project that are not edits of it (the work record, never undone). A
        failure rolls the transaction back and is raised as :class:`ProjectError`; the
        project's own pending edits are not touched."""
        con = self._connection()
        self._check_file_still_there()
        with self._lock:
            try:
                con.execute("BEGIN IMMEDIATE")
                out = write(con)
                con.execute("COMMIT")
            except BaseException as exc:
                _rollback(con)
                if isinstance(exc, (sqlite3.Error, OverflowError)):
                    raise ProjectError(f"{self.path}: could not save a record: {exc}") from exc
                raise
        return out

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            raise ProjectError(f"{self.path}: the project store is closed")
        return self._con

    # -- closing --------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._con is None

    def close(self) -> None:
        """Write anything pending, detach from the project and close the file."""
        if self._con is None:
            return
        try:
            self.flush()
            if self._backup_every is not None and self._edited_since_backup:
                self.backup()
        except ProjectError:
            log.exception("%s: closing with unsaved edits", self.path)
        finally:
            self.project.changed.disconnect(self._on_changed)
            self.project.media_changed.disconnect(self._on_media_changed)
            with self._lock:
                self._con.close()
                self._con = None

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"ProjectStore({str(self.path)!r}, {state})"


# -- helpers ----------------------------------------------------------------------------


def _connect(path: Path, synchronous: Synchronous, *, check: bool = False) -> sqlite3.Connection:
    """Open ``path`` exclusively in WAL mode; with ``check``, refuse foreign/newer files
    before changing anything in them."""
    if synchronous not in ("NORMAL", "FULL"):
        raise ProjectError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
    try:
        con = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=_LOCK_TIMEOUT_S
        )
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: cannot open the project: {exc}") from exc
    try:
        # before the first access, so WAL uses no shared memory and the lock is held
        con.execute("PRAGMA locking_mode = EXCLUSIVE")
        if check:
            sc.check_version(con, path)
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ProjectError(f"{path}: the file system does not support SQLite's WAL mode")
        con.execute(f"PRAGMA synchronous = {synchronous}")
        # after a huge transaction (a tracking run) the WAL is truncated back at the next
        # checkpoint instead of keeping its peak size until the project is closed
        con.execute(f"PRAGMA journal_size_limit = {_WAL_SIZE_LIMIT}")
        # take the lock now (a write lock), so a second program fails here, not at its first edit
        con.execute("BEGIN IMMEDIATE")
        con.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        con.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise ProjectError(
                f"{path}: the project is already open (another tracker_annotate window, "
                f"or another store in this one); close it there first"
            ) from exc
        raise ProjectError(f"{path}: cannot open the project: {exc}") from exc
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # garbage text in page 1
        con.close()
        raise bk.damaged(path, str(exc)) from exc
    except BaseException:
        con.close()
        raise
    return con


def _ensure_not_in_use(path: Path) -> None:
    """Refuse to replace a project another program has open (its lock would be orphaned
    and its edits lost); otherwise merge any WAL left by a crash, so none is left behind."""
    if not path.is_file():
        return
    with path.open("rb") as fh:
        if fh.read(len(sc.SQLITE_HEADER)) != sc.SQLITE_HEADER:
            return
    _connect(path, "NORMAL").close()


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _rollback(con: sqlite3.Connection) -> None:
    try:
        if con.in_transaction:
            con.execute("ROLLBACK")
    except sqlite3.Error:
        log.exception("rollback failed")


def _remove_db_files(path: Path, *, keep_main: bool = False) -> None:
    names = ["-wal", "-shm", "-journal"] if keep_main else ["", "-wal", "-shm", "-journal"]
    for suffix in names:
        p = path.with_name(path.name + suffix)
        if p.exists():
            p.unlink()
