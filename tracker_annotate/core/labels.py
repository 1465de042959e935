"""Object classes (labels) with display colours."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

from tracker_annotate.core.errors import ProjectError

RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Label:
    """A class name and its RGB colour (0-255 each)."""

    name: str
    color: RGB = (255, 128, 0)

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise ProjectError("a label needs a non-empty name")
        if len(self.color) != 3 or not all(0 <= int(c) <= 255 for c in self.color):
            raise ProjectError(f"label {self.name!r}: colour {self.color} is not RGB 0-255")

    @property
    def hex(self) -> str:
        r, g, b = self.color
        return f"#{r:02x}{g:02x}{b:02x}"

    @classmethod
    def from_hex(cls, name: str, hex_color: str) -> Label:
        s = hex_color.lstrip("#")
        if len(s) != 6:
            raise ProjectError(f"label {name!r}: colour {hex_color!r} is not #rrggbb")
        try:
            rgb = (int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16))
        except ValueError as exc:
            raise ProjectError(f"label {name!r}: colour {hex_color!r} is not #rrggbb") from exc
        return cls(name, rgb)


def distinct_color(index: int) -> RGB:
    """A well-separated colour for the ``index``-th track or label (golden-ratio hues)."""
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return (int(r * 255), int(g * 255), int(b * 255))


DEFAULT_LABEL = Label("object", (255, 128, 0))
