"""Constant-velocity Kalman filter over a box, one per track pass.

State (8): ``cx, cy, w, h, vcx, vcy, vw, vh`` in pixels and pixels/frame (``cxcywh`` plus
velocities); measurement (4): ``cx, cy, w, h``. Noise is scaled by the box's size, as in
DeepSORT, so a 20 px pedestrian and a 400 px car get comparable behaviour: process noise
``(pos_std * s)^2`` and ``(vel_std * s)^2`` with ``s = sqrt(w * h)``, measurement noise
``(meas_std * s / quality)^2`` where ``quality`` in (0, 1] comes from the measurement step.

The filter predicts where to look, smooths jitter, gates implausible measurements by the
squared Mahalanobis distance of the innovation, and coasts (predict only) through short
occlusions. It is a thin wrapper over :class:`filterpy.kalman.KalmanFilter`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from filterpy.kalman import KalmanFilter

from tracker_annotate.tracking.params import KalmanParams

FloatArray = npt.NDArray[np.float64]


def xyxy_to_cxcywh(xyxy: npt.ArrayLike) -> FloatArray:
    a = np.asarray(xyxy, dtype=np.float64)
    return np.array(
        [(a[0] + a[2]) / 2.0, (a[1] + a[3]) / 2.0, a[2] - a[0], a[3] - a[1]], dtype=np.float64
    )


def cxcywh_to_xyxy(cxcywh: npt.ArrayLike) -> FloatArray:
    c = np.asarray(cxcywh, dtype=np.float64)
    return np.array(
        [c[0] - c[2] / 2.0, c[1] - c[3] / 2.0, c[0] + c[2] / 2.0, c[1] + c[3] / 2.0],
        dtype=np.float64,
    )


class BoxKalman:
    """Kalman filter for one box. ``predict()`` once per frame, then ``update()`` or not."""

    def __init__(self, xyxy: npt.ArrayLike, params: KalmanParams | None = None) -> None:
        self.params = params if params is not None else KalmanParams()
        kf = KalmanFilter(dim_x=8, dim_z=4)
        kf.F = np.eye(8)
        kf.F[:4, 4:] = np.eye(4)
        # Size velocity decays: a zoom continues briefly but a bias in the measured scale
        # cannot snowball into a box that grows forever.
        kf.F[6, 6] = kf.F[7, 7] = self.params.size_velocity_decay
        kf.H = np.zeros((4, 8))
        kf.H[:, :4] = np.eye(4)
        z = xyxy_to_cxcywh(xyxy)
        kf.x = np.concatenate([z, np.zeros(4)]).reshape(8, 1)
        s = self._scale(z)
        p = self.params
        kf.P = np.diag(
            np.array(
                [p.meas_std * s] * 2
                + [p.meas_std * s] * 2
                + [p.pos_std * 4 * s] * 2
                + [p.size_std * 4 * s] * 2
            )
            ** 2
        )
        self.kf = kf
        self.coasted = 0  # consecutive predicts without an accepted update

    @staticmethod
    def _scale(cxcywh: FloatArray) -> float:
        return float(np.sqrt(max(cxcywh[2], 1.0) * max(cxcywh[3], 1.0)))

    @property
    def cxcywh(self) -> FloatArray:
        return np.asarray(self.kf.x[:4, 0], dtype=np.float64).copy()

    @property
    def velocity(self) -> FloatArray:
        return np.asarray(self.kf.x[4:, 0], dtype=np.float64).copy()

    @property
    def xyxy(self) -> FloatArray:
        return cxcywh_to_xyxy(self.cxcywh)

    def predict(self) -> FloatArray:
        """Advance one frame; returns the predicted xyxy box."""
        p = self.params
        s = self._scale(self.cxcywh)
        q = np.array(
            [p.pos_std * s] * 2
            + [p.size_std * s] * 2
            + [p.vel_std * s] * 2
            + [p.size_std * 0.5 * s] * 2
        )
        self.kf.Q = np.diag(q**2)
        self.kf.predict()
        # Sizes stay positive; a shrinking velocity must not invert the box.
        min_size = 2.0
        x = self.kf.x
        for i in (2, 3):
            if x[i, 0] < min_size:
                x[i, 0] = min_size
                x[i + 4, 0] = 0.0
        self.coasted += 1
        return self.xyxy

    def _r(self, quality: float) -> FloatArray:
        s = self._scale(self.cxcywh)
        std = self.params.meas_std * s / max(quality, 0.05)
        return np.diag(np.full(4, std**2))

    def mahalanobis2(self, xyxy: npt.ArrayLike, quality: float = 1.0) -> float:
        """Squared Mahalanobis distance of a measurement from the current prediction."""
        z = xyxy_to_cxcywh(xyxy)
        kf = self.kf
        y = z - (kf.H @ kf.x)[:, 0]
        s_mat = kf.H @ kf.P @ kf.H.T + self._r(quality)
        return float(y @ np.linalg.solve(s_mat, y))

    def gate(self, xyxy: npt.ArrayLike, quality: float = 1.0) -> bool:
        """True when the measurement is plausible under the motion model."""
        return self.mahalanobis2(xyxy, quality) <= self.params.gate_chi2

    def update(self, xyxy: npt.ArrayLike, quality: float = 1.0) -> FloatArray:
        """Fuse a measurement of the given quality in (0, 1]; returns the posterior xyxy."""
        self.kf.R = self._r(quality)
        self.kf.update(xyxy_to_cxcywh(xyxy).reshape(4, 1))
        self.coasted = 0
        return self.xyxy

    def reset(self, xyxy: npt.ArrayLike) -> None:
        """Snap the position and size to a trusted box, keeping the velocity."""
        z = xyxy_to_cxcywh(xyxy)
        self.kf.x[:4, 0] = z
        self.coasted = 0
