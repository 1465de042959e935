"""A confidence that generalises: box evidence -> P(box is right), fitted, then calibrated.

NanoTrack's own score does not predict its failures, so a derived box's confidence comes
from independent evidence, each a column of :data:`FEATURES`:

* committee disagreement: the back-end's box against a one-step LK median-flow box
  (``lk_iou``), against the Kalman prediction (``pred_iou``, the innovation) and, between
  keyframes, against the straight line (``lin_iou``);
* forward/backward consistency between keyframes (``fb_iou``) and whether the passes reached
  the far keyframe (``reach``);
* similarity to the keyframes (``app``, NCC), how far the box is from one (``log_age``) and
  how much it grew or shrank (``size_change``);
* the image border (``vis``), coasting (``coasted``) and the back-end's own score;
* the largest overlap (IoU) with another track's box on the frame (``overlap``: in a crowd
  that is where identities switch), and how far the box moved from its nearest keyframe,
  in box sizes (``motion``);
* the pass's memory: the largest recent committee alarm, decaying (``alarm``: a tracker
  that jumped onto a look-alike looks consistent again a frame later), and how far NCC to
  the keyframes fell since the pass's first frames (``app_drop``).

:class:`ConfidenceModel` is a logistic regression on standardised features followed by an
isotonic map (pool-adjacent-violators) from its score to the observed share of right boxes,
so "confidence c" means about a share 1 - c of such boxes are wrong (IoU < 0.5). The
coefficients ship as ``confidence_model.json`` beside this file; they are fitted by
``benchmarks/fit_confidence.py`` on synthetic sequences (any amount, exact ground truth) and
evaluated leave-one-sequence-out on real ones. Fitting is deterministic: Newton's method on
an L2-penalised log-likelihood, no random start.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tracker_annotate.core.errors import ConfigError

FloatArray = npt.NDArray[np.float64]

FEATURES: tuple[str, ...] = (
    "app",
    "lk_iou",
    "pred_iou",
    "score",
    "log_age",
    "size_change",
    "vis",
    "coasted",
    "between",
    "fb_iou",
    "lin_iou",
    "reach",
    "overlap",
    "motion",
    "alarm",
    "app_drop",
    # committee back-ends only (0 elsewhere): see tracking/committee.py
    "agree",
    "on_choice",
    "peak",
    "psr",
    "second",
    "entropy",
    "sim",
    "chain_agree",
    "chain_sim",
    "win_agree",
    "win_sim",
)

#: The features a committee adds (0 for other back-ends; a model that does not name them
#: ignores them).
COMMITTEE_ONLY: tuple[str, ...] = FEATURES[FEATURES.index("agree") :]

MODEL_PATH = Path(__file__).resolve().parent / "confidence_model.json"


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic regression + isotonic calibration over :data:`FEATURES`."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    #: Isotonic map: logistic score knots (ascending) -> calibrated P(right).
    iso_x: tuple[float, ...]
    iso_y: tuple[float, ...]
    meta: dict[str, Any] | None = None
    #: ``"linear"`` (the features) or ``"quadratic"`` (the features and their squares).
    terms: str = "linear"

    def columns(self, x: FloatArray) -> FloatArray:
        """The model's own columns (:attr:`names`) of rows over all :data:`FEATURES`."""
        x = np.atleast_2d(x)
        if self.names == FEATURES:
            return x
        return x[:, [FEATURES.index(n) for n in self.names]]

    def raw(self, x: FloatArray) -> FloatArray:
        """Logistic P(right) before calibration, for rows of ``x`` (n x len(FEATURES))."""
        z = (expand(self.columns(x), self.terms) - np.asarray(self.mean)) / np.asarray(self.std)
        return _sigmoid(z @ np.asarray(self.coef) + self.intercept)

    def predict(self, x: FloatArray) -> FloatArray:
        """Calibrated P(box is right) in [0, 1] for rows of ``x``."""
        r = self.raw(x)
        if not self.iso_x:
            return r
        return np.interp(r, np.asarray(self.iso_x), np.asarray(self.iso_y))

    def to_json(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "mean": list(self.mean),
            "std": list(self.std),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "iso_x": list(self.iso_x),
            "iso_y": list(self.iso_y),
            "terms": self.terms,
            "meta": self.meta or {},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ConfidenceModel:
        names = tuple(d["names"])
        unknown = [n for n in names if n not in FEATURES]
        if unknown:
            raise ConfigError(f"confidence model features {unknown} are not among {FEATURES}")
        return cls(
            names,
            tuple(float(v) for v in d["mean"]),
            tuple(float(v) for v in d["std"]),
            tuple(float(v) for v in d["coef"]),
            float(d["intercept"]),
            tuple(float(v) for v in d["iso_x"]),
            tuple(float(v) for v in d["iso_y"]),
            d.get("meta"),
            str(d.get("terms", "linear")),
        )


def expand(x: FloatArray, terms: str) -> FloatArray:
    """The model's inputs: the features, and for ``"quadratic"`` their squares too (a
    logistic model can then say "too little *or* too much is bad", e.g. of size change)."""
    if terms == "linear":
        return x
    if terms == "quadratic":
        return np.hstack([x, x**2])
    raise ConfigError(f"confidence model terms must be 'linear' or 'quadratic', got {terms!r}")


def _sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))
    return out


