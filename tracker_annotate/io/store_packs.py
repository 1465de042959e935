"""Loading a project's boxes as columns: from the ``boxes`` rows, or from a packed copy.

The ``boxes`` table (one row per box) is the truth: every edit is a row upsert, so a
one-box edit commits in tens of microseconds and a crash keeps exactly the committed
edits. Reading a million rows back costs seconds of SQLite stepping, though, so each
track also has a *pack* in ``box_packs``: its rows as one blob of little-endian columns,
which NumPy reads without a Python object per box.

A pack is a cache of its track's rows, never their replacement:

* triggers on ``boxes`` (part of the file, so they fire for any writer: an older
  tracker_annotate, a script, a test tampering with rows) delete a track's pack in the
  same transaction as any change to its rows. A pack that exists therefore equals the
  rows; a track without one is loaded from its rows;
* :func:`refresh_packs` writes the missing packs from the rows (the store calls it when
  it closes), so the next open is fast again. A crash before that costs only speed;
* packs are validated like rows when read (:class:`BoxColumns` checks every field), so a
  damaged pack is refused like a damaged row.

Cost: ~54 bytes per box on disk besides the row's ~65, and the first edit of a track
after opening deletes that track's pack (frees its pages) inside the edit's commit.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tracker_annotate.core.boxes import BoxSource
from tracker_annotate.core.errors import BoxError, ProjectDamagedError, ProjectError
from tracker_annotate.core.track_boxes import (
    FLAGGED,
    OCCLUDED,
    OUTSIDE,
    SOURCE_CODES,
    SOURCES,
    VERIFIED,
    BoxColumns,
)

#: Version of the blob layout; a pack of another format is ignored (rows are read).
PACK_FORMAT = 1

PACKS_DDL = (
    """CREATE TABLE IF NOT EXISTS box_packs (
    track_id INTEGER PRIMARY KEY,
    format   INTEGER NOT NULL,   -- PACK_FORMAT
    n        INTEGER NOT NULL,   -- boxes
    reasons  TEXT NOT NULL,      -- JSON list: the flag reasons the reason column indexes
    data     BLOB NOT NULL       -- columns, little-endian: frame i8, x1 y1 x2 y2 f8 (row-
                                 -- major), confidence f8, reason i4, source u1, flags u1
)""",
    # a track's pack is valid while its row is here; a row of a one-page table is what an
    # edit deletes (deleting the pack itself would free its pages inside the edit's commit)
    "CREATE TABLE IF NOT EXISTS box_packs_valid (track_id INTEGER PRIMARY KEY)",
    """CREATE TRIGGER IF NOT EXISTS box_packs_on_insert AFTER INSERT ON boxes
BEGIN DELETE FROM box_packs_valid WHERE track_id = NEW.track_id; END""",
    """CREATE TRIGGER IF NOT EXISTS box_packs_on_update AFTER UPDATE ON boxes
BEGIN DELETE FROM box_packs_valid WHERE track_id IN (OLD.track_id, NEW.track_id); END""",
    """CREATE TRIGGER IF NOT EXISTS box_packs_on_delete AFTER DELETE ON boxes
BEGIN DELETE FROM box_packs_valid WHERE track_id = OLD.track_id; END""",
)
_VALID_PACKS = (
    "SELECT p.track_id, p.n, p.reasons, p.data FROM box_packs AS p "
    "JOIN box_packs_valid AS v ON v.track_id = p.track_id WHERE p.format = ?"
)

_ROWS = (
    "SELECT frame, x1, y1, x2, y2, source, confidence, flags FROM boxes "
    "WHERE track_id = ? ORDER BY frame"
)
_REASONS = (
    "SELECT frame, flag_reason FROM boxes WHERE track_id = ? AND flag_reason IS NOT NULL "
    "ORDER BY frame"
)


def ensure_schema(con: sqlite3.Connection) -> None:
    """Add the pack table and its triggers to a file that lacks them (no-op otherwise;
    an older file gets them on its first open, no schema version needed: a reader that
    does not know packs ignores the table, and its writes still fire the triggers)."""
    have = {
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'box_packs%'"
        ).fetchall()
    }
    if len(have) == len(PACKS_DDL):
        return
    con.execute("BEGIN IMMEDIATE")
    try:
        create_schema(con)
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise


def create_schema(con: sqlite3.Connection) -> None:
    """The pack table and triggers, inside the caller's transaction."""
    for stmt in PACKS_DDL:
        con.execute(stmt)


# -- file codes <-> in-memory codes ------------------------------------------------------


