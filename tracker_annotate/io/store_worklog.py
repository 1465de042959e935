"""The work record in the project file: who worked, and every action with its time.

Schema v3 added two tables (:data:`WORKLOG_DDL`); a v2 file gets them from
:func:`migrate_add_worklog`, one self-contained migration step. The record is appended
only (a rowid table, in the order the actions happened), never rewritten, and never part
of an edit's transaction: :meth:`tracker_annotate.io.store.ProjectStore.write_side_table`
commits each batch in its own transaction, so a batch is in the file whole or not at all,
and the annotation is never touched by it.

Reading (:func:`read_worklog`) is columnar (NumPy arrays): a report over a hundred projects
reads a hundred thousand actions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.worklog import (
    KIND_CODES,
    KINDS_BY_CODE,
    SUBJECT_CODES,
    ActionKind,
    WorkAction,
    WorkSession,
)

WORKLOG_DDL = """
CREATE TABLE IF NOT EXISTS work_sessions (
    session     INTEGER PRIMARY KEY,
    annotator   TEXT NOT NULL,
    app_version TEXT NOT NULL,
    started     REAL NOT NULL       -- Unix seconds
);
CREATE TABLE IF NOT EXISTS work_actions (
    session     INTEGER NOT NULL,   -- work_sessions.session
    start       REAL NOT NULL,      -- Unix seconds
    duration    REAL NOT NULL,      -- seconds
    kind        INTEGER NOT NULL,   -- core.worklog.KIND_CODES
    track_id    INTEGER,            -- NULL: no box
    frame       INTEGER,            -- 0-based
    n_boxes     INTEGER NOT NULL,
    confidence  REAL,               -- the box's before the action
    flags_delta INTEGER NOT NULL,
    subject     INTEGER NOT NULL,   -- core.worklog.SUBJECT_CODES
    outcome     INTEGER             -- NULL, 0 ok, 1 wrong
);
"""

_OUTCOME_CODES = {None: None, "ok": 0, "wrong": 1}
INSERT_ACTION = (
    "INSERT INTO work_actions (session, start, duration, kind, track_id, frame, n_boxes, "
    "confidence, flags_delta, subject, outcome) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)


def migrate_add_worklog(con: sqlite3.Connection) -> None:
    """Schema v2 -> v3: the work record's tables (empty: nothing was recorded before)."""
    for stmt in WORKLOG_DDL.split(";"):
        if stmt.strip():
            con.execute(stmt)


def insert_session(con: sqlite3.Connection, session: WorkSession) -> int:
    """Add ``session`` (inside the caller's transaction); returns its id."""
    cur = con.execute(
        "INSERT INTO work_sessions (annotator, app_version, started) VALUES (?, ?, ?)",
        (session.annotator, session.app_version, float(session.started)),
    )
    return int(cur.lastrowid or 0)


def insert_actions(con: sqlite3.Connection, session_id: int, actions: Sequence[WorkAction]) -> None:
    """Append ``actions`` of session ``session_id`` (inside the caller's transaction)."""
    con.executemany(
        INSERT_ACTION,
        [
            (
                session_id,
                float(a.start),
                float(a.duration_s),
                KIND_CODES[a.kind],
                None if a.track_id is None else int(a.track_id),
                None if a.frame is None else int(a.frame),
                int(a.n_boxes),
                None if a.confidence is None else float(a.confidence),
                int(a.flags_delta),
                SUBJECT_CODES[a.subject],
                _OUTCOME_CODES[a.outcome],
            )
            for a in actions
        ],
    )


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class WorkLog:
    """A project's whole record as columns, one row per action in recorded order.

    ``annotator[i]`` is the name of row ``i``'s session; ``track_id``/``frame`` are -1 for
    an action on no box, ``confidence`` NaN when none was recorded, ``outcome`` -1 (none),
    0 (ok) or 1 (wrong). Kinds and subjects are the stored codes
    (:data:`~tracker_annotate.core.worklog.KIND_CODES`)."""

    session: IntArray
    annotator: npt.NDArray[np.str_]
    app_version: npt.NDArray[np.str_]
    start: FloatArray
    duration_s: FloatArray
    kind: IntArray
    track_id: IntArray
    frame: IntArray
    n_boxes: IntArray
    confidence: FloatArray
    flags_delta: IntArray
    subject: IntArray
    outcome: IntArray

    def __post_init__(self) -> None:
        n = len(self.kind)
        for name in self.__dataclass_fields__:
            if len(getattr(self, name)) != n:
                raise ProjectError(f"work record: column {name} has another length than kind")

    def __len__(self) -> int:
        return len(self.kind)

    def mask(self, *kinds: ActionKind) -> npt.NDArray[np.bool_]:
        """Rows of any of ``kinds``."""
        return np.isin(self.kind, [KIND_CODES[k] for k in kinds])

    def take(self, rows: npt.NDArray[np.bool_] | IntArray) -> WorkLog:
        """The rows selected by a boolean mask or an index array."""
        return WorkLog(**{n: getattr(self, n)[rows] for n in self.__dataclass_fields__})

    def kind_names(self) -> list[ActionKind]:
        return [KINDS_BY_CODE[int(k)] for k in self.kind]


