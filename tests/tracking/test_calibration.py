"""The calibrated confidence: deterministic fit, isotonic map, ECE, the shipped model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tracker_annotate.tracking.backends import BACKENDS
from tracker_annotate.tracking.calibration import (
    FEATURES,
    ConfidenceModel,
    expected_calibration_error,
    fit_isotonic,
    fit_model,
    model_for,
    recalibrate,
)


def _data(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    logit = 2.0 * x[:, 0] - 1.5 * x[:, 4] + 0.5
    y = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    return x, y


def test_fit_is_reproducible_and_recovers_the_signs() -> None:
    x, y = _data(1)
    a = fit_model(x, y)
    b = fit_model(x, y)
    assert a.to_json() == b.to_json()
    assert a.coef[0] > 1.0 and a.coef[4] < -0.8
    assert abs(a.coef[2]) < 0.2  # a feature that carries nothing gets ~0


def test_calibrated_on_fresh_data_from_the_same_process() -> None:
    m = fit_model(*_data(1))
    x, y = _data(2)
    conf = m.predict(x)
    assert conf.min() >= 0.0 and conf.max() <= 1.0
    assert expected_calibration_error(conf, y) < 0.04


def test_isotonic_is_monotone_and_pools_violators() -> None:
    _xs, ys = fit_isotonic(np.array([0.1, 0.2, 0.3, 0.4]), np.array([True, False, True, True]))
    assert list(np.diff(ys) >= 0) == [True] * (len(ys) - 1)
    assert ys[0] == 0.5  # the first two pooled: one right of two


def test_ece_known_answer() -> None:
    conf = np.array([0.9] * 10 + [0.2] * 10)
    right = np.array([True] * 9 + [False] + [True] * 2 + [False] * 8)
    assert expected_calibration_error(conf, right) < 1e-12
    assert abs(expected_calibration_error(np.full(10, 1.0), np.zeros(10, bool)) - 1.0) < 1e-12


@pytest.mark.parametrize("tracker", sorted({b.name for b in BACKENDS.values()}))
def test_every_backends_model_loads_and_round_trips(tracker: str) -> None:
    m = model_for(tracker)
    assert set(m.names) <= set(FEATURES)
    assert len(set(m.names)) == len(m.names)
    again = ConfidenceModel.from_json(json.loads(json.dumps(m.to_json())))
    x = np.zeros((3, len(FEATURES)))
    np.testing.assert_allclose(m.predict(x), again.predict(x))


def test_recalibrate_keeps_the_ranking_and_fits_the_new_rates() -> None:
    x, y = _data(1)
    m = fit_model(x, y)
    x2, y2 = _data(3)
    y2 = y2 & (np.random.default_rng(4).random(len(y2)) < 0.7)  # a harder domain: fewer right
    r = recalibrate(m, x2, y2)
    np.testing.assert_allclose(r.raw(x2), m.raw(x2))  # same ranking
    assert expected_calibration_error(r.predict(x2), y2) < expected_calibration_error(
        m.predict(x2), y2
    )


def test_a_model_on_a_subset_of_features_reads_only_its_own_columns() -> None:
    """Each back-end's model names the columns it was fitted on (chosen leave-one-sequence-
    out); the rows the engine builds hold every feature, the rest must not matter."""
    x, y = _data(5)
    names = (FEATURES[0], FEATURES[4], "agree", "chain_agree")
    a = fit_model(x, y, names=names, terms="linear")
    b = fit_model(x, y, names=names, terms="linear")
    assert a.to_json() == b.to_json()  # the fit is deterministic
    assert a.names == names and len(a.coef) == len(names)
    noise = x.copy()
    others = [i for i, n in enumerate(FEATURES) if n not in names]
    noise[:, others] = np.random.default_rng(9).normal(size=(len(x), len(others)))
    np.testing.assert_array_equal(a.predict(x), a.predict(noise))
    again = ConfidenceModel.from_json(json.loads(json.dumps(a.to_json())))
    np.testing.assert_allclose(again.predict(x), a.predict(x))


def test_a_model_naming_an_unknown_feature_is_refused() -> None:
    from tracker_annotate.core.errors import ConfigError

    d = fit_model(*_data(1), terms="linear").to_json()
    d["names"] = [*d["names"][:-1], "telepathy"]
    with pytest.raises(ConfigError, match="telepathy"):
        ConfidenceModel.from_json(d)


def test_the_committees_shipped_model_was_chosen_out_of_sample() -> None:
    m = model_for("committee")
    meta = m.meta or {}
    assert "committee" in meta["fitted_on"]
    assert meta["loso_roc_auc"] >= 0.9 and meta["loso_ece"] <= 0.05  # as reported in results
    assert any(n in m.names for n in ("agree", "on_choice"))  # it reads the committee


def test_every_backends_model_file_is_shipped_in_the_wheel() -> None:
    """pyproject's package data must name each back-end's model file (an editable install
    finds it anyway, so nothing else would notice a wheel without it)."""
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["tracker_annotate"]
    for info in BACKENDS.values():
        rel = f"tracking/{info.confidence_model}"
        assert any(fnmatch.fnmatch(rel, g) for g in globs), (info.name, rel, globs)