def _file_luts(
    file_sources: dict[BoxSource, int], file_bits: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables file code -> memory code and back, for sources and flag bits."""
    src_in = np.full(256, 255, dtype=np.uint8)
    src_out = np.zeros(len(SOURCES), dtype=np.uint8)
    for s, code in file_sources.items():
        src_in[code] = SOURCE_CODES[s]
        src_out[SOURCE_CODES[s]] = code
    mem = {"flagged": FLAGGED, "verified": VERIFIED, "occluded": OCCLUDED, "outside": OUTSIDE}
    flags_in = np.full(256, 255, dtype=np.uint8)
    flags_out = np.zeros(16, dtype=np.uint8)
    for v in range(16):
        m = sum(mem[k] for k, bit in file_bits.items() if v & bit)
        flags_in[v] = m
        flags_out[m] = v
    return src_in, src_out, flags_in, flags_out


class Codec:
    """Converts between the file's codes (``store_schema.SOURCE_CODES``/``FLAG_BITS``,
    fixed forever) and the in-memory ones."""

    def __init__(self, file_sources: dict[BoxSource, int], file_bits: dict[str, int]) -> None:
        self.src_in, self.src_out, self.flags_in, self.flags_out = _file_luts(
            file_sources, file_bits
        )

    # -- rows ----------------------------------------------------------------------------
    def from_rows(self, con: sqlite3.Connection, tid: int) -> BoxColumns:
        """Track ``tid``'s rows as columns (validated; :class:`BoxError` names the frame)."""
        try:
            flat = np.fromiter(
                itertools.chain.from_iterable(con.execute(_ROWS, (tid,))), dtype=np.float64
            )
        except (ValueError, TypeError) as exc:  # text or a blob where a number belongs
            raise BoxError(f"frame {_first_non_number(con, tid)}: {exc}") from exc
        a = flat.reshape(-1, 8)
        frame = a[:, 0].astype(np.int64)
        src, flags = a[:, 5], a[:, 7]
        bad = ~((src >= 0) & (src < 256) & (flags >= 0) & (flags < 16))
        bad |= (src != np.floor(src)) | (flags != np.floor(flags)) | (a[:, 0] != frame)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise BoxError(f"frame {a[i, 0]:g}: source {src[i]:g} or flags {flags[i]:g} unknown")
        reasons: dict[str, int] = {"": 0}
        reason = np.zeros(frame.shape[0], dtype=np.int32)
        rows = con.execute(_REASONS, (tid,)).fetchall()
        if rows:
            at = np.searchsorted(frame, np.array([f for f, _ in rows], dtype=np.int64))
            reason[at] = [reasons.setdefault(str(r), len(reasons)) for _, r in rows]
        return BoxColumns(
            frame,
            np.ascontiguousarray(a[:, 1:5]),
            self.src_in[src.astype(np.uint8)],
            np.ascontiguousarray(a[:, 6]),
            self.flags_in[flags.astype(np.uint8)],
            reason,
            tuple(reasons),
        )

    # -- packs ---------------------------------------------------------------------------
    def encode(self, cols: BoxColumns) -> tuple[int, str, bytes]:
        """``(n, reasons JSON, blob)`` of a pack row."""
        le = [
            cols.frame.astype("<i8"),
            cols.xyxy.astype("<f8"),
            cols.confidence.astype("<f8"),
            cols.reason.astype("<i4"),
            self.src_out[cols.source],
            self.flags_out[cols.flags],
        ]
        return len(cols), json.dumps(list(cols.reasons)), b"".join(a.tobytes() for a in le)

    def decode(self, n: int, reasons: str, data: bytes) -> BoxColumns:
        """The columns of a pack row (validated). ``ValueError`` on a malformed one."""
        if len(data) != 54 * n:
            raise ValueError(f"pack of {n} boxes has {len(data)} bytes, expected {54 * n}")
        names = json.loads(reasons)
        if not isinstance(names, list) or not all(isinstance(r, str) for r in names):
            raise ValueError("pack reasons are not a list of text")
        off = 0

        def take(dtype: str, count: int) -> np.ndarray:
            nonlocal off
            a = np.frombuffer(data, dtype=dtype, count=count, offset=off)
            off += a.nbytes
            return a

        frame = take("<i8", n).astype(np.int64, copy=False)
        xyxy = take("<f8", 4 * n).astype(np.float64, copy=False).reshape(n, 4)
        conf = take("<f8", n).astype(np.float64, copy=False)
        reason = take("<i4", n).astype(np.int32, copy=False)
        src = self.src_in[take("u1", n)]
        flags = self.flags_in[take("u1", n)]
        return BoxColumns(frame, xyxy, src, conf, flags, reason, tuple(names))


def _first_non_number(con: sqlite3.Connection, tid: int) -> object:
    for row in con.execute(_ROWS, (tid,)):
        if not all(isinstance(v, (int, float)) for v in row):
            return row[0]
    return "?"


