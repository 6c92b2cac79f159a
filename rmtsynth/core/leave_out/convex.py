"""Approximate leave-group-out of an L2-regularised smooth convex loss after ``StandardScaler``.

The pipeline minimises ``C sum_j L(y_j f_j) + ||w||^2 / 2`` with ``f = w'z + b`` (scikit-learn's
``LogisticRegression`` with an unpenalised intercept; ``LinearSVC``'s squared hinge, whose
intercept is a penalised feature of value ``intercept_scaling``). From the full fit theta, one
Newton step on the objective without a group G gives its rows' decision values

    f_{-G} = f_G - (I - K C D_G)^{-1} (X_G H^{-1} (r + e_G) - C K g_G),     K = X_G H^{-1} X_G',

with g_j = y_j L'(y_j f_j), D_j = L''(y_j f_j), H the full objective's Hessian and r its gradient
at theta (zero at the exact optimum; keeping it makes the step insensitive to the solver's
tolerance). Refitting the scaler without G multiplies weight j's penalty by c_j (see
:func:`~rmtsynth.core.leave_out.scaling.penalty_shrinkage`; the re-centring is absorbed by a free
intercept), which adds ``e_G = (c - 1) w`` to the gradient; its change of H is of second order
and left out, as is the re-centring of a penalised intercept. H^{-1} is applied through the
smaller of the feature and the row dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit

from rmtsynth.core.leave_out.scaling import penalty_shrinkage, scored_groups, singleton_shrinkage, standard_scaling


@dataclass(frozen=True)
class ConvexLoss:
    """A margin loss L(t), t = y f, by its first and second derivatives."""

    name: str
    derivatives: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _logistic(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = expit(-t)
    return -s, s * (1.0 - s)


def _squared_hinge(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    slack = np.maximum(1.0 - t, 0.0)
    return -2.0 * slack, 2.0 * (slack > 0)


LOSSES = {"logistic": ConvexLoss("logistic", _logistic), "squared_hinge": ConvexLoss("squared_hinge", _squared_hinge)}

# Fits (Z, y) -> (w, b) on the standardised rows; b = 0 without an intercept.
Fit = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float]]


@dataclass(frozen=True)
class _Curvature:
    """Applies H^{-1} of the full objective to the features' block through A = I + C F'DF."""

    F: np.ndarray
    C: float
    D: np.ndarray
    primal: object
    dual: object

    @classmethod
    def build(cls, F: np.ndarray, C: float, D: np.ndarray) -> "_Curvature":
        N, q = F.shape
        if q <= N:
            A = np.eye(q) + C * (F.T * D) @ F
            return cls(F, C, D, cho_factor(A), None)
        root = np.sqrt(C * D)
        G = root[:, None] * (F @ F.T) * root[None, :]
        return cls(F, C, D, None, cho_factor(np.eye(N) + G))

    def solve(self, b: np.ndarray) -> np.ndarray:
        """A^{-1} b for a q-vector or a q x k matrix."""
        if self.primal is not None:
            return cho_solve(self.primal, b)
        root = np.sqrt(self.C * self.D)
        inner = self.F @ b
        inner = root[:, None] * inner if inner.ndim == 2 else root * inner
        back = cho_solve(self.dual, inner)
        back = root[:, None] * back if back.ndim == 2 else root * back
        return b - self.F.T @ back


def convex_leave_out(X: np.ndarray, y: np.ndarray, loss: ConvexLoss, C: float, fit: Fit, groups: np.ndarray,
                     scored: np.ndarray, *, intercept: str = "free", intercept_scaling: float = 1.0) -> np.ndarray:
    """Approximate leave-group-out decision values of the scored rows (NaN elsewhere).

    ``intercept``: ``"free"`` (unpenalised), ``"penalised"`` (a feature of value
    ``intercept_scaling``, as liblinear fits it) or ``"none"``.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    scored = np.asarray(scored, dtype=bool)
    mean, scale = standard_scaling(X)
    Z = (X - mean) / scale
    w, b = fit(Z, y)
    F = np.column_stack([Z, np.full(y.size, intercept_scaling)]) if intercept == "penalised" else Z
    theta = np.append(w, b / intercept_scaling) if intercept == "penalised" else np.asarray(w, dtype=float)
    f = F @ theta + (b if intercept == "free" else 0.0)
    first, D = loss.derivatives(y * f)
    g = y * first
    curvature = _Curvature.build(F, float(C), D)
    gradient = C * F.T @ g + theta
    free = intercept == "free"
    out = np.full(y.size, np.nan)
    single, larger = scored_groups(groups, scored)
    rows_of_interest = np.concatenate([single] + larger).astype(np.int64)
    if rows_of_interest.size == 0:
        return out
    AF = curvature.solve(F[rows_of_interest].T)  # q x R
    rescaled = _rescaled_penalty_gradients(Z, w, single, larger, F.shape[1])  # q x R
    steps = curvature.solve(gradient[:, None] + rescaled)
    if free:
        a = C * F.T @ D
        Aa = curvature.solve(a)
        sigma = max(float(C * D.sum() - a @ Aa), 1e-300)
        q_rows = a @ AF
        steps_b = (float(C * g.sum()) - a @ steps) / sigma
        steps = steps - Aa[:, None] * steps_b
    else:
        q_rows, sigma, steps_b = np.zeros(rows_of_interest.size), np.inf, np.zeros(rows_of_interest.size)
    Hr = np.einsum("ij,ji->i", F[rows_of_interest], steps) + steps_b
    index = {int(r): j for j, r in enumerate(rows_of_interest)}

    def kernel(js: np.ndarray) -> np.ndarray:
        K = F[rows_of_interest[js]] @ AF[:, js]
        if free:
            K = K + np.outer(1.0 - q_rows[js], 1.0 - q_rows[js]) / sigma
        return K

    js = np.arange(single.size)
    h = np.einsum("ij,ji->i", F[single], AF[:, js])
    if free:
        h = h + (1.0 - q_rows[js]) ** 2 / sigma
    cd = C * D[single]
    out[single] = f[single] - (Hr[js] - C * h * g[single]) / (1.0 - h * cd)
    for rows in larger:
        js = np.asarray([index[int(r)] for r in rows])
        # every member of a group carries the group's own rescaled-penalty gradient
        K = kernel(js)
        moved = f[rows] - np.linalg.solve(np.eye(rows.size) - K * (C * D[rows])[None, :], Hr[js] - C * K @ g[rows])
        members = scored[rows]
        out[rows[members]] = moved[members]
    return out


def _rescaled_penalty_gradients(Z: np.ndarray, w: np.ndarray, single: np.ndarray, larger: list[np.ndarray],
                                columns: int) -> np.ndarray:
    """(c - 1) * w per row of interest (columns), c the penalty factors of its group's refitted scaler."""
    N, p = Z.shape
    out = np.zeros((columns, single.size + sum(r.size for r in larger)))
    out[:p, :single.size] = ((N / (N - 1.0)) * (1.0 - singleton_shrinkage(Z[single], N)) - 1.0).T * w[:, None]
    start = single.size
    for rows in larger:
        c = N / (N - rows.size) * (1.0 - penalty_shrinkage(Z[rows], N))
        out[:p, start:start + rows.size] = ((c - 1.0) * w)[:, None]
        start += rows.size
    return out
