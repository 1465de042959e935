"""Rendering a scenario into frames with exact, pixel-derived ground truth.

Ground-truth conventions (also in ``sample_videos/README.md``):

* The GT box is the object's **full** box in image pixels, whole numbers, even when part of
  it is hidden behind a nearer object or outside the image (the MOT17 convention). Boxes are
  never clipped to the image, so ``x`` or ``y`` can be negative near the borders.
* ``visibility`` is the share of the object's silhouette pixels that end up on screen:
  inside the image and not covered by a nearer object. It is counted from the rendered
  id map, so it is exact, not estimated from box overlaps.
* A row exists for every frame in which the full box overlaps the image, including frames
  where the object is entirely hidden behind another one (``visibility`` 0). While the box
  is entirely outside the image there is no row, so a track that leaves and comes back has
  a gap in its frames.
* Silhouettes (rectangle, ellipse, rounded rectangle) touch all four sides of their box,
  so an unoccluded object's mask bounding box equals its GT box exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import get_args

import cv2
import numpy as np
import numpy.typing as npt

from tracker_annotate.core.errors import ConfigError, MediaError
from tracker_annotate.core.frames import Frame
from tracker_annotate.synth.config import SynthConfig
from tracker_annotate.synth.scene import (
    ObjectSpec,
    ShapeKind,
    box_xywh_px,
    camera_offset_px,
    frame_u,
    global_gain,
    pan_extent_px,
    scenario_objects,
    shadow_map,
)
from tracker_annotate.synth.textures import (
    TextureImage,
    TextureKind,
    make_background,
    make_texture,
    palette_color,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
IdMap = npt.NDArray[np.int16]  # H x W, 0 = background, else the 1-based track id on top

_NOISE_STREAM = 0x5EED  # keeps the per-frame noise streams apart from the texture stream


@dataclass(frozen=True, slots=True)
class SynthTrack:
    """What a track is, so tests and demos can find the hard cases by role."""

    track_id: int
    name: str
    texture: TextureKind
    shape: ShapeKind
    depth: int
    look_alike_group: str | None


@dataclass(frozen=True, slots=True)
class SynthGroundTruth:
    """Exact ground truth as columns, one row per (track, frame), sorted by track then frame.

    ``frame`` is 0-based (MOT files add 1 at the edge); ``track_id`` is 1-based as in MOT;
    ``xywh`` is the full box in whole image pixels; ``visibility`` is in ``[0, 1]``.
    """

    frame: IntArray
    track_id: IntArray
    xywh: IntArray
    visibility: FloatArray

    def __post_init__(self) -> None:
        n = self.frame.shape[0]
        if self.frame.shape != (n,) or self.track_id.shape != (n,):
            raise ConfigError(
                "ground truth: frame and track_id must be 1-D columns of equal length, got "
                f"shapes {self.frame.shape} and {self.track_id.shape}"
            )
        if self.xywh.shape != (n, 4) or self.visibility.shape != (n,):
            raise ConfigError(
                f"ground truth: expected xywh of shape ({n}, 4) and visibility ({n},), got "
                f"{self.xywh.shape} and {self.visibility.shape}"
            )
        if n and self.xywh[:, 2:].min() <= 0:
            row = int(np.flatnonzero((self.xywh[:, 2:] <= 0).any(axis=1))[0])
            raise ConfigError(
                f"ground truth row {row} (frame {int(self.frame[row])}): expected a box of "
                f"positive size, got xywh {self.xywh[row].tolist()}"
            )
        if n and self.frame.min() < 0:
            raise ConfigError(f"ground truth: frames must be >= 0, got {int(self.frame.min())}")
        if n and not (self.visibility.min() >= 0.0 and self.visibility.max() <= 1.0):
            raise ConfigError(
                "ground truth: visibility must lie in [0, 1], got "
                f"[{float(self.visibility.min())}, {float(self.visibility.max())}]"
            )

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    def rows_of(self, track_id: int) -> npt.NDArray[np.bool_]:
        """Boolean row mask of one track."""
        return self.track_id == track_id

    def rows_at(self, frame: int) -> npt.NDArray[np.bool_]:
        """Boolean row mask of one 0-based frame."""
        return self.frame == frame

    def to_mot_text(self) -> str:
        """MOT17 ``gt.txt`` text: ``frame,id,x,y,w,h,conf,class,visibility``, 1-based frames.

        ``conf`` is 1 (consider the row) and ``class`` is 1 for every object.
        """
        lines = [
            f"{f + 1},{t},{b[0]},{b[1]},{b[2]},{b[3]},1,1,{v:.6f}\n"
            for f, t, b, v in zip(
                self.frame.tolist(),
                self.track_id.tolist(),
                self.xywh.tolist(),
                self.visibility.tolist(),
                strict=True,
            )
        ]
        return "".join(lines)


@dataclass(frozen=True, slots=True)
class SynthFrame:
    """One rendered frame: the BGR image and the id map of who is on top at each pixel."""

    image: Frame
    id_map: IdMap


@dataclass(frozen=True, slots=True)
class _Layer:
    track_id: int
    xywh: tuple[int, int, int, int]  # image pixels
    mask: npt.NDArray[np.bool_]  # h x w silhouette of the full box


@lru_cache(maxsize=512)
def shape_mask(shape: ShapeKind, width: int, height: int) -> npt.NDArray[np.bool_]:
    """Silhouette of ``shape`` filling a ``width`` x ``height`` box, sampled at pixel centres.

    Every shape touches all four sides of its box (tested), which is what makes the mask
    bounding box equal the GT box. The result is read-only because it is cached.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    if shape == "rect":
        mask = np.ones((height, width), bool)
    elif shape == "ellipse":
        rx, ry = width / 2.0, height / 2.0
        mask = ((xx - rx) / rx) ** 2 + ((yy - ry) / ry) ** 2 <= 1.0
    elif shape == "rounded":
        r = 0.25 * min(width, height)
        cx = np.clip(xx, r, width - r)
        cy = np.clip(yy, r, height - r)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    else:  # pragma: no cover - Literal guards callers
        raise ConfigError(f"unknown shape {shape!r}; expected one of {get_args(ShapeKind)}")
    mask.setflags(write=False)
    return mask


