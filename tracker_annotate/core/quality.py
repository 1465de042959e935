"""The project's quality state: the target, the flag threshold it chose, and every audit
round (seed, strata, samples and their outcomes). Plain frozen data, held by
:class:`~tracker_annotate.core.project.Project` and changed through its undoable edits;
the logic lives in :mod:`tracker_annotate.core.audit`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.recal_state import RecalState, ReviewOutcome

Outcome = Literal["ok", "wrong"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "wrong")
#: The default target: at most 1% of the visible boxes wrong and unseen.
DEFAULT_TARGET = 0.01


@dataclass(frozen=True, slots=True)
class Stratum:
    """One audit stratum: ``population`` unseen boxes with confidence in ``[lo, hi]``."""

    name: str
    lo: float
    hi: float
    population: int


@dataclass(frozen=True, slots=True)
class AuditSample:
    """One box the audit asks a human to check; ``outcome`` ``None`` until checked."""

    track_id: int
    frame: int
    stratum: int
    outcome: Outcome | None = None

    def __post_init__(self) -> None:
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ProjectError(
                f"audit sample track {self.track_id} frame {self.frame}: outcome must be "
                f"one of {OUTCOMES} or None, got {self.outcome!r}"
            )


@dataclass(frozen=True, slots=True)
class AuditRound:
    """One draw: its seed, the threshold in force, the strata and the samples in walk order.

    ``n_boxes`` is the number of visible boxes when drawn (the residual's denominator)."""

    seed: int
    threshold: float
    n_boxes: int
    strata: tuple[Stratum, ...]
    samples: tuple[AuditSample, ...]

    def __post_init__(self) -> None:
        for s in self.samples:
            if not 0 <= s.stratum < len(self.strata):
                raise ProjectError(
                    f"audit round {self.seed}: sample track {s.track_id} frame {s.frame} "
                    f"names stratum {s.stratum}; the round has {len(self.strata)}"
                )

    @property
    def population(self) -> int:
        return sum(s.population for s in self.strata)

    @property
    def checked(self) -> int:
        return sum(s.outcome is not None for s in self.samples)

    @property
    def wrong(self) -> int:
        return sum(s.outcome == "wrong" for s in self.samples)

    def sample_at(self, track_id: int, frame: int) -> AuditSample | None:
        for s in self.samples:
            if s.track_id == track_id and s.frame == frame:
                return s
        return None


@dataclass(frozen=True, slots=True)
class DatasetFigures:
    """The last figures of the dataset audit this project is part of
    (:mod:`tracker_annotate.core.dataset_audit`), copied into every project of the set so
    that ``status`` and every export carry them. Residuals are shares of the dataset's
    visible boxes; ``None`` before the first look is complete. ``decision``: ``"check"``,
    ``"accept"`` or ``"reject"`` at look ``look``; ``date``: UTC, ISO 8601. The project's
    own estimate of that round (a share of the samples) is not the verdict; this is."""

    manifest: str
    projects: int
    visible_boxes: int
    unseen_boxes: int
    samples: int
    checked: int
    wrong: int
    residual: float | None
    residual_interval: tuple[float, float] | None
    level: float
    target: float
    decision: str
    look: int
    bound: float | None
    risk: float
    date: str
    #: The index of this project's audit round that belongs to the dataset audit (-1: none).
    round: int = -1

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.residual_interval is not None:
            d["residual_interval"] = list(self.residual_interval)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> DatasetFigures:
        """From :meth:`as_dict`'s output; :class:`ProjectError` saying what is missing."""
        try:
            values = {f.name: d[f.name] for f in fields(cls) if f.name != "round"}
            values["round"] = int(d.get("round", -1))
            iv = values["residual_interval"]
            values["residual_interval"] = None if iv is None else (float(iv[0]), float(iv[1]))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ProjectError(f"the dataset audit figures are damaged ({exc!r})") from exc
        return cls(**values)


@dataclass(frozen=True, slots=True)
class QualityState:
    """``target``: the share of visible boxes allowed wrong and unseen; ``threshold``: the
    flag threshold last applied for it (``None``: only the engine's flags); ``rounds``:
    every audit round drawn, oldest first (the last one is current); ``dataset``: the
    figures of the dataset audit the project is part of, if any; ``reviews``: every
    human verdict on a derived box, oldest first, and ``recal`` the per-video
    recalibration last fitted from them (:mod:`tracker_annotate.core.recalibration`)."""

    target: float = DEFAULT_TARGET
    threshold: float | None = None
    rounds: tuple[AuditRound, ...] = ()
    dataset: DatasetFigures | None = None
    reviews: tuple[ReviewOutcome, ...] = ()
    recal: RecalState | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.target < 1.0:
            raise ProjectError(f"quality target must be in (0, 1), got {self.target}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ProjectError(f"flag threshold must be in [0, 1], got {self.threshold}")