def row_track_ids(con: sqlite3.Connection) -> list[int]:
    """Distinct ``track_id`` of the rows, by index seeks (one per track, not a scan)."""
    out: list[int] = []
    row = con.execute("SELECT MIN(track_id) FROM boxes").fetchone()
    while row is not None and row[0] is not None:
        out.append(int(row[0]))
        row = con.execute(
            "SELECT MIN(track_id) FROM boxes WHERE track_id > ?", (row[0],)
        ).fetchone()
    return out


def load_columns(
    con: sqlite3.Connection,
    codec: Codec,
    track_ids: Iterable[int],
    where: str,
    progress: Callable[[int, int], None] | None = None,
    *,
    every: int = 65_536,
) -> dict[int, BoxColumns]:
    """Every box of the file as columns per track: from its pack when it has a valid one,
    else from its rows. Raises :class:`ProjectDamagedError` naming the track (and frame)
    of a damaged box, and :class:`~tracker_annotate.core.errors.ProjectError` for rows
    of a track that does not exist."""
    wanted = set(track_ids)
    packed: dict[int, tuple[int, str, bytes]] = {
        int(t): (int(n), str(r), bytes(d))
        for t, n, r, d in con.execute(_VALID_PACKS, (PACK_FORMAT,))
    }
    with_rows = row_track_ids(con)
    orphans = sorted({t for t in with_rows if t not in wanted})
    if orphans:
        raise _orphans(where, orphans)
    counts = {t: packed[t][0] if t in packed else -1 for t in with_rows}
    total = 0
    if progress is not None:
        for t in with_rows:
            if counts[t] < 0:
                counts[t] = int(
                    con.execute("SELECT COUNT(*) FROM boxes WHERE track_id = ?", (t,)).fetchone()[0]
                )
        total = sum(counts.values())
        progress(0, total)
    out: dict[int, BoxColumns] = {}
    done = 0
    for tid in with_rows:
        try:
            if tid in packed:
                out[tid] = codec.decode(*packed[tid])
            else:
                out[tid] = codec.from_rows(con, tid)
        except (ValueError, TypeError, KeyError) as exc:  # BoxError is a ValueError
            raise ProjectDamagedError(
                f"{where}: track {tid} {_frame_of(exc)}is damaged: {exc!r}", path=where
            ) from exc
        if progress is not None:
            before, done = done, done + len(out[tid])
            for mark in range((before // every + 1) * every, min(done, total - 1) + 1, every):
                progress(mark, total)
    if progress is not None:
        progress(total, total)
    return out


def _frame_of(exc: BaseException) -> str:
    text = str(exc)
    return text.split(":", 1)[0] + " " if text.startswith("frame ") else ""


def _orphans(where: str, tids: list[int]) -> Exception:
    return ProjectError(f"{where}: boxes of tracks {tids[:10]} whose track is missing")


def stale_tracks(con: sqlite3.Connection) -> list[int]:
    """Tracks with rows and no valid pack (edited since packed, or never packed)."""
    valid = {int(r[0]) for r in con.execute("SELECT track_id FROM box_packs_valid")}
    return [t for t in row_track_ids(con) if t not in valid]


def refresh_packs(
    con: sqlite3.Connection, codec: Codec, columns: Callable[[int], BoxColumns | None]
) -> int:
    """Pack every track with rows and no valid pack, in one transaction; returns how many.

    ``columns(track_id)`` gives the track's columns when the caller holds exactly what
    the rows hold (the store after a successful flush: the project in memory); a track it
    does not know (``ProjectError``, or ``None``) is read from its rows. Packs of tracks
    without rows are dropped. A crash or an error here loses nothing: packs are a cache."""
    missing = stale_tracks(con)
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute(
            "DELETE FROM box_packs WHERE track_id NOT IN (SELECT track_id FROM box_packs_valid)"
        )
        write_packs(con, codec, ((t, _columns_or_rows(con, codec, columns, t)) for t in missing))
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    return len(missing)


def _columns_or_rows(
    con: sqlite3.Connection,
    codec: Codec,
    columns: Callable[[int], BoxColumns | None],
    tid: int,
) -> BoxColumns:
    try:
        cols = columns(tid)
    except ProjectError:
        cols = None
    return cols if cols is not None else codec.from_rows(con, tid)


def write_packs(
    con: sqlite3.Connection, codec: Codec, items: Iterable[tuple[int, BoxColumns]]
) -> None:
    """Insert (or replace) packs and mark them valid, inside the caller's transaction."""
    rows: list[tuple[Any, ...]] = []
    for tid, cols in items:
        if len(cols):
            rows.append((tid, PACK_FORMAT, *codec.encode(cols)))
    con.executemany(
        "INSERT OR REPLACE INTO box_packs (track_id, format, n, reasons, data) "
        "VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    con.executemany(
        "INSERT OR IGNORE INTO box_packs_valid (track_id) VALUES (?)", [(r[0],) for r in rows]
    )
