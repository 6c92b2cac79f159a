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
``B = Z'Z + alpha' I``, applied from a Cholesky factor of the smaller Gram matrix. Rows alone in
their group (almost all) are solved together, as matrices, by conjugate gradients preconditioned
with the rank-one solve; a group of duplicates by Woodbury on its rank and its features with a
large lambda, and an iteration that contracts by at most the largest remaining lambda.
"""

from __future__ import annotations


import numpy as np
from scipy.linalg import cho_factor, cho_solve, lu_factor, lu_solve

from rmtsynth.core.leave_out.scaling import penalty_shrinkage, scored_groups, singleton_shrinkage, standard_scaling

# In a group's solve, features whose lambda exceeds this are Woodbury columns; the others are
# iterated (contraction <= it).
THRESHOLD = 0.3
_MAX_ITERATIONS = 200
# Relative change at which the iteration stops; below about 1e-13 round-off in the solves dominates.
_TOLERANCE = 1e-12
# Relative residual at which conjugate gradients stop.
_RESIDUAL = 1e-12


class _Scatter:
    """Applies (Z'Z + ridge I)^{-1} through a Cholesky factor of the smaller Gram matrix, one per ridge value."""

    def __init__(self, Z: np.ndarray) -> None:
        self.Z = Z
        self.primal = Z.shape[1] <= Z.shape[0]
        self.gram = Z.T @ Z if self.primal else Z @ Z.T
        self._factors: dict[float, tuple] = {}

    def product(self, b: np.ndarray, ridge: float) -> np.ndarray:
        """(Z'Z + ridge I) b."""
        scatter = self.gram @ b if self.primal else self.Z.T @ (self.Z @ b)
        return scatter + ridge * b

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
    _singletons(Z, y, float(alpha), spectrum, signal, single, fit_intercept, out)
    for rows in larger:
        _group(Z, y, float(alpha), spectrum, signal, rows, scored, fit_intercept, out)
    return out


def _singletons(Z, y, alpha, spectrum, signal, rows, fit_intercept, out) -> None:
    """Every row alone in its group at once, by conjugate gradients preconditioned with the rank-one solve.

    The system of row j is (S_j - alpha' diag(lambda_j)) v = b_j with S_j = B - kappa u_j u_j'. With
    S_j^{-1} (Sherman-Morrison on B's factor) as preconditioner the eigenvalues lie in
    [1 - max lambda_j, 1], 1 except for the few features the row dominates, so the iteration count
    follows the number of such features, however close to 1 their lambda is.
    """
    N = y.size
    if rows.size == 0:
        return
    lam = singleton_shrinkage(Z[rows], N).T  # p x k
    ridge = alpha * N / (N - 1.0)
    kappa = N / (N - 1.0)
    inverse = spectrum.inverse(ridge)
    U = Z[rows].T  # p x k
    BU = inverse(U)
    denominator = 1.0 - kappa * np.einsum("ij,ij->j", U, BU)
    ybar = (y.sum() - y[rows]) / (N - 1.0)
    rhs = signal[:, None] - U * y[rows] + U * ybar

    def precondition(b: np.ndarray) -> np.ndarray:
        Bb = inverse(b)
        return Bb + BU * (kappa * np.einsum("ij,ij->j", U, Bb) / denominator)

    def operator(x: np.ndarray) -> np.ndarray:
        return spectrum.product(x, ridge) - kappa * U * np.einsum("ij,ij->j", U, x) - ridge * lam * x

    v = _conjugate_gradients(operator, precondition, rhs)
    scores = np.einsum("ij,ij->j", v, U) * kappa
    out[rows] = scores + (ybar if fit_intercept else 0.0)


def _conjugate_gradients(operator, precondition, rhs: np.ndarray) -> np.ndarray:
    """Column-wise preconditioned conjugate gradients for SPD systems, to round-off."""
    v = precondition(rhs)
    r = rhs - operator(v)
    z = precondition(r)
    d = z.copy()
    rz = np.einsum("ij,ij->j", r, z)
    scale = np.linalg.norm(rhs, axis=0) + 1e-300
    for _ in range(_MAX_ITERATIONS):
        if np.all(np.linalg.norm(r, axis=0) <= _RESIDUAL * scale):
            break
        Ad = operator(d)
        curvature = np.einsum("ij,ij->j", d, Ad)
        step = np.where(curvature > 0, rz / np.where(curvature > 0, curvature, 1.0), 0.0)
        v += d * step
        r -= Ad * step
        z = precondition(r)
        rz_next = np.einsum("ij,ij->j", r, z)
        d = z + d * np.where(rz > 0, rz_next / np.where(rz > 0, rz, 1.0), 0.0)
        rz = rz_next
    return v


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
