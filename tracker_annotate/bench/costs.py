"""What a simulated annotator's actions cost in human seconds.

Every constant is a CLI option of ``tracker-annotate bench`` and is printed in the report
with its source, so a reader can disagree with one and re-price the counts (the counts are
in ``results.json``; seconds are a linear function of them).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from tracker_annotate.core.errors import ConfigError

#: Per-action sources, printed in the report next to the constant.
COST_SOURCES: dict[str, str] = {
    "draw_s": "extreme clicking, Papadopoulos et al., ICCV 2017 (25.5 s ILSVRC protocol, "
    "Su et al. 2012, is a sensitivity row)",
    "correct_s": "no agreed figure; priced like drawing a new box (conservative)",
    "verify_s": "box verification, Papadopoulos et al., CVPR 2016",
    "watch_s": "assumption: one box watched during a playback review",
    "end_mark_s": "marking a track's end, priced as one verification",
}

#: The slow-drawing sensitivity figure (ILSVRC protocol, Su et al. 2012).
SLOW_DRAW_S = 25.5


@dataclass(frozen=True)
class CostModel:
    """Seconds per annotator action. Raising a constant makes strategies that use that action
    more look more expensive; the ranking of strategies moves only with the ratios."""

    #: Drawing a new box from scratch. Every keyframe of the interpolation and oracle
    #: strategies, and each track's first box in the flagged workflow.
    draw_s: float = 7.0
    #: Correcting a proposed box (redrawing it). Priced like a new box: conservative, since
    #: adjusting a nearly right box is often faster than drawing.
    correct_s: float = 7.0
    #: Looking at a proposed box and accepting it.
    verify_s: float = 1.6
    #: Watching one box go by during a playback review (an assumption, not a measurement).
    watch_s: float = 0.2
    #: Marking where a track ends (the object leaves or the video ends).
    end_mark_s: float = 1.6

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value >= 0:
                raise ConfigError(f"cost {name} must be >= 0 seconds, got {value}")

    def with_slow_drawing(self, seconds: float = SLOW_DRAW_S) -> CostModel:
        """The sensitivity variant: drawing (and so correcting, priced like drawing) slower."""
        return CostModel(seconds, seconds, self.verify_s, self.watch_s, self.end_mark_s)


@dataclass
class ActionCounts:
    """What the simulated annotator did. ``manual_boxes`` = drawn + corrected boxes."""

    draws: int = 0
    corrections: int = 0
    verifications: int = 0
    end_marks: int = 0
    watched: int = 0

    @property
    def manual_boxes(self) -> int:
        return self.draws + self.corrections

    def seconds(self, costs: CostModel) -> float:
        """Annotator time in seconds under ``costs``."""
        return (
            self.draws * costs.draw_s
            + self.corrections * costs.correct_s
            + self.verifications * costs.verify_s
            + self.end_marks * costs.end_mark_s
            + self.watched * costs.watch_s
        )

    def __add__(self, other: ActionCounts) -> ActionCounts:
        return ActionCounts(
            self.draws + other.draws,
            self.corrections + other.corrections,
            self.verifications + other.verifications,
            self.end_marks + other.end_marks,
            self.watched + other.watched,
        )


def costs_from_report(path: Path) -> dict[str, tuple[float, str]]:
    """The measured per-action costs in a ``tracker-annotate report --json`` file (its
    whole set's, ``total.work.costs``): ``{name: (seconds, source)}`` for each
    :class:`CostModel` field the record measured (at least one action); the others are
    left out, so the caller keeps their defaults."""
    try:
        costs = json.loads(path.read_text(encoding="utf-8"))["total"]["work"]["costs"]
        out = {}
        for name in (f.name for f in fields(CostModel)):
            c = costs.get(name)
            if c is not None and int(c["n"]) > 0:
                value = float(c["value"])
                if not (math.isfinite(value) and value >= 0):
                    raise ValueError(f"{name} is {value}")
                out[name] = (value, f"measured: {c['source']} ({path.name})")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: expected the JSON of `tracker-annotate report --json` "
            f"(total.work.costs): {exc}"
        ) from exc
    return out
