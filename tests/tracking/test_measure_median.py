"""The LK step's median is numpy's median (it replaced ``np.median`` for speed only)."""

from __future__ import annotations

import numpy as np
import pytest

from tracker_annotate.tracking.measure import _median


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_numpys_median_bit_for_bit(dtype: type) -> None:
    rng = np.random.default_rng(0)
    for n in range(1, 40):
        for _ in range(50):
            x = (rng.standard_normal(n) * rng.uniform(0.1, 100)).astype(dtype)
            if n > 3:
                x[: n // 3] = x[n // 3]  # ties, as LK's clipped values make
            assert _median(x) == float(np.median(x)), (n, x)
