"""The exact leave-one-out accuracy of the whole held-out protocol, fast (THEORY.md 13.6).

Leaving row i out changes everything the protocol computes from the training rows: the feature
standardisation, the class means (so the centre and the half-difference mu), and the within-class
scatter W. In the n-row standardised coordinates z, the pipeline fitted without row i scores a row
x with the direction G_i mu_{-i}, where

    G_i^{-1} = W - kappa r_i r_i^T + N gamma (I - diag lambda_i),   lambda_ij = z_ij^2 / (N - 1),

(kappa = n_c/(n_c - 1), r_i the row's residual from its class mean): re-standardising without the
row rescales feature j by sc_j/sc'_j, which is a per-feature ridge penalty in z. The rank-one term
and the features with a large lambda_ij are handled exactly by Woodbury on A = W + N gamma I; the
remaining small diagonal part by a fixed-point iteration that contracts by at most the largest
small lambda (THRESHOLD), run to round-off, so the margins agree with n brute-force refits to
~1e-12. A^{-1} comes from the thin SVD of the n x p residual matrix, so nothing p x p is formed
and the cost follows min(n, p): O(n p min(n, p)) for the SVD plus O(p min(n, p)) per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lu_factor, lu_solve
from scipy.special import ndtr

from rmtsynth.data.estimators import fit_standardisation
from rmtsynth.data.protocols import copy_groups
from rmtsynth.errors import RmtsynthError

# Features whose lambda_ij exceeds this are Woodbury columns; the others are iterated (contraction <= it).
THRESHOLD = 0.3
# A feature that becomes constant without row i has lambda_ij = 1 (no penalty, no data): its
# coefficient is 0 whatever its penalty, so it keeps the full one.
_CONSTANT_WITHOUT_ROW = 1e-9
_MAX_ITERATIONS = 400
# The rows-side solve is used up to this many rows, when the features outnumber them this many times.
DIRECT_MAX_ROWS = 128
DIRECT_MIN_RATIO = 4


@dataclass(frozen=True)
class LeaveOneOut:
    """The exact leave-one-out of the protocol on n training rows.

    ``margins[i]`` is y_i times the score of row i by the pipeline fitted on the other rows (up
    to a positive factor common to that pipeline); ``correct[i]`` whether row i is classified
    correctly (a score >= 0 predicts +1); ``accuracy`` their mean; ``gaussian_accuracy`` the
    class-weighted Gaussian accuracy sum_c (n_c/N) Phi(mean_c/sd_c) of the margins; ``residuals``
    the class-standardised margins (the score shape of THEORY.md 13.3, from the LOO).
    """

    margins: np.ndarray
    correct: np.ndarray
    accuracy: float
    gaussian_accuracy: float
    residuals: np.ndarray


@dataclass(frozen=True)
class _Inverse:
    """Applies A^{-1} = (W + N gamma I)^{-1} with W = V diag(omega) V^T (V: p x min(n, p))."""

    V: np.ndarray
    coef: np.ndarray  # 1/(omega + N gamma) - 1/(N gamma)
    ridge: float  # N gamma

    def __call__(self, b: np.ndarray) -> np.ndarray:
        coef = self.coef if b.ndim == 1 else self.coef[:, None]
        return b / self.ridge + self.V @ (coef * (self.V.T @ b))


def standardised_rows(X_raw: np.ndarray, y: np.ndarray):
    """z, the class means' half-difference mu, the centre and the residuals of the training rows."""
    loc, scale = fit_standardisation(X_raw)
    Z = (np.asarray(X_raw, dtype=float) - loc) / scale
    pos = y > 0
    mean_pos, mean_neg = Z[pos].mean(axis=0), Z[~pos].mean(axis=0)
    residuals = Z - np.where(pos[:, None], mean_pos, mean_neg)
    return Z, (mean_pos - mean_neg) / 2.0, (mean_pos + mean_neg) / 2.0, residuals


def loo_groups(X_raw: np.ndarray, y: np.ndarray) -> tuple[dict[float, int], np.ndarray, np.ndarray, np.ndarray]:
    """Rows per class, each row's copy group, the groups' first rows and their sizes; refuses rows a LOO cannot leave out."""
    counts = {c: int(np.count_nonzero(y == c)) for c in (-1.0, 1.0)}
    if min(counts.values()) < 2:
        raise RmtsynthError("The leave-one-out needs at least 2 training rows of each class.")
    groups = copy_groups(X_raw, y)
    heads, copies = np.unique(groups, return_counts=True)
    for head, k in zip(heads, copies):
        if counts[y[head]] - k < 1:
            raise RmtsynthError(f"Every training row of class {y[head]:+g} is a copy of one row, so leaving it out "
                                "leaves that class without rows.")
    return counts, groups, heads, copies


