"""The on-disk layout of a ``.taproj`` project file, and the checks that recognise one.

A project is a SQLite database:

* ``PRAGMA application_id`` = :data:`APPLICATION_ID` ("TAPR") marks it as ours, so a foreign
  SQLite file is refused instead of being written into;
* ``PRAGMA user_version`` = :data:`SCHEMA_VERSION`; older files are migrated by
  :data:`MIGRATIONS`, newer ones refused with a message saying to upgrade;
* ``meta`` (key -> JSON text): the media reference, the next track id, the UI state, and
  :data:`STALE_KEY`, the stretches an edit left awaiting their re-track (no schema change:
  an older reader ignores the key);
* ``labels``, ``tracks`` and ``boxes``: the model, one row per object.

:func:`write_project` and :func:`load_project` move a whole project between the file and
memory; the store writes edits row by row with the ``UPSERT_*``/``DELETE_*`` statements.

Boxes are the bulk (a long video holds millions), so each is one compact row of typed
columns in a ``WITHOUT ROWID`` table clustered on ``(track_id, frame)``: a track's boxes are
contiguous on disk, loading is one sequential scan, and an edit is a B-tree upsert. The
source is a small integer (:data:`SOURCE_CODES`, fixed forever: never reorder) and the four
booleans share one ``flags`` bit field (:data:`FLAG_BITS`); ``flag_reason`` is NULL unless
the box is flagged, which costs nothing for the common case.

Opening reads each track's *pack* instead of its rows when the pack is valid: a blob of the
rows as columns, kept honest by triggers on ``boxes`` (:mod:`.store_packs`). The rows stay
the truth; the pack tables need no schema version (a reader without them ignores them).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracker_annotate import __version__
from tracker_annotate.core.boxes import BoxSource, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.core.track_boxes import BoxColumns, TrackBoxes
from tracker_annotate.io import store_packs as sp
from tracker_annotate.io.store_audit import (
    AUDIT_DDL,
    load_quality,
    migrate_add_audit,
    write_quality,
)
from tracker_annotate.io.store_recal import RECAL_DDL, migrate_add_recal
from tracker_annotate.io.store_worklog import WORKLOG_DDL, migrate_add_worklog

log = logging.getLogger(__name__)

#: ``PRAGMA application_id`` of a project: the ASCII bytes "TAPR" as a big-endian int32.
APPLICATION_ID = int.from_bytes(b"TAPR", "big")
#: Current schema version (``PRAGMA user_version``). Bump it and add a migration together.
#: v2 (issue 10): the audit tables of :mod:`tracker_annotate.io.store_audit`.
#: v3 (issue 20): the work record's tables of :mod:`tracker_annotate.io.store_worklog`.
#: v4 (issue 18): the review outcomes of :mod:`tracker_annotate.io.store_recal`.
SCHEMA_VERSION = 4
#: Suffixes a project file may have; the first is what the GUI proposes.
PROJECT_SUFFIXES = (".taproj", ".sqlite")

SQLITE_HEADER = b"SQLite format 3\x00"

#: Stored code of each box source. Codes are part of the file format: append, never reorder.
SOURCE_CODES: dict[BoxSource, int] = {
    BoxSource.MANUAL: 0,
    BoxSource.TRACKED: 1,
    BoxSource.INTERPOLATED: 2,
    BoxSource.IMPORTED: 3,
}
SOURCES_BY_CODE: tuple[BoxSource, ...] = tuple(sorted(SOURCE_CODES, key=lambda s: SOURCE_CODES[s]))

#: Bit of each boolean FrameBox field in the ``flags`` column (file format: never renumber).
FLAG_BITS = {"flagged": 1, "verified": 2, "occluded": 4, "outside": 8}
_FLAGGED, _VERIFIED, _OCCLUDED, _OUTSIDE = 1, 2, 4, 8

DDL = (
    """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL            -- JSON
);
CREATE TABLE labels (
    name TEXT PRIMARY KEY,
    ord  INTEGER NOT NULL,         -- display order (the project's insertion order)
    r INTEGER NOT NULL, g INTEGER NOT NULL, b INTEGER NOT NULL
);
CREATE TABLE tracks (
    track_id INTEGER PRIMARY KEY,
    label    TEXT NOT NULL,
    name     TEXT NOT NULL,
    hidden   INTEGER NOT NULL,
    proposed INTEGER NOT NULL
);
CREATE TABLE boxes (
    track_id    INTEGER NOT NULL,
    frame       INTEGER NOT NULL,  -- 0-based
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,  -- xyxy pixels
    source      INTEGER NOT NULL,  -- SOURCE_CODES
    confidence  REAL NOT NULL,
    flags       INTEGER NOT NULL,  -- FLAG_BITS
    flag_reason TEXT,              -- NULL unless flagged
    PRIMARY KEY (track_id, frame)
) WITHOUT ROWID;
"""
    + AUDIT_DDL
    + WORKLOG_DDL
    + RECAL_DDL
)

BOX_COLUMNS = "track_id, frame, x1, y1, x2, y2, source, confidence, flags, flag_reason"
UPSERT_BOX = f"INSERT OR REPLACE INTO boxes ({BOX_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
DELETE_BOX = "DELETE FROM boxes WHERE track_id = ? AND frame = ?"
UPSERT_TRACK = (
    "INSERT OR REPLACE INTO tracks (track_id, label, name, hidden, proposed) VALUES (?,?,?,?,?)"
)
DELETE_TRACK = "DELETE FROM tracks WHERE track_id = ?"
DELETE_TRACK_BOXES = "DELETE FROM boxes WHERE track_id = ?"
# an existing label keeps its position; a new one goes last, like the project's dict
UPSERT_LABEL = (
    "INSERT INTO labels (name, ord, r, g, b) "
    "VALUES (?1, (SELECT COALESCE(MAX(ord), -1) + 1 FROM labels), ?2, ?3, ?4) "
    "ON CONFLICT(name) DO UPDATE SET r = excluded.r, g = excluded.g, b = excluded.b"
)
DELETE_LABEL = "DELETE FROM labels WHERE name = ?"
SET_LABEL_ORD = "UPDATE labels SET ord = ? WHERE name = ?"
SET_META = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
#: ``meta`` key of :attr:`Project.stale`: a JSON list of ``[track_id, frame]``, sorted.
STALE_KEY = "stale_retracks"


def stale_to_json(stale: frozenset[tuple[int, int]]) -> str:
    return json.dumps(sorted([int(t), int(f)] for t, f in stale))


def stale_from_json(text: str | None, where: str) -> set[tuple[int, int]]:
    """The stale marks. A damaged record is dropped with a warning: it holds no annotation,
    and losing it costs only the flag on a stretch, never a box."""
    if not text:
        return set()
    try:
        items = json.loads(text)
        return {(int(t), int(f)) for t, f in items if int(f) >= 0}
    except (ValueError, TypeError):
        log.warning("%s: ignoring damaged stale-stretch marks", where)
        return set()


# -- rows <-> model ---------------------------------------------------------------------


def box_row(track_id: int, box: FrameBox) -> tuple[Any, ...]:
    """The ``boxes`` row of ``box`` (see :data:`BOX_COLUMNS`). Numbers are cast to Python
    types: a tracker may hand over NumPy scalars (float32 has no SQLite binding)."""
    b = box.xyxy
    flags = (
        (_FLAGGED if box.flagged else 0)
        | (_VERIFIED if box.verified else 0)
        | (_OCCLUDED if box.occluded else 0)
        | (_OUTSIDE if box.outside else 0)
    )
    return (
        int(track_id),
        int(box.frame),
        float(b.x1),
        float(b.y1),
        float(b.x2),
        float(b.y2),
        SOURCE_CODES[box.source],
        float(box.confidence),
        flags,
        box.flag_reason if box.flagged else None,
    )


def column_rows(track_id: int, cols: BoxColumns) -> list[tuple[Any, ...]]:
    """The ``boxes`` rows of a track's columns (what :func:`box_row` gives per box)."""
    src = CODEC.src_out[cols.source].tolist()
    flags = CODEC.flags_out[cols.flags].tolist()
    flagged = cols.flagged.tolist()
    x1, y1, x2, y2 = cols.xyxy.T.tolist()
    reasons = [cols.reason_of(i) if f else None for i, f in enumerate(flagged)]
    return list(
        zip(
            itertools.repeat(int(track_id)),
            cols.frame.tolist(),
            x1,
            y1,
            x2,
            y2,
            src,
            cols.confidence.tolist(),
            flags,
            reasons,
            strict=False,
        )
    )


def track_row(info: TrackInfo) -> tuple[Any, ...]:
    return (info.track_id, info.label, info.name, int(info.hidden), int(info.proposed))


def label_row(label: Label) -> tuple[Any, ...]:
    r, g, b = label.color
    return (label.name, int(r), int(g), int(b))


def write_changes(
    con: sqlite3.Connection,
    project: Project,
    *,
    boxes: set[tuple[int, int]],
    tracks: set[int],
    labels: set[str],
) -> None:
    """Write the current state of the touched boxes, tracks and labels (a deleted one is
    deleted), inside the caller's transaction. Labels are written in sorted order and then
    all get their place (``ord``) from the project's order, so a rename keeps its place,
    an undo restores it, and a set's iteration order never reaches the file."""
    for name in sorted(labels):
        lab = project.labels.get(name)
        if lab is None:
            con.execute(DELETE_LABEL, (name,))
        else:
            con.execute(UPSERT_LABEL, label_row(lab))
    if labels:
        con.executemany(SET_LABEL_ORD, [(i, n) for i, n in enumerate(project.labels)])
    for tid in sorted(tracks):
        info = project.tracks.get(tid)
        if info is None:
            con.execute(DELETE_TRACK, (tid,))
            con.execute(DELETE_TRACK_BOXES, (tid,))
        else:
            con.execute(UPSERT_TRACK, track_row(info))
    upserts = []
    deletes = []
    for tid, frame in sorted(boxes):
        box = project.box(tid, frame)
        if box is None:
            deletes.append((tid, frame))
        else:
            upserts.append(box_row(tid, box))
    if deletes:
        con.executemany(DELETE_BOX, deletes)
    if upserts:
        con.executemany(UPSERT_BOX, upserts)


def media_to_json(media: MediaRef | None, project_dir: Path) -> str:
    """The media reference as JSON, with the path also relative to the project's folder,
    so a project moved together with its video still finds it."""
    if media is None:
        return "null"
    d: dict[str, Any] = {
        "path": media.path,
        "n_frames": media.n_frames,
        "width": media.width,
        "height": media.height,
        "fps": media.fps,
        "fingerprint": media.fingerprint,
    }
    rel = media_relpath(media, project_dir)
    if rel is not None:
        d["relpath"] = rel
    return json.dumps(d)


def media_relpath(media: MediaRef | None, project_dir: Path) -> str | None:
    """The media's path relative to the project's folder (POSIX style), if one exists."""
    if media is None:
        return None
    try:
        rel = os.path.relpath(Path(media.path).absolute(), project_dir.absolute())
    except ValueError:  # another drive on Windows: no relative path exists
        return None
    return Path(rel).as_posix()


def media_from_json(text: str, where: str) -> tuple[MediaRef | None, str | None]:
    """``(media, relpath)`` from :func:`media_to_json`'s output."""
    try:
        d = json.loads(text)
        if d is None:
            return None, None
        media = MediaRef(
            path=str(d["path"]),
            n_frames=int(d["n_frames"]),
            width=int(d["width"]),
            height=int(d["height"]),
            fps=float(d["fps"]),
            fingerprint=str(d.get("fingerprint", "")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"{where}: the media record is damaged ({exc})") from exc
    rel = d.get("relpath")
    return media, (str(rel) if rel else None)


#: Loading reports progress every this many boxes.
PROGRESS_EVERY = 65_536
#: Converts the file's source codes and flag bits to the in-memory columns' and back.
CODEC = sp.Codec(SOURCE_CODES, FLAG_BITS)


# -- whole project <-> file --------------------------------------------------------------


def write_project(con: sqlite3.Connection, project: Project, project_dir: Path) -> None:
    """Insert the whole project into an empty schema (inside the caller's transaction)."""
    con.executemany(
        "INSERT INTO labels (name, ord, r, g, b) VALUES (?, ?, ?, ?, ?)",
        [(name, i, *label_row(lab)[1:]) for i, (name, lab) in enumerate(project.labels.items())],
    )
    tids = sorted(project.tracks)
    con.executemany(UPSERT_TRACK, [track_row(project.tracks[t]) for t in tids])
    for tid in tids:  # in key order: B-tree appends instead of page splits
        con.executemany(UPSERT_BOX, column_rows(tid, project.columns(tid)))
    sp.create_schema(con)
    sp.write_packs(con, CODEC, ((t, project.columns(t)) for t in tids))
    con.executemany(
        SET_META,
        [
            ("app", json.dumps("tracker_annotate")),
            ("app_version", json.dumps(__version__)),
            ("media", media_to_json(project.media, project_dir)),
            ("next_track_id", json.dumps(project.next_track_id)),
            (STALE_KEY, stale_to_json(project.stale)),
        ],
    )
    write_quality(con, project.quality)


def load_project(
    con: sqlite3.Connection,
    path: Path,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Project, str | None]:
    """Read the whole project; returns it and the media path relative to the project
    folder as recorded (for finding media moved together with the project).
    ``progress(done, total)`` counts boxes."""
    where = str(path)
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    media, relpath = media_from_json(meta.get("media", "null"), where)
    labels = [
        Label(name, (r, g, b))
        for name, r, g, b in con.execute("SELECT name, r, g, b FROM labels ORDER BY ord").fetchall()
    ]
    project = Project(media, labels)
    tracks: dict[int, TrackInfo] = {}
    for tid, label, name, hidden, proposed in con.execute(
        "SELECT track_id, label, name, hidden, proposed FROM tracks ORDER BY track_id"
    ).fetchall():
        if label not in project.labels:
            raise ProjectError(f"{where}: track {tid} has label {label!r}, which is not defined")
        tracks[tid] = TrackInfo(tid, label, name, bool(hidden), bool(proposed))
    boxes = sp.load_columns(con, CODEC, tracks, where, progress, every=PROGRESS_EVERY)
    try:
        next_id = int(json.loads(meta.get("next_track_id", "1")))
    except (ValueError, TypeError):
        next_id = 1
    _fill_project_unchecked(project, tracks, boxes, next_id)
    project._quality = load_quality(con, where)  # loading is not an edit (see below)
    project._stale = {(t, f) for t, f in stale_from_json(meta.get(STALE_KEY), where) if t in tracks}
    return project, relpath


def _fill_project_unchecked(
    project: Project,
    tracks: dict[int, TrackInfo],
    boxes: dict[int, BoxColumns],
    next_track_id: int,
) -> None:
    """Install loaded tracks and boxes straight into a fresh project's internals.

    Deliberately bypasses :meth:`Project.edit`: loading is not an undoable edit, must not
    emit ``changed`` (which would write a million rows back), and the Transaction path costs
    several times more per box. Each track's columns were validated as a whole
    (:class:`BoxColumns`) and every track's label checked, so the project's invariants hold.
    """
    project._tracks = dict(tracks)
    project._boxes = {tid: TrackBoxes(boxes.get(tid)) for tid in tracks}
    project._next_track_id = max([next_track_id, 1, *(t + 1 for t in tracks)])


# -- recognising and upgrading ----------------------------------------------------------


def check_header(path: Path) -> None:
    """Refuse a missing, empty or non-SQLite file before SQLite touches it."""
    expected = f"expected a tracker_annotate project ({' or '.join(PROJECT_SUFFIXES)})"
    if not path.exists():
        raise ProjectError(f"{path}: no such file; {expected}")
    if path.is_dir():
        raise ProjectError(f"{path}: is a folder; {expected}")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise ProjectError(f"{path}: cannot be read ({exc}); {expected}") from exc
    if not head:
        raise ProjectError(f"{path}: the file is empty; {expected}")
    if head != SQLITE_HEADER:
        raise ProjectError(f"{path}: not an SQLite database; {expected}")


#: ``MIGRATIONS[v]`` upgrades a file from schema ``v`` to ``v + 1`` inside a transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: migrate_add_audit,
    2: migrate_add_worklog,
    3: migrate_add_recal,
}


def check_version(con: sqlite3.Connection, path: Path) -> None:
    """Refuse foreign and newer files; migrate older ones (in one transaction)."""
    app_id = con.execute("PRAGMA application_id").fetchone()[0]
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if app_id != APPLICATION_ID:
        raise ProjectError(
            f"{path}: an SQLite database but not a tracker_annotate project "
            f"(application_id {app_id:#x}, expected {APPLICATION_ID:#x})"
        )
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"{path}: written by a newer tracker_annotate (project schema v{version}; this "
            f"version reads up to v{SCHEMA_VERSION}); upgrade tracker_annotate to open it"
        )
    if version == SCHEMA_VERSION:
        return
    missing = [v for v in range(version, SCHEMA_VERSION) if v not in MIGRATIONS]
    if missing:
        raise ProjectError(
            f"{path}: project schema v{version} is too old to migrate "
            f"(this version reads v{SCHEMA_VERSION}; no upgrade from v{missing[0]})"
        )
    with con:
        for v in range(version, SCHEMA_VERSION):
            MIGRATIONS[v](con)
            con.execute(f"PRAGMA user_version = {v + 1}")