class SynthSequence:
    """A generated sequence: exact GT up front, frames rendered on demand (random access).

    It also meets :class:`~tracker_annotate.core.frames.FrameSource` (``read``, ``reopen``,
    ``close``, ``n_frames`` ...), so tracking code can run on it in memory.

    Rendering frame ``i`` gives the same pixels whether frames are visited in order or not,
    because each frame's sensor noise comes from its own stream derived from the seed.
    """

    def __init__(
        self,
        config: SynthConfig,
        specs: list[ObjectSpec],
        textures: list[TextureImage],
        background: TextureImage,
        light: npt.NDArray[np.float32],
    ) -> None:
        self.config = config
        self._specs = specs
        self._textures = textures
        self._background = background
        self._light = light
        self.tracks: tuple[SynthTrack, ...] = tuple(
            SynthTrack(i + 1, s.name, s.texture, s.shape, s.depth, s.look_alike_group)
            for i, s in enumerate(specs)
        )
        self.path = f"synth:seed={config.seed}"
        """A label for messages; the FrameSource protocol wants a ``path``."""
        self.gt: SynthGroundTruth = self._ground_truth()

    @property
    def n_frames(self) -> int:
        return self.config.n_frames

    @property
    def width(self) -> int:
        return self.config.width

    @property
    def height(self) -> int:
        return self.config.height

    @property
    def fps(self) -> float:
        return self.config.fps

    def track(self, name: str) -> SynthTrack:
        """The track playing role ``name`` (see :func:`scenario_objects`)."""
        for t in self.tracks:
            if t.name == name:
                return t
        names = [t.name for t in self.tracks]
        raise ConfigError(f"no track named {name!r}; expected one of {names}")

    def camera_offset(self, frame: int) -> tuple[int, int]:
        """Camera top-left in world pixels at 0-based ``frame``."""
        return camera_offset_px(self.config, frame_u(self.config, frame))

    def gain(self, frame: int) -> float:
        """Global brightness multiplier at 0-based ``frame``."""
        return global_gain(self.config, frame_u(self.config, frame), frame)

    def _check_frame(self, frame: int) -> None:
        if not 0 <= frame < self.n_frames:
            raise MediaError(
                f"frame index out of range; expected 0 to {self.n_frames - 1}",
                path=self.path,
                frame=frame,
            )

    def _layers(self, frame: int) -> list[_Layer]:
        """Objects whose full box overlaps the image, back to front, in image pixels."""
        cfg = self.config
        u = frame_u(cfg, frame)
        ox, oy = camera_offset_px(cfg, u)
        order = sorted(range(len(self._specs)), key=lambda i: self._specs[i].depth)
        layers = []
        for i in order:
            spec = self._specs[i]
            x, y, w, h = box_xywh_px(spec, cfg, u)
            x, y = x - ox, y - oy
            if x + w <= 0 or y + h <= 0 or x >= cfg.width or y >= cfg.height:
                continue
            layers.append(_Layer(i + 1, (x, y, w, h), shape_mask(spec.shape, w, h)))
        return layers

    def _id_map(self, layers: list[_Layer]) -> IdMap:
        cfg = self.config
        id_map = np.zeros((cfg.height, cfg.width), np.int16)
        for layer in layers:
            region, sub = _clip(layer.xywh, cfg.width, cfg.height)
            id_map[region][layer.mask[sub]] = layer.track_id
        return id_map

    def _ground_truth(self) -> SynthGroundTruth:
        frames: list[int] = []
        tids: list[int] = []
        boxes: list[tuple[int, int, int, int]] = []
        vis: list[float] = []
        n_ids = len(self._specs) + 1
        for f in range(self.n_frames):
            layers = self._layers(f)
            counts = np.bincount(self._id_map(layers).ravel(), minlength=n_ids)
            for layer in layers:
                frames.append(f)
                tids.append(layer.track_id)
                boxes.append(layer.xywh)
                vis.append(float(counts[layer.track_id]) / float(layer.mask.sum()))
        frame_a = np.asarray(frames, np.int64)
        tid_a = np.asarray(tids, np.int64)
        order = np.lexsort((frame_a, tid_a))
        return SynthGroundTruth(
            frame=frame_a[order],
            track_id=tid_a[order],
            xywh=np.asarray(boxes, np.int64).reshape(-1, 4)[order],
            visibility=np.asarray(vis, np.float64)[order],
        )

    def render(self, frame: int) -> SynthFrame:
        """Render 0-based ``frame``: BGR ``uint8`` image and the id map of visible objects."""
        self._check_frame(frame)
        cfg = self.config
        ox, oy = self.camera_offset(frame)
        canvas = self._background[oy : oy + cfg.height, ox : ox + cfg.width].copy()
        layers = self._layers(frame)
        for layer in layers:
            w, h = layer.xywh[2:]
            base = self._textures[layer.track_id - 1]
            interp = cv2.INTER_AREA if w < base.shape[1] else cv2.INTER_LINEAR
            tex = np.asarray(cv2.resize(base, (w, h), interpolation=interp), np.float32)
            region, sub = _clip(layer.xywh, cfg.width, cfg.height)
            m = layer.mask[sub]
            canvas[region][m] = tex[sub][m]
        light = self._light[oy : oy + cfg.height, ox : ox + cfg.width]
        canvas *= (light * np.float32(self.gain(frame)))[..., None]
        if cfg.sensor_noise_sigma > 0:
            rng = np.random.default_rng(np.random.SeedSequence((cfg.seed, _NOISE_STREAM, frame)))
            canvas += rng.normal(0.0, cfg.sensor_noise_sigma, canvas.shape).astype(np.float32)
        image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
        return SynthFrame(image=image, id_map=self._id_map(layers))

    def frame(self, index: int) -> Frame:
        """The BGR image of 0-based frame ``index``."""
        return self.render(index).image

    def frames(self) -> Iterator[Frame]:
        """All frames in order, rendered one at a time (constant memory)."""
        for i in range(self.n_frames):
            yield self.frame(i)

    # The FrameSource protocol, so a sequence can feed the tracker with no file at all.

    def read(self, index: int) -> Frame:
        """Frame ``index`` (0-based); :class:`MediaError` naming the frame when out of range."""
        return self.frame(index)

    def reopen(self) -> SynthSequence:
        """Sequences hold no handles and rendering has no shared state: itself serves."""
        return self

    def close(self) -> None:
        """Nothing to release."""


