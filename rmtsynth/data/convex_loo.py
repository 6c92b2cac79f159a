"""The approximate leave-one-out of a convex learner under the theory's protocol (THEORY.md 13.6, 16).

The protocol is ridge's (:mod:`rmtsynth.data.loo`) with the loss changed: standardise the rows
with their own statistics, centre them at the midpoint of the class means, and fit
``w = argmin sum_i L(y_i w'x_i) + (N gamma / 2) ||w||^2`` with no intercept. Leaving row i out
changes all three steps, and each is kept, in the n-row standardised coordinates z:

* the centre moves by -e r_i (e = k/(2(n_c - k)) for a group of k copies), which shifts every
  other row's signed input by y_j e r_i, so its margin by y_j e (w'r_i);
* re-standardising without the row is a per-feature penalty N gamma (1 - lambda_ij),
  lambda_ij = k z_ij^2/(N - k) (0 for a feature that becomes constant: its weight is 0 either way);
* the row's own loss term leaves.

From the full fit w, one Newton step on the objective without the row gives its weights: the
gradient is exact at w (the shifted margins included), and the Hessian is the full one with the
row's curvature removed, the centre's shift added (rank two) and the penalty change, exactly
(Woodbury) for the features the row dominates (lambda > THRESHOLD) and by a contracting
iteration for the others; only the change of the other rows' curvature with their margins is
left out. The row's margin is y_i v'(x_i + e r_i). Cost O(N p (N + p)) and one Cholesky of p x p.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from rmtsynth.data.loo import (THRESHOLD, LeaveOneOut, _summary, loo_groups, solve_with_small_diagonal,
                               standardised_rows)

_CONSTANT_WITHOUT_ROW = 1e-9
_MAX_ITERATIONS = 200


def convex_loo(X_raw: np.ndarray, y: np.ndarray, gamma: float, learner: Any) -> LeaveOneOut:
    """The approximate leave-one-out of standardise-centre-``learner`` on the rows (X_raw, y), labels -1/+1.

    ``learner`` is a convex learner with ``margin_derivatives`` (L' and L'' of its loss) and ``fit``.
    """
    y = np.asarray(y, dtype=float).reshape(-1)
    counts, groups, heads, copies = loo_groups(X_raw, y)
    Z, _, centre, R = standardised_rows(X_raw, y)
    fit = _FullFit.build(Z - centre, y, float(gamma), learner)
    margin_of_head = {}
    for i, k in zip(heads, copies):
        margin_of_head[i] = fit.left_out_margin(int(i), int(k), groups == i, counts[y[i]], R[i], Z[i])
    return _summary(np.array([margin_of_head[h] for h in groups]), y)


class _FullFit:
    """The fit on every row, its derivatives and the Cholesky factor of its Hessian."""

    def __init__(self, X: np.ndarray, y: np.ndarray, gamma: float, learner: Any) -> None:
        N = y.size
        self.X, self.y, self.N, self.learner = X, y, N, learner
        self.penalty = N * gamma
        self.U = y[:, None] * X  # the signed inputs the loss sees
        self.w = np.asarray(learner.fit(X.T, y, float(N), gamma), dtype=float)
        self.t = self.U @ self.w
        _, self.curvature = learner.margin_derivatives(self.t)
        H = (self.U.T * self.curvature) @ self.U
        H[np.diag_indices_from(H)] += self.penalty
        self.factor = cho_factor(H)
        self.curved_signed = self.U.T @ (self.curvature * y)  # sum_j D_j y_j u_j
        self.total_curvature = float(self.curvature.sum())

    @classmethod
    def build(cls, X: np.ndarray, y: np.ndarray, gamma: float, learner: Any) -> "_FullFit":
        return cls(X, y, gamma, learner)

    def left_out_margin(self, i: int, k: int, members: np.ndarray, n_c: int, r: np.ndarray, z: np.ndarray) -> float:
        """y_i times the score of row i by one Newton step towards the fit without its k copies."""
        y, N = self.y, self.N
        e = k / (2.0 * (n_c - k))
        keep = ~members
        lam = k * z**2 / (N - k)
        lam[1.0 - lam <= _CONSTANT_WITHOUT_ROW] = 0.0
        # The other rows' margins after the centre's shift, and the gradient there (exact).
        shifted = self.t + y * e * float(self.w @ r)
        slope, _ = self.learner.margin_derivatives(shifted)
        slope = np.where(keep, slope, 0.0)
        gradient = self.U.T @ slope + e * r * float(y @ slope) + self.penalty * (1.0 - lam) * self.w
        u, d = self.U[i], float(self.curvature[i])
        b = self.curved_signed - k * d * y[i] * u
        s = self.total_curvature - k * d
        big = np.flatnonzero(lam > THRESHOLD)
        V = np.zeros((u.size, 3 + big.size))
        V[:, 0], V[:, 1], V[:, 2] = u, b, r
        V[big, 3 + np.arange(big.size)] = 1.0
        C = np.zeros((3 + big.size, 3 + big.size))
        C[0, 0] = -k * d
        C[1, 2] = C[2, 1] = e
        C[2, 2] = e * e * s
        C[3 + np.arange(big.size), 3 + np.arange(big.size)] = -self.penalty * lam[big]
        step = self._solve(V, C, gradient, np.where(lam > THRESHOLD, 0.0, lam) * self.penalty)
        v = self.w - step
        return float(y[i] * (v @ (self.X[i] + e * r)))

    def _solve(self, V: np.ndarray, C: np.ndarray, g: np.ndarray, small: np.ndarray) -> np.ndarray:
        """x = (H + V C V' - diag(small))^{-1} g: Woodbury for V C V', iteration for the small diagonal."""
        HV = cho_solve(self.factor, V)
        core = np.eye(C.shape[0]) + C @ (V.T @ HV)

        def apply(b: np.ndarray) -> np.ndarray:
            Hb = cho_solve(self.factor, b)
            return Hb - HV @ np.linalg.solve(core, C @ (V.T @ Hb))

        return solve_with_small_diagonal(apply, g, small, 1e-13, _MAX_ITERATIONS)


__all__ = ["convex_loo"]
