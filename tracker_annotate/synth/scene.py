"""The scripted scenario: which objects exist, how they move, and the camera and lighting.

Positions are in *world* coordinates, normalised: x as a fraction of the image width, y as a
fraction of the image height, with the camera's top-left at world (0, 0) before it pans.
Sizes are fractions of the image height. Time ``u`` runs from 0 (first frame) to 1 (last).
Each object moves along straight segments between key points, which is enough to script
crossings, an exit and a re-entry, and an approach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from tracker_annotate.core.errors import ConfigError
from tracker_annotate.synth.config import SynthConfig
from tracker_annotate.synth.textures import TextureKind

ShapeKind = Literal["rect", "ellipse", "rounded"]

PAN_X_FRACTION = 0.25  # of the width: how far the camera pans right in total
PAN_Y_FRACTION = 0.05  # of the height: how far it drifts down
PAN_SPAN_U = (0.30, 0.70)  # normalised time window of the pan
SHADOW_DARKNESS = 0.5  # light level inside the shadow band


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """One scripted object. ``depth``: larger is nearer the camera and drawn on top."""

    name: str
    texture: TextureKind
    shape: ShapeKind
    size_wh: tuple[float, float]
    depth: int
    keys_u: tuple[float, ...]
    keys_x: tuple[float, ...]
    keys_y: tuple[float, ...]
    keys_scale: tuple[float, ...]
    look_alike_group: str | None = None

    def __post_init__(self) -> None:
        n = len(self.keys_u)
        if not (len(self.keys_x) == len(self.keys_y) == len(self.keys_scale) == n and n >= 2):
            lengths = [len(k) for k in (self.keys_u, self.keys_x, self.keys_y, self.keys_scale)]
            raise ConfigError(
                f"object {self.name!r}: keys_u, keys_x, keys_y and keys_scale must have one "
                f"equal length >= 2, got lengths {lengths}"
            )
        if list(self.keys_u) != sorted(self.keys_u):
            raise ConfigError(
                f"object {self.name!r}: keys_u must be increasing, got {list(self.keys_u)}"
            )

    def state(self, u: float) -> tuple[float, float, float]:
        """World centre ``(x, y)`` (normalised) and scale at normalised time ``u``."""
        return (
            float(np.interp(u, self.keys_u, self.keys_x)),
            float(np.interp(u, self.keys_u, self.keys_y)),
            float(np.interp(u, self.keys_u, self.keys_scale)),
        )


def _round_half_up(v: float) -> int:
    """Deterministic rounding (numpy's ``round`` goes half to even, which surprises)."""
    return math.floor(v + 0.5)


def scenario_objects(config: SynthConfig) -> list[ObjectSpec]:
    """The objects of ``config``'s scenario, in track-id order (first is id 1).

    Lanes keep the hard cases apart in time or space so each one can be checked alone:
    look-alikes cross in the top lane near u=0.45, the distinct pair crosses in the middle
    lane near u=0.6 (during the pan), the exiting object uses the bottom lane.
    """
    objs: list[ObjectSpec] = []
    if config.crossing:
        objs.append(
            ObjectSpec(
                name="crosser_front",
                texture="stripes",
                shape="rect",
                size_wh=(0.20, 0.30),
                depth=5,
                keys_u=(0.0, 1.0),
                keys_x=(-0.02, 1.02),
                keys_y=(0.60, 0.57),
                keys_scale=(1.0, 1.0),
            )
        )
        objs.append(
            ObjectSpec(
                name="crosser_back",
                texture="checker",
                shape="ellipse",
                size_wh=(0.22, 0.30),
                depth=2,
                keys_u=(0.0, 1.0),
                keys_x=(0.86, 0.55),
                keys_y=(0.54, 0.58),
                keys_scale=(1.0, 1.0),
            )
        )
    if config.look_alikes:
        for name, x0, x1, y0, y1, depth in (
            ("lookalike_a", 0.22, 0.95, 0.22, 0.30, 4),
            ("lookalike_b", 0.88, 0.37, 0.30, 0.22, 3),
        ):
            objs.append(
                ObjectSpec(
                    name=name,
                    texture="blobs",
                    shape="rounded",
                    size_wh=(0.17, 0.22),
                    depth=depth,
                    keys_u=(0.0, 1.0),
                    keys_x=(x0, x1),
                    keys_y=(y0, y1),
                    keys_scale=(1.0, 1.0),
                    look_alike_group="blobs_twins",
                )
            )
    if config.scale_change:
        objs.append(
            ObjectSpec(
                name="approacher",
                texture="noise",
                shape="ellipse",
                size_wh=(0.16, 0.20),
                depth=6,
                keys_u=(0.0, 0.55, 1.0),
                keys_x=(0.14, 0.26, 0.38),
                keys_y=(0.80, 0.76, 0.80),
                keys_scale=(0.55, 1.65, 0.9),
            )
        )
    if config.exit_reenter:
        objs.append(
            ObjectSpec(
                name="exit_reenter",
                texture="stripes",
                shape="rounded",
                size_wh=(0.18, 0.16),
                depth=7,
                keys_u=(0.0, 0.30, 0.40, 0.62, 0.75, 1.0),
                keys_x=(0.55, 1.05, 1.40, 1.45, 1.12, 0.98),
                keys_y=(0.88, 0.88, 0.88, 0.86, 0.86, 0.86),
                keys_scale=(1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
            )
        )
    objs.append(
        ObjectSpec(
            name="static_sign",
            texture="checker",
            shape="rect",
            size_wh=(0.14, 0.18),
            depth=1,
            keys_u=(0.0, 1.0),
            keys_x=(0.10, 0.10),
            keys_y=(0.18, 0.18),
            keys_scale=(1.0, 1.0),
        )
    )
    return objs


def pan_extent_px(config: SynthConfig) -> tuple[int, int]:
    """Total camera travel ``(dx, dy)`` in whole pixels (``(0, 0)`` without pan)."""
    if not config.camera_pan:
        return (0, 0)
    return (
        _round_half_up(PAN_X_FRACTION * config.width),
        _round_half_up(PAN_Y_FRACTION * config.height),
    )


def _smoothstep(t: float) -> float:
    t = min(1.0, max(0.0, t))
    return t * t * (3.0 - 2.0 * t)


def camera_offset_px(config: SynthConfig, u: float) -> tuple[int, int]:
    """Camera top-left in world pixels at normalised time ``u``: whole pixels, eased."""
    dx, dy = pan_extent_px(config)
    a, b = PAN_SPAN_U
    s = _smoothstep((u - a) / (b - a))
    return (_round_half_up(dx * s), _round_half_up(dy * s))


def global_gain(config: SynthConfig, u: float, frame: int) -> float:
    """Global brightness multiplier: dims to 0.6 and back, then a 3-frame flicker to 1.35.

    The flicker is keyed to frames, not time, so it is always a short, sudden change.
    """
    if not config.illumination:
        return 1.0
    gain = float(np.interp(u, (0.0, 0.15, 0.35, 0.55, 1.0), (1.0, 1.0, 0.6, 1.0, 1.0)))
    flick0 = _round_half_up(0.85 * (config.n_frames - 1))
    if flick0 <= frame < flick0 + 3:
        gain *= 1.35
    return gain


def shadow_map(config: SynthConfig, world_hw: tuple[int, int]) -> npt.NDArray[np.float32]:
    """Multiplicative light map over the world, 1.0 outside the shadow band.

    The band is a slanted strip (like the shadow of a pole) with soft edges, anchored to the
    world so it moves with the background when the camera pans. Objects passing through it
    darken to ``SHADOW_DARKNESS`` of their brightness.
    """
    hw, ww = world_hw
    light = np.ones((hw, ww), np.float32)
    if not config.shadow_band:
        return light
    w = float(config.width)
    yy, xx = np.mgrid[0:hw, 0:ww].astype(np.float32)
    x_rel = xx - 0.12 * yy  # slant: the band leans right going up
    x0, x1, soft = 0.50 * w, 0.62 * w, 0.03 * w
    t_in = np.clip((x_rel - x0) / soft, 0.0, 1.0) * np.clip((x1 - x_rel) / soft, 0.0, 1.0)
    t_in = t_in * t_in * (3.0 - 2.0 * t_in)
    light -= (1.0 - SHADOW_DARKNESS) * t_in
    return light


def box_xywh_px(spec: ObjectSpec, config: SynthConfig, u: float) -> tuple[int, int, int, int]:
    """The object's full box in *world* pixels, whole numbers: ``(x, y, w, h)``."""
    cx, cy, s = spec.state(u)
    h_img = config.height
    w = max(2, _round_half_up(spec.size_wh[0] * h_img * s))
    h = max(2, _round_half_up(spec.size_wh[1] * h_img * s))
    x = _round_half_up(cx * config.width - w / 2.0)
    y = _round_half_up(cy * h_img - h / 2.0)
    return (x, y, w, h)


def frame_u(config: SynthConfig, frame: int) -> float:
    """Normalised time of 0-based ``frame``."""
    return frame / (config.n_frames - 1)