def _clip(
    xywh: tuple[int, int, int, int], width: int, height: int
) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Slices of the on-screen part of a box: into the image, and into the box itself."""
    x, y, w, h = xywh
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))


def generate(config: SynthConfig) -> SynthSequence:
    """Build the scenario of ``config``: textures, background, lighting and the exact GT.

    All randomness comes from one ``numpy.random.Generator`` seeded with ``config.seed``
    (drawn in a fixed order: background, then each object's colours and texture), plus
    per-frame noise streams derived from the same seed. No global random state is used.
    """
    rng = np.random.default_rng(config.seed)
    specs = scenario_objects(config)
    pan_x, pan_y = pan_extent_px(config)
    world_hw = (config.height + pan_y, config.width + pan_x)
    background = make_background(rng, *world_hw)
    textures: list[TextureImage] = []
    shared: dict[str, TextureImage] = {}
    for spec in specs:
        max_scale = max(spec.keys_scale)
        size_hw = (
            max(8, int(np.ceil(spec.size_wh[1] * config.height * max_scale))),
            max(8, int(np.ceil(spec.size_wh[0] * config.height * max_scale))),
        )
        group = spec.look_alike_group
        if group is not None and group in shared:
            textures.append(shared[group])
            continue
        color_a, color_b = palette_color(rng, len(shared) + len(textures), len(specs))
        tex = make_texture(spec.texture, rng, size_hw, color_a, color_b)
        if group is not None:
            shared[group] = tex
        textures.append(tex)
    return SynthSequence(config, specs, textures, background, shadow_map(config, world_hw))
