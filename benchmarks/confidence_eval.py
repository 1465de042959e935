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


def failure_runs(
    kind: np.ndarray, tid: np.ndarray, frame: np.ndarray, wrong: np.ndarray, flagged: np.ndarray
) -> tuple[int, int]:
    """``(runs, caught)``: runs of consecutive wrong boxes of one track in one seeding
    (``kind``), and how many of them hold at least one flagged box (one correction there
    fixes the run, as the tracker re-tracks from it)."""
    order = np.lexsort((frame, tid, kind))
    k, t, f = kind[order], tid[order], frame[order]
    w, fl = np.asarray(wrong)[order], np.asarray(flagged)[order]
    runs = caught = 0
    in_run = False
    hit = False
    for i in range(len(order)):
        cont = i > 0 and k[i] == k[i - 1] and t[i] == t[i - 1] and f[i] == f[i - 1] + 1
        if w[i] and in_run and cont:
            hit = hit or bool(fl[i])
            continue
        if in_run:
            runs += 1
            caught += int(hit)
        in_run = bool(w[i])
        hit = bool(fl[i]) if in_run else False
    if in_run:
        runs += 1
        caught += int(hit)
    return runs, caught
