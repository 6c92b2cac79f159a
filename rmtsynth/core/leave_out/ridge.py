"""Exact leave-group-out of ``StandardScaler`` + ridge with an unpenalised intercept.

The pipeline minimises ``sum_j (y_j - b - w'z_j)^2 + alpha ||w||^2`` on rows standardised with
the training rows' own mean and scale (scikit-learn's ``RidgeClassifier`` after
``StandardScaler``). In the coordinates z of the full fit (N rows, mean 0, scale 1), refitting
without a group G of k rows

* re-centres (absorbed by the intercept: the fit uses the remaining rows' centred scatter
  ``Z'Z - Z_G' (I + 11'/(N-k)) Z_G`` and signal ``Z'y - Z_G'y_G + s_G ybar``, s_G the group's sum),
* re-scales feature j by sigma_j / sigma'_j, which in z is the penalty
  ``alpha' (1 - lambda_j)`` with ``alpha' = alpha N/(N-k)`` and
  ``lambda_j = (sum_G z_j^2 + (sum_G z_j)^2/(N-k)) / N``.

So the left-out weights solve ``(B - U M U' - alpha' diag(lambda)) v = b`` with
``B = Z'Z + alpha' I``, applied from a Cholesky factor of the smaller Gram matrix: the group's
rank and the features with a large lambda by Woodbury, the remaining small diagonal by an
iteration that contracts by at most the largest small lambda. Rows alone in their group (almost
all) are solved together, as matrices.
"""

from __future__ import annotations


import numpy as np
from scipy.linalg import cho_factor, cho_solve, lu_factor, lu_solve

from rmtsynth.core.leave_out.scaling import penalty_shrinkage, scored_groups, singleton_shrinkage, standard_scaling

# Features whose lambda exceeds this are Woodbury columns; the others are iterated (contraction <= it).
THRESHOLD = 0.3
_MAX_ITERATIONS = 200
# Relative change at which the iteration stops; below about 1e-13 round-off in the solves dominates.
_TOLERANCE = 1e-12


class _Scatter:
    """Applies (Z'Z + ridge I)^{-1} through a Cholesky factor of the smaller Gram matrix, one per ridge value."""

    def __init__(self, Z: np.ndarray) -> None:
        self.Z = Z
        self.primal = Z.shape[1] <= Z.shape[0]
        self.gram = Z.T @ Z if self.primal else Z @ Z.T
        self._factors: dict[float, tuple] = {}

    def inverse(self, ridge: float):
        if ridge not in self._factors:
            self._factors[ridge] = cho_factor(self.gram + ridge * np.eye(self.gram.shape[0]))
        factor = self._factors[ridge]
        if self.primal:
            return lambda b: cho_solve(factor, b)
        Z = self.Z
        # (Z'Z + r I)^{-1} = (I - Z'(ZZ' + r I)^{-1} Z) / r
        return lambda b: (b - Z.T @ cho_solve(factor, Z @ b)) / ridge


def ridge_leave_out(X: np.ndarray, y: np.ndarray, alpha: float, groups: np.ndarray, scored: np.ndarray, *,
                    fit_intercept: bool = True) -> np.ndarray:
    """Decision values of the scored rows, each by the pipeline fitted without its group.

    ``X`` (N x p) raw rows, ``y`` labels -1/+1, ``groups`` one id per row, ``scored`` a boolean
    mask; returns an array of N values, NaN where not scored.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    scored = np.asarray(scored, dtype=bool)
    mean, scale = standard_scaling(X)
    Z = (X - mean) / scale
    spectrum = _Scatter(Z)
    signal = Z.T @ y
    out = np.full(y.size, np.nan)
    single, larger = scored_groups(groups, scored)
    fallback = _singletons(Z, y, float(alpha), spectrum, signal, single, fit_intercept, out)
    for rows in [np.array([i]) for i in fallback] + larger:
        _group(Z, y, float(alpha), spectrum, signal, rows, scored, fit_intercept, out)
    return out


def _singletons(Z, y, alpha, spectrum, signal, rows, fit_intercept, out) -> np.ndarray:
    """Every row alone in its group at once; returns the rows with a large lambda, left to the general path."""
    N = y.size
    if rows.size == 0:
        return rows
    lam = singleton_shrinkage(Z[rows], N)
    hard = lam.max(axis=1) > THRESHOLD
    hard_rows = rows[hard]
    rows, lam = rows[~hard], lam[~hard]
    if rows.size == 0:
        return hard_rows
    ridge = alpha * N / (N - 1.0)
    kappa = N / (N - 1.0)
    inverse = spectrum.inverse(ridge)
    U = Z[rows].T  # p x k
    BU = inverse(U)
    denominator = 1.0 - kappa * np.einsum("ij,ij->j", U, BU)
    ybar = (y.sum() - y[rows]) / (N - 1.0)
    rhs = signal[:, None] - U * y[rows] + U * ybar

    def solve(b: np.ndarray) -> np.ndarray:
        Bb = inverse(b)
        return Bb + BU * (kappa * np.einsum("ij,ij->j", U, Bb) / denominator)

    small = ridge * lam.T
    v = _iterate(solve, rhs, small)
    scores = np.einsum("ij,ij->j", v, U) * kappa
    out[rows] = scores + (ybar if fit_intercept else 0.0)
    return hard_rows


def _iterate(solve, rhs: np.ndarray, small: np.ndarray) -> np.ndarray:
    """v = solve(rhs + small * v) to round-off (a contraction when max small / ridge < 1)."""
    v = solve(rhs)
    if not np.any(small):
        return v
    previous = np.inf
    for _ in range(_MAX_ITERATIONS):
        nxt = solve(rhs + small * v)
        change = float(np.max(np.abs(nxt - v)))
        v = nxt
        # Converged, or stalled at round-off (a contraction's changes only shrink).
        if change <= _TOLERANCE * max(float(np.max(np.abs(nxt))), 1e-300) or change >= previous:
            break
        previous = change
    return v


def _group(Z, y, alpha, spectrum, signal, rows, scored, fit_intercept, out) -> None:
    """One group (or one row with a large lambda): Woodbury on its rank and its large-lambda features."""
    N, k = y.size, rows.size
    rest = N - k
    Zg = Z[rows]
    sum_g = Zg.sum(axis=0)
    lam = penalty_shrinkage(Zg, N)
    ridge = alpha * N / rest
    inverse = spectrum.inverse(ridge)
    big = np.flatnonzero(lam > THRESHOLD)
    W = np.zeros((Z.shape[1], k + big.size))
    W[:, :k] = Zg.T
    W[big, k + np.arange(big.size)] = 1.0
    D_inv = np.zeros((k + big.size, k + big.size))
    D_inv[:k, :k] = np.linalg.inv(np.eye(k) + np.ones((k, k)) / rest)
    D_inv[k + np.arange(big.size), k + np.arange(big.size)] = 1.0 / (ridge * lam[big])
    BW = inverse(W)
    lu = lu_factor(D_inv - W.T @ BW)

    def solve(b: np.ndarray) -> np.ndarray:
        Bb = inverse(b)
        return Bb + BW @ lu_solve(lu, W.T @ Bb)

    ybar = (y.sum() - y[rows].sum()) / rest
    rhs = signal - Zg.T @ y[rows] + sum_g * ybar
    small = np.where(lam > THRESHOLD, 0.0, lam) * ridge
    v = _iterate(solve, rhs, small)
    members = rows[scored[rows]]
    out[members] = (Z[members] + sum_g / rest) @ v + (ybar if fit_intercept else 0.0)
