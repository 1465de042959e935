"""The project's quality state: the target, the flag threshold it chose, and every audit
round (seed, strata, samples and their outcomes). Plain frozen data, held by
:class:`~tracker_annotate.core.project.Project` and changed through its undoable edits;
the logic lives in :mod:`tracker_annotate.core.audit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
class QualityState:
    """``target``: the share of visible boxes allowed wrong and unseen; ``threshold``: the
    flag threshold last applied for it (``None``: only the engine's flags); ``rounds``:
    every audit round drawn, oldest first (the last one is current); ``reviews``: every
    human verdict on a derived box, oldest first, and ``recal`` the per-video
    recalibration last fitted from them (:mod:`tracker_annotate.core.recalibration`)."""

    target: float = DEFAULT_TARGET
    threshold: float | None = None
    rounds: tuple[AuditRound, ...] = ()
    reviews: tuple[ReviewOutcome, ...] = ()
    recal: RecalState | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.target < 1.0:
            raise ProjectError(f"quality target must be in (0, 1), got {self.target}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ProjectError(f"flag threshold must be in [0, 1], got {self.threshold}")
