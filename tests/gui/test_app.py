"""The app's process-wide setup: the heap policy that keeps memory near the cache budget."""

from __future__ import annotations

import ctypes
import sys

import pytest

from tracker_annotate.gui import app as app_module


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_limit_heap_retention_applies_on_glibc() -> None:
    try:
        ctypes.CDLL("libc.so.6").mallopt  # noqa: B018
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    assert app_module.limit_heap_retention() is True


def test_make_app_sets_the_heap_policy(monkeypatch: pytest.MonkeyPatch, qapp: object) -> None:
    calls: list[int] = []
    monkeypatch.setattr(app_module, "limit_heap_retention", lambda: calls.append(1) or True)
    assert app_module.make_app() is qapp
    assert calls == [1]
