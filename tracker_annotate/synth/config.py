"""The frozen configuration of a synthetic sequence."""

from __future__ import annotations

from dataclasses import dataclass

from tracker_annotate.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """Everything that decides a synthetic sequence; equal configs give identical output.

    The scenario is laid out in normalised time (0 = first frame, 1 = last) and normalised
    image coordinates, so a small config (say 160x90, 24 frames) contains the same hard cases
    as the committed sample, only coarser. Each flag adds its objects or effects; with every
    flag off, one static object remains.
    """

    width: int = 640
    """Image width in pixels. Larger shows more texture detail but costs encode time and
    repository bytes (the committed sample must stay under a few MB)."""
    height: int = 360
    """Image height in pixels; object sizes are fractions of it."""
    n_frames: int = 180
    """Sequence length. The motions are fixed in normalised time, so more frames means
    slower, smaller per-frame motion (easier for trackers), fewer means faster motion."""
    fps: float = 30.0
    """Frame rate written to ``seqinfo.ini`` and the video header; it does not change pixels."""
    seed: int = 2026
    """Seed of the numpy Generator for textures, colours and sensor noise."""
    crossing: bool = True
    """Two distinct objects cross; the one behind is partly then heavily occluded."""
    look_alikes: bool = True
    """Two objects with the same texture and colour cross each other (identity-switch trap)."""
    scale_change: bool = True
    """One object approaches (grows to about 3x its width) then recedes."""
    exit_reenter: bool = True
    """One object leaves through the right border, stays out, then comes back."""
    camera_pan: bool = True
    """The camera pans right and slightly down mid-sequence: background and static objects
    shift left in the image. Offsets are whole pixels so the ground truth stays exact."""
    illumination: bool = True
    """A global dimming ramp and back, plus a short bright flicker (a few frames)."""
    shadow_band: bool = True
    """A fixed (world-anchored) soft shadow band that objects walk through."""
    sensor_noise_sigma: float = 2.0
    """Standard deviation of additive Gaussian sensor noise, in grey levels. Zero gives
    clean frames; higher values are more realistic but make JPEGs larger."""

    def __post_init__(self) -> None:
        checks: tuple[tuple[str, bool, str], ...] = (
            ("width", 64 <= self.width <= 4096, "an integer in [64, 4096]"),
            ("height", 48 <= self.height <= 4096, "an integer in [48, 4096]"),
            ("n_frames", 8 <= self.n_frames <= 100_000, "an integer in [8, 100000]"),
            ("fps", 0.0 < self.fps <= 1000.0, "a number in (0, 1000]"),
            ("seed", self.seed >= 0, "a non-negative integer"),
            (
                "sensor_noise_sigma",
                0.0 <= self.sensor_noise_sigma <= 50.0,
                "a number in [0, 50]",
            ),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(
                    f"SynthConfig.{name}={getattr(self, name)!r} is out of range; "
                    f"expected {expected}"
                )
