"""Fixtures for the labeling benchmark's tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from bench_helpers import Rows, write_mot_sequence

MakeSequence = Callable[..., Path]


@pytest.fixture
def make_sequence(tmp_path: Path) -> MakeSequence:
    """``make(rows, n_frames, images=False, size=(w, h))`` -> a MOT folder under tmp_path."""
    counter = iter(range(1000))

    def make(rows: Rows, n_frames: int, **kw: object) -> Path:
        root = tmp_path / f"seq{next(counter)}"
        return write_mot_sequence(root, rows, n_frames, **kw)  # type: ignore[arg-type]

    return make