def exact_loo(X_raw: np.ndarray, y: np.ndarray, gamma: float) -> LeaveOneOut:
    """The exact leave-one-out of standardise-centre-ridge on the rows (X_raw, y), labels -1/+1.

    Each class needs at least 2 rows (leaving one out must leave a class mean). Copies of a row
    (same features and label) are left out together, so that no row is scored by a fit that saw
    it: k identical rows change the class scatter by a rank-one term too, kappa = k n_c/(n_c - k),
    and the standardisation by lambda_j = k z_j^2/(N - k).
    """
    y = np.asarray(y, dtype=float).reshape(-1)
    counts, groups, heads, copies = loo_groups(X_raw, y)
    Z, mu, centre, R = standardised_rows(X_raw, y)
    N = y.size
    ridge = N * float(gamma)
    # Few rows in many features: the per-feature penalties come close to 0 for features that one
    # row dominates, and the iteration below then contracts slowly; an n x n solve per row is exact.
    few_rows = N <= DIRECT_MAX_ROWS and R.shape[1] >= DIRECT_MIN_RATIO * N
    if not few_rows:
        _, sv, Vt = np.linalg.svd(R, full_matrices=False)
        inverse = _Inverse(V=Vt.T, coef=1.0 / (sv * sv + ridge) - 1.0 / ridge, ridge=ridge)
    margin_of_head = {}
    for i, k in zip(heads, copies):
        n_c = counts[y[i]]
        e = k / (2.0 * (n_c - k))
        r = R[i]
        mu_i = mu - y[i] * e * r
        x_i = Z[i] - centre + e * r
        lam = k * Z[i] ** 2 / (N - k)
        lam[1.0 - lam <= _CONSTANT_WITHOUT_ROW] = 0.0
        if few_rows:
            g = _solve_in_rows(R, groups == i, k * n_c / (n_c - k), ridge * (1.0 - lam), mu_i)
        else:
            g = _solve_left_out(inverse, r, k * n_c / (n_c - k), lam, mu_i)
        t1, t2 = float(mu_i @ g), float(x_i @ g)
        margin_of_head[i] = y[i] * (N - k) * t2 / (1.0 + (N - k) * t1)
    margins = np.array([margin_of_head[h] for h in groups])
    return _summary(margins, y)


def _solve_in_rows(R: np.ndarray, copies: np.ndarray, kappa: float, penalty: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x = (R^T S R + diag(penalty))^{-1} b by Woodbury in the n rows, O(n^2 p).

    S is 1 on every row but the k copies being left out, where it is 1 - kappa/k (negative), so
    that R^T S R = W - kappa r r^T.
    """
    weight = np.where(copies, 1.0 - kappa / np.count_nonzero(copies), 1.0)
    E = 1.0 / penalty
    ER = R * E
    core = np.diag(1.0 / weight) + ER @ R.T
    Eb = E * b
    return Eb - ER.T @ np.linalg.solve(core, R @ Eb)


def _solve_left_out(inverse: _Inverse, r: np.ndarray, kappa: float, lam: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x = (A - kappa r r^T - N gamma diag(lam))^{-1} b: Woodbury for r and the large lam, iteration for the rest."""
    big = np.flatnonzero(lam > THRESHOLD)
    small = np.where(lam > THRESHOLD, 0.0, lam) * inverse.ridge
    U = np.zeros((r.size, 1 + big.size))
    U[:, 0] = r
    U[big, 1 + np.arange(big.size)] = 1.0
    AU = inverse(U)
    core = np.diag(np.concatenate([[-1.0 / kappa], -1.0 / (inverse.ridge * lam[big])])) + U.T @ AU
    lu = lu_factor(core)

    def apply(v: np.ndarray) -> np.ndarray:
        Av = inverse(v)
        return Av - AU @ lu_solve(lu, np.concatenate([[r @ Av], Av[big]]))

    return solve_with_small_diagonal(apply, b, small, 1e-15, _MAX_ITERATIONS)


def solve_with_small_diagonal(apply, b: np.ndarray, small: np.ndarray, rtol: float, iterations: int) -> np.ndarray:
    """x = (A - diag(small))^{-1} b from ``apply`` = A^{-1}, by x <- A^{-1}(b + small x) to ``rtol``.

    The diagonal holds the penalties too small to factor in (features that one row dominates), so
    the iteration contracts; it stops after ``iterations`` at the last iterate.
    """
    x = apply(b)
    if not np.any(small):
        return x
    for _ in range(iterations):
        nxt = apply(b + small * x)
        if np.max(np.abs(nxt - x)) <= rtol * max(np.max(np.abs(nxt)), 1e-300):
            return nxt
        x = nxt
    return x


def _summary(margins: np.ndarray, y: np.ndarray) -> LeaveOneOut:
    """Accuracy, class-wise Gaussian accuracy and class-standardised residuals of the LOO margins."""
    correct = np.where(y * margins >= 0.0, 1.0, -1.0) == y
    residuals = np.empty(y.size)
    gaussian = 0.0
    for c in (-1.0, 1.0):
        sel = y == c
        values = margins[sel]
        sd = float(values.std())
        mean = float(values.mean())
        residuals[sel] = (values - mean) / (sd if sd > 0 else 1.0)
        ratio = mean / sd if sd > 0 else np.sign(mean) * np.inf
        gaussian += sel.mean() * float(ndtr(ratio))
    return LeaveOneOut(margins=margins, correct=correct, accuracy=float(np.mean(correct)),
                       gaussian_accuracy=gaussian, residuals=residuals)


__all__ = ["LeaveOneOut", "THRESHOLD", "exact_loo", "loo_groups", "solve_with_small_diagonal", "standardised_rows"]
