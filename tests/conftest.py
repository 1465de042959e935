"""Shared fixtures. GUI tests run offscreen; shared evaluation data is read in place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# video scans stored by a test session stay in it (and never come from the user's cache)
os.environ["TRACKER_ANNOTATE_CACHE"] = tempfile.mkdtemp(prefix="ta-test-cache-")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (evaluation-only: read in place, never copied)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present on this machine")
    return SHARED_DATA


def alone(video: Path, tmp_path: Path) -> Path:
    """``video`` linked into a fresh folder, so no project someone left beside the shared copy
    (``vtest.taproj`` lies next to ``vtest.avi`` on some machines) is opened instead of the
    new one the test is about."""
    folder = tmp_path / "alone"
    folder.mkdir(exist_ok=True)
    link = folder / video.name
    link.symlink_to(video.resolve())
    return link
