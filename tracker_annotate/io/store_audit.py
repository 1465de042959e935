"""The quality state in the project file: target, flag threshold, audit rounds, outcomes.

Schema v2 added two tables (:data:`AUDIT_DDL`) and the ``meta`` key ``quality``; a v1 file
gets them from :func:`migrate_add_audit`, one self-contained migration step. The audit
is small (hundreds of samples), so the whole state is rewritten on each change, in the
same SQLite transaction as the boxes of the edit.
"""

from __future__ import annotations

import json
import sqlite3

from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.quality import (
    DEFAULT_TARGET,
    OUTCOMES,
    AuditRound,
    AuditSample,
    DatasetFigures,
    QualityState,
    Stratum,
)
from tracker_annotate.io.store_recal import load_recal, write_recal

AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS audit_rounds (
    round     INTEGER PRIMARY KEY, -- 0-based, oldest first (the last one is current)
    seed      INTEGER NOT NULL,
    threshold REAL NOT NULL,       -- flag threshold in force when drawn
    n_boxes   INTEGER NOT NULL,    -- visible boxes when drawn (the residual's denominator)
    strata    TEXT NOT NULL        -- JSON [[name, lo, hi, population], ...]
);
CREATE TABLE IF NOT EXISTS audit_samples (
    round    INTEGER NOT NULL,
    ord      INTEGER NOT NULL,     -- walk order
    track_id INTEGER NOT NULL,
    frame    INTEGER NOT NULL,     -- 0-based
    stratum  INTEGER NOT NULL,     -- index into the round's strata
    outcome  INTEGER,              -- NULL unchecked, 0 ok, 1 wrong
    PRIMARY KEY (round, ord)
) WITHOUT ROWID;
"""

_OUTCOME_CODES = {None: None, "ok": 0, "wrong": 1}
_OUTCOMES_BY_CODE = {0: "ok", 1: "wrong", None: None}


def migrate_add_audit(con: sqlite3.Connection) -> None:
    """Schema v1 -> v2: the audit tables (``meta.quality`` defaults when absent)."""
    for stmt in AUDIT_DDL.split(";"):
        if stmt.strip():
            con.execute(stmt)


def write_quality(con: sqlite3.Connection, q: QualityState) -> None:
    """Replace the stored quality state with ``q`` (inside the caller's transaction)."""
    write_recal(con, q.reviews, q.recal)
    con.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('quality', ?)",
        (json.dumps(_quality_meta(q)),),
    )
    con.execute("DELETE FROM audit_samples")
    con.execute("DELETE FROM audit_rounds")
    for i, rnd in enumerate(q.rounds):
        strata = [[s.name, s.lo, s.hi, s.population] for s in rnd.strata]
        con.execute(
            "INSERT INTO audit_rounds (round, seed, threshold, n_boxes, strata) "
            "VALUES (?, ?, ?, ?, ?)",
            (i, int(rnd.seed), float(rnd.threshold), int(rnd.n_boxes), json.dumps(strata)),
        )
        con.executemany(
            "INSERT INTO audit_samples (round, ord, track_id, frame, stratum, outcome) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (i, j, int(s.track_id), int(s.frame), int(s.stratum), _OUTCOME_CODES[s.outcome])
                for j, s in enumerate(rnd.samples)
            ],
        )


def _quality_meta(q: QualityState) -> dict[str, object]:
    d: dict[str, object] = {"target": q.target, "threshold": q.threshold}
    if q.dataset is not None:  # absent, not null, when unset: older readers see no change
        d["dataset"] = q.dataset.as_dict()
    return d


def load_quality(con: sqlite3.Connection, where: str) -> QualityState:
    """The stored quality state; :class:`ProjectError` naming the file (and the round or
    sample) if damaged."""
    try:
        return _load_quality(con, where)
    except ProjectError as exc:
        if where in str(exc):
            raise
        raise ProjectError(f"{where}: the audit record is damaged: {exc}") from exc


def _load_quality(con: sqlite3.Connection, where: str) -> QualityState:
    row = con.execute("SELECT value FROM meta WHERE key = 'quality'").fetchone()
    try:
        d = json.loads(row[0]) if row is not None else {}
        target = float(d.get("target", DEFAULT_TARGET))
        thr = d.get("threshold")
        threshold = None if thr is None else float(thr)
        dataset = DatasetFigures.from_dict(d["dataset"]) if "dataset" in d else None
    except (ValueError, TypeError, AttributeError) as exc:
        raise ProjectError(f"{where}: the quality record is damaged ({exc})") from exc
    samples: dict[int, list[AuditSample]] = {}
    for rnd_i, ord_i, tid, frame, stratum, code in con.execute(
        "SELECT round, ord, track_id, frame, stratum, outcome FROM audit_samples "
        "ORDER BY round, ord"
    ):
        if code not in _OUTCOMES_BY_CODE:
            raise ProjectError(
                f"{where}: audit round {rnd_i} sample {ord_i} has outcome code {code!r}; "
                f"expected NULL, 0 or 1 ({', '.join(OUTCOMES)})"
            )
        samples.setdefault(rnd_i, []).append(
            AuditSample(tid, frame, stratum, _OUTCOMES_BY_CODE[code])  # type: ignore[arg-type]
        )
    rounds: list[AuditRound] = []
    for rnd_i, seed, thr_r, n_boxes, strata_json in con.execute(
        "SELECT round, seed, threshold, n_boxes, strata FROM audit_rounds ORDER BY round"
    ):
        try:
            strata = tuple(
                Stratum(str(n), float(lo), float(hi), int(pop))
                for n, lo, hi, pop in json.loads(strata_json)
            )
        except (ValueError, TypeError) as exc:
            raise ProjectError(
                f"{where}: audit round {rnd_i}'s strata are damaged ({exc})"
            ) from exc
        rounds.append(AuditRound(seed, thr_r, n_boxes, strata, tuple(samples.pop(rnd_i, []))))
    if samples:
        raise ProjectError(f"{where}: audit samples of rounds {sorted(samples)} with no round")
    reviews, recal = load_recal(con, where)
    return QualityState(target, threshold, tuple(rounds), dataset, reviews, recal)