def fit_logistic(
    x: FloatArray, y: npt.NDArray[np.bool_], l2: float = 1.0, iters: int = 50
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """``(mean, std, coef, intercept)`` of an L2-penalised logistic regression (Newton)."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std < 1e-9] = 1.0
    z = (x - mean) / std
    a = np.hstack([z, np.ones((len(z), 1))])
    w = np.zeros(a.shape[1])
    t = y.astype(np.float64)
    reg = np.full(a.shape[1], l2)
    reg[-1] = 0.0  # the intercept is not shrunk
    for _ in range(iters):
        p = _sigmoid(a @ w)
        g = a.T @ (p - t) + reg * w
        h = (a * (p * (1 - p))[:, None]).T @ a + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(h, g)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return mean, std, w[:-1], float(w[-1])


def fit_isotonic(score: FloatArray, y: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """Pool-adjacent-violators: non-decreasing map from ``score`` to the share of ``y``.

    Returns knots (block means of the score, block shares of y), ready for ``np.interp``.
    """
    order = np.argsort(score, kind="mergesort")
    s, t = score[order], y[order].astype(np.float64)
    blocks: list[list[float]] = []  # [sum_s, sum_t, n]
    for si, ti in zip(s, t, strict=True):
        blocks.append([float(si), float(ti), 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            b = blocks.pop()
            blocks[-1] = [blocks[-1][0] + b[0], blocks[-1][1] + b[1], blocks[-1][2] + b[2]]
    xs = np.array([b[0] / b[2] for b in blocks])
    ys = np.array([b[1] / b[2] for b in blocks])
    return xs, ys


def fit_model(  # noqa: PLR0917 - the fit's knobs, all with defaults
    x: FloatArray,
    y: npt.NDArray[np.bool_],
    l2: float = 1.0,
    meta: dict[str, Any] | None = None,
    terms: str = "linear",
    names: tuple[str, ...] = FEATURES,
) -> ConfidenceModel:
    """Fit the logistic part on the columns ``names`` of ``x`` (rows over all
    :data:`FEATURES`) and its isotonic calibration, on the same rows."""
    cols = x[:, [FEATURES.index(n) for n in names]]
    mean, std, coef, b = fit_logistic(expand(cols, terms), y, l2)
    m = ConfidenceModel(
        tuple(names),
        tuple(float(v) for v in mean),
        tuple(float(v) for v in std),
        tuple(float(v) for v in coef),
        b,
        (),
        (),
        meta,
        terms,
    )
    xs, ys = fit_isotonic(m.raw(x), y)
    return ConfidenceModel(
        m.names,
        m.mean,
        m.std,
        m.coef,
        b,
        tuple(float(v) for v in xs),
        tuple(float(v) for v in ys),
        meta,
        terms,
    )


def recalibrate(
    model: ConfidenceModel,
    x: FloatArray,
    y: npt.NDArray[np.bool_],
    meta: dict[str, Any] | None = None,
) -> ConfidenceModel:
    """The same ranking (logistic part), with its isotonic map fitted anew on ``x, y``: the
    ranking can be learned where data is plentiful and the calibration where it is real."""
    xs, ys = fit_isotonic(model.raw(x), y)
    return replace(
        model, iso_x=tuple(float(v) for v in xs), iso_y=tuple(float(v) for v in ys), meta=meta
    )


def expected_calibration_error(
    conf: FloatArray, right: npt.NDArray[np.bool_], bins: int = 10
) -> float:
    """ECE: bin-weighted |mean confidence - share right| over equal-width bins."""
    conf = np.asarray(conf, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for k in range(bins):
        m = idx == k
        if m.any():
            total += m.mean() * abs(float(conf[m].mean()) - float(right[m].mean()))
    return total


def reliability(
    conf: FloatArray, right: npt.NDArray[np.bool_], bins: int = 10
) -> list[tuple[float, float, int]]:
    """Reliability diagram rows: (mean confidence, share right, count) per non-empty bin."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    return [
        (float(conf[idx == k].mean()), float(right[idx == k].mean()), int((idx == k).sum()))
        for k in range(bins)
        if (idx == k).any()
    ]


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> ConfidenceModel:
    """The shipped model (or the one at ``path``)."""
    p = Path(path) if path is not None else MODEL_PATH
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"confidence model {p} cannot be read: {exc}") from exc
    return ConfidenceModel.from_json(d)


def model_for(tracker: str) -> ConfidenceModel:
    """The shipped confidence model of the back-end ``tracker`` (its
    ``BackendInfo.confidence_model`` file beside this module)."""
    from tracker_annotate.tracking.backends import backend

    return load_model(str(MODEL_PATH.parent / backend(tracker).confidence_model))


def feature_row(**values: float) -> FloatArray:
    """One row of :data:`FEATURES` (missing names are an error, except ``overlap``, filled
    in after all tracks are known, and the committee's, 0 for other back-ends; nan becomes
    a neutral 0)."""
    values.setdefault("overlap", 0.0)
    for name in COMMITTEE_ONLY:
        values.setdefault(name, 0.0)
    row = np.array([float(values[n]) for n in FEATURES], dtype=np.float64)
    row[~np.isfinite(row)] = 0.0
    return row


def log_age(frames: int) -> float:
    return math.log1p(max(frames, 0))
