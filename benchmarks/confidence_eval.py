"""Figures of a confidence beyond ROC-AUC and ECE: log-loss and failure runs."""

from __future__ import annotations

import numpy as np


def log_loss(conf: np.ndarray, right: np.ndarray, eps: float = 1e-4) -> float:
    """Mean negative log-likelihood of ``right`` under P(right) = ``conf`` (clipped)."""
    p = np.clip(np.asarray(conf, dtype=np.float64), eps, 1.0 - eps)
    r = np.asarray(right, dtype=bool)
    if not len(p):
        return float("nan")
    return float(-np.mean(np.where(r, np.log(p), np.log(1.0 - p))))


def paths(kind: np.ndarray, tid: np.ndarray, frame: np.ndarray) -> list[np.ndarray]:
    """Row indices of each path: consecutive frames of one track in one seeding (``kind``),
    in frame order."""
    order = np.lexsort((frame, tid, kind))
    if not len(order):
        return []
    k, t, f = kind[order], tid[order], frame[order]
    breaks = np.flatnonzero((k[1:] != k[:-1]) | (t[1:] != t[:-1]) | (f[1:] != f[:-1] + 1)) + 1
    return np.split(order, breaks)


def failure_runs(
    kind: np.ndarray, tid: np.ndarray, frame: np.ndarray, wrong: np.ndarray, flagged: np.ndarray
) -> tuple[int, int]:
    """``(runs, caught)``: runs of consecutive wrong boxes of one track in one seeding
    (``kind``), and how many of them hold at least one flagged box (one correction there
    fixes the run, as the tracker re-tracks from it)."""
    wrong, flagged = np.asarray(wrong, dtype=bool), np.asarray(flagged, dtype=bool)
    runs = caught = 0
    for idx in paths(kind, tid, frame):
        w, fl = wrong[idx], flagged[idx]
        # a run starts where a wrong box follows a right one (or the path's start)
        starts = w & ~np.concatenate([[False], w[:-1]])
        run_id = np.cumsum(starts)
        for r in range(1, int(starts.sum()) + 1):
            runs += 1
            caught += int(fl[w & (run_id == r)].any())
    return runs, caught
