"""The planner's held-out model with a synthetic pool: the LOO-anchored two-covariance theory.

With ``synthetic_data:`` the plan's mixes are predicted as the held-out predictor does
(:func:`rmtsynth.data.prediction.predict_heldout`, ``correction: loo``, THEORY.md 13.6): the real
rows' calibrated law (Ledoit-Wolf covariance, mean scaled by the fitted sqrt(s)) against the pool's
estimated law, in the dense two-covariance theory (the two covariances do not commute; their
commuting surrogate is off by up to 0.1 on Amazon dvd <- books), the score's ratio turned into an
accuracy by the LOO's score shape and anchored at the exact LOO of the real rows.

A dense point costs p x p work, and the planner's searches ask for thousands of points along
one-parameter families (the proportion, the precision through rho, the label noise, gamma). So a
family is evaluated at FAMILY_NODES nodes over the range asked for and interpolated (PCHIP in the
ratio, log-spaced in m and gamma); a single point of a family already evaluated (the searches'
refinement steps) is read off the same interpolant, any other single point is evaluated directly.
Points without synthetic rows (m = 0) need no pool and use the calibrated real-only theory.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from rmtsynth.core.two_covariance import evaluate_two_covariance, kept_rows_parameters
from rmtsynth.core.verifiers.rates import keep_rate, label_signal
from rmtsynth.data.calibrated import CalibratedTheory, pool_two_covariance_model, theory_ratio

FAMILY_NODES = 25
# The fields of a mix (Mix.values() order) and whether a family over each is spaced in log.
_FIELDS = ("n", "m", "label_noise", "rho", "phi", "gamma")
_LOG_FIELDS = {1, 5}


def _ratio(result) -> np.ndarray:
    sd = np.sqrt(np.maximum(np.asarray(result.variance, dtype=float), 0.0))
    mean = np.asarray(result.mean, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.sign(mean) * np.inf)


class PoolAccuracy:
    """The held-out accuracy of a mix with a synthetic pool, as a vectorised function of the mix."""

    def __init__(self, theory: CalibratedTheory, source: Any):
        self.theory = theory
        self.model = pool_two_covariance_model(theory, source)
        self.real = theory.real_spectrum()
        self.families: dict[tuple[int, tuple[float, ...]], tuple[np.ndarray, PchipInterpolator]] = {}

    def __call__(self, mix) -> np.ndarray:
        cols = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in mix.values()))
        shape = cols[0].shape
        flat = [c.ravel() for c in cols]
        ratio = np.empty(flat[0].size)
        real = flat[1] == 0
        if real.any():
            ratio[real] = theory_ratio(self.real, *(c[real] for c in flat))
        mixed = np.flatnonzero(~real)
        if mixed.size:
            ratio[mixed] = self._mixed([c[mixed] for c in flat])
        return self.theory.anchored(ratio).reshape(shape)

    def dense_ratio(self, n, m, label_noise, rho, phi, gamma) -> np.ndarray:
        """The two-covariance ratio at points given by arrays, with N = n + K kept rows (THEORY.md 13.4)."""
        alpha = np.asarray(keep_rate(label_noise, rho, phi), dtype=float)
        lam = np.asarray(label_signal(label_noise, rho, phi), dtype=float)
        correlation = np.where(alpha > 0, lam / np.where(alpha > 0, alpha, 1.0), 0.0)
        m_k, eps_k, rho_k, phi_k = kept_rows_parameters(alpha * np.asarray(m, dtype=float), correlation)
        from threadpoolctl import threadpool_limits

        # Each Newton round factorises one p x p matrix; BLAS threads contending for busy cores
        # make these small factorisations hundreds of times slower, one thread never does.
        with threadpool_limits(limits=1, user_api="blas"):
            got = evaluate_two_covariance(self.model, n, m_k, eps_k, rho_k, phi_k, gamma)
        return _ratio(got).reshape(-1)

    def _mixed(self, cols: list[np.ndarray]) -> np.ndarray:
        """Ratios of points with m > 0: by families where one field varies, else point by point."""
        varying = [j for j in range(len(_FIELDS)) if np.ptp(cols[j]) > 0]
        if len(varying) == 1:
            return self._on_family(varying[0], cols)
        if 1 in varying:
            # Several fields vary together with m (an ROC point per row of a grid): one m family
            # for each combination of the others.
            others = np.stack([cols[j] for j in range(len(_FIELDS)) if j != 1], axis=1)
            out = np.empty(cols[0].size)
            _, group = np.unique(others, axis=0, return_inverse=True)
            for g in np.unique(group):
                sel = group.reshape(-1) == g
                out[sel] = self._on_family(1, [c[sel] for c in cols])
            return out
        return np.array([self._point([c[k] for c in cols]) for k in range(cols[0].size)])

    def _point(self, values: list[float]) -> float:
        """One point: read off a family already evaluated that holds it, else evaluated directly."""
        for (j, fixed), (nodes, curve) in self.families.items():
            rest = tuple(v for i, v in enumerate(values) if i != j)
            t = _coordinate(j, values[j])
            if rest == fixed and nodes[0] <= t <= nodes[-1]:
                return float(curve(t))
        return float(self.dense_ratio(*values)[0])

    def _on_family(self, j: int, cols: list[np.ndarray]) -> np.ndarray:
        """Ratios along the family in field j (the others fixed), interpolated between its nodes."""
        fixed = tuple(float(cols[i][0]) for i in range(len(_FIELDS)) if i != j)
        t = _coordinate(j, cols[j])
        key = (j, fixed)
        known = self.families.get(key)
        if known is None or t.min() < known[0][0] or t.max() > known[0][-1]:
            lo, hi = float(t.min()), float(t.max())
            if known is not None:
                lo, hi = min(lo, known[0][0]), max(hi, known[0][-1])
            nodes = np.linspace(lo, hi, FAMILY_NODES)
            values = [np.full(nodes.size, v) for v in fixed]
            values.insert(j, np.exp(nodes) if j in _LOG_FIELDS else nodes)
            known = (nodes, PchipInterpolator(nodes, self.dense_ratio(*values)))
            self.families[key] = known
        return known[1](t)


def _coordinate(j: int, values) -> np.ndarray:
    """The interpolation coordinate of field j: log for m and gamma."""
    values = np.asarray(values, dtype=float)
    return np.log(values) if j in _LOG_FIELDS else values


__all__ = ["FAMILY_NODES", "PoolAccuracy"]
