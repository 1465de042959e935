"""The recalibration in the project file: every review outcome, and the last fit applied.

Schema v4 added the ``review_outcomes`` table (:data:`RECAL_DDL`) and the ``meta`` key
``recalibration``; a v3 file gets them from :func:`migrate_add_recal`, one self-contained
step. The outcomes are the source of truth (the fit is recomputed from them, the same
each time); the stored fit says what the last run did. Like the audit, the state is
rewritten with the quality state, in the same SQLite transaction as the edit's boxes.
"""

from __future__ import annotations

import json
import sqlite3

from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.recal_state import SELECTIONS, RecalState, ReviewOutcome

RECAL_DDL = """
CREATE TABLE IF NOT EXISTS review_outcomes (
    ord        INTEGER PRIMARY KEY, -- oldest first
    track_id   INTEGER NOT NULL,
    frame      INTEGER NOT NULL,    -- 0-based
    confidence REAL NOT NULL,       -- the engine's, when judged
    right      INTEGER NOT NULL,    -- 1 accepted / audit ok, 0 corrected / rejected / wrong
    selection  TEXT NOT NULL,       -- 'flag', 'audit' or 'other'
    inclusion  REAL NOT NULL,       -- probability the box had of being shown
    reason     TEXT NOT NULL        -- flag reason or audit stratum
);
"""
#: ``meta`` key of the last recalibration applied (JSON object, absent when none).
RECAL_KEY = "recalibration"


def migrate_add_recal(con: sqlite3.Connection) -> None:
    """Schema v3 -> v4: the review outcomes table (no recalibration yet)."""
    con.execute(RECAL_DDL)


def write_recal(
    con: sqlite3.Connection, reviews: tuple[ReviewOutcome, ...], state: RecalState | None
) -> None:
    """Replace the stored outcomes and fit (inside the caller's transaction)."""
    con.execute("DELETE FROM review_outcomes")
    con.executemany(
        "INSERT INTO review_outcomes (ord, track_id, frame, confidence, right, selection, "
        "inclusion, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                i,
                int(o.track_id),
                int(o.frame),
                float(o.confidence),
                int(o.right),
                o.selection,
                float(o.inclusion),
                o.reason,
            )
            for i, o in enumerate(reviews)
        ],
    )
    if state is None:
        con.execute("DELETE FROM meta WHERE key = ?", (RECAL_KEY,))
        return
    d = {
        "a": state.a,
        "b": state.b,
        "support": [state.support_lo, state.support_hi],
        "labels": state.labels,
        "wrong": state.wrong,
        "audit_labels": state.audit_labels,
        "threshold": state.threshold,
        "flagged": state.flagged,
        "lifted": state.lifted,
        "flagged_total": state.flagged_total,
        "direction": state.direction,
        "a_hi": state.a_hi,
        "b_hi": state.b_hi,
        "hi_support": [state.hi_support_lo, state.hi_support_hi],
        "knot": state.knot,
    }
    con.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (RECAL_KEY, json.dumps(d))
    )


def load_recal(
    con: sqlite3.Connection, where: str
) -> tuple[tuple[ReviewOutcome, ...], RecalState | None]:
    """The stored outcomes and fit; :class:`ProjectError` naming the file and row if
    damaged."""
    reviews = []
    for ord_i, tid, frame, conf, right, selection, inclusion, reason in con.execute(
        "SELECT ord, track_id, frame, confidence, right, selection, inclusion, reason "
        "FROM review_outcomes ORDER BY ord"
    ):
        if selection not in SELECTIONS or right not in (0, 1):
            raise ProjectError(
                f"{where}: review outcome {ord_i} is damaged (selection {selection!r}, "
                f"right {right!r}; expected one of {SELECTIONS} and 0 or 1)"
            )
        reviews.append(ReviewOutcome(tid, frame, conf, bool(right), selection, inclusion, reason))
    row = con.execute("SELECT value FROM meta WHERE key = ?", (RECAL_KEY,)).fetchone()
    state = None
    if row is not None:
        try:
            d = json.loads(row[0])
            lo, hi = d["support"]
            state = RecalState(
                float(d["a"]),
                float(d["b"]),
                float(lo),
                float(hi),
                int(d["labels"]),
                int(d["wrong"]),
                int(d["audit_labels"]),
                float(d["threshold"]),
                int(d["flagged"]),
                int(d["lifted"]),
                int(d["flagged_total"]),
                d["direction"],
                float(d.get("a_hi", 0.0)),
                float(d.get("b_hi", 1.0)),
                float(d.get("hi_support", [0.5, 0.5])[0]),
                float(d.get("hi_support", [0.5, 0.5])[1]),
                float(d.get("knot", 0.5)),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise ProjectError(f"{where}: the recalibration record is damaged ({exc})") from exc
    return tuple(reviews), state