def empty_worklog() -> WorkLog:
    i = np.zeros(0, np.int64)
    f = np.zeros(0, np.float64)
    s = np.zeros(0, dtype="<U1")
    return WorkLog(i, s, s, f, f, i, i, i, i, f, i, i, i)


def has_worklog(con: sqlite3.Connection) -> bool:
    row = con.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'work_actions'"
    ).fetchone()
    return bool(row[0])


def read_worklog(con: sqlite3.Connection, where: str) -> WorkLog:
    """The record of the project on ``con`` (empty for a file from before schema v3);
    :class:`ProjectError` naming ``where`` if a row is damaged."""
    if not has_worklog(con):
        return empty_worklog()
    sessions = {
        int(sid): (str(name), str(version))
        for sid, name, version in con.execute(
            "SELECT session, annotator, app_version FROM work_sessions"
        )
    }
    rows = con.execute(
        "SELECT session, start, duration, kind, COALESCE(track_id, -1), COALESCE(frame, -1), "
        "n_boxes, COALESCE(confidence, 'NaN'), flags_delta, subject, COALESCE(outcome, -1) "
        "FROM work_actions ORDER BY rowid"
    ).fetchall()
    if not rows:
        return empty_worklog()
    try:
        cols = list(zip(*rows, strict=True))
        ints = {
            n: np.asarray(cols[i], dtype=np.int64)
            for n, i in (
                ("session", 0),
                ("kind", 3),
                ("track_id", 4),
                ("frame", 5),
                ("n_boxes", 6),
                ("flags_delta", 8),
                ("subject", 9),
                ("outcome", 10),
            )
        }
        start = np.asarray(cols[1], dtype=np.float64)
        duration = np.asarray(cols[2], dtype=np.float64)
        confidence = np.asarray(cols[7], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"{where}: the work record is damaged ({exc})") from exc
    unknown = sorted(set(np.unique(ints["kind"]).tolist()) - set(KINDS_BY_CODE))
    if unknown:
        raise ProjectError(f"{where}: the work record holds unknown action codes {unknown}")
    missing = sorted(set(np.unique(ints["session"]).tolist()) - set(sessions))
    if missing:
        raise ProjectError(f"{where}: work record rows of sessions {missing} with no session")
    ids, inverse = np.unique(ints["session"], return_inverse=True)
    names = np.array([sessions[int(i)][0] for i in ids])[inverse]
    versions = np.array([sessions[int(i)][1] for i in ids])[inverse]
    return WorkLog(
        session=ints["session"],
        annotator=names,
        app_version=versions,
        start=start,
        duration_s=duration,
        kind=ints["kind"],
        track_id=ints["track_id"],
        frame=ints["frame"],
        n_boxes=ints["n_boxes"],
        confidence=confidence,
        flags_delta=ints["flags_delta"],
        subject=ints["subject"],
        outcome=ints["outcome"],
    )


def dump_rows(con: sqlite3.Connection) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every session and action row as stored (for :func:`load_rows` into another file)."""
    if not has_worklog(con):
        return [], []
    sessions = con.execute(
        "SELECT session, annotator, app_version, started FROM work_sessions"
    ).fetchall()
    actions = con.execute(
        "SELECT session, start, duration, kind, track_id, frame, n_boxes, confidence, "
        "flags_delta, subject, outcome FROM work_actions ORDER BY rowid"
    ).fetchall()
    return sessions, actions


def load_rows(
    con: sqlite3.Connection, rows: tuple[list[tuple[object, ...]], list[tuple[object, ...]]]
) -> None:
    """Append :func:`dump_rows`' rows to an empty record (inside the caller's transaction)."""
    sessions, actions = rows
    con.executemany(
        "INSERT INTO work_sessions (session, annotator, app_version, started) VALUES (?,?,?,?)",
        sessions,
    )
    con.executemany(INSERT_ACTION, actions)
